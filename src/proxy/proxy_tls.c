/* proxy_tls: a socket-free TLS engine on memory BIOs: ciphertext in, plaintext out, and back. */
#include "proxy/proxy_tls.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "core/util.h"

static void set_err(struct proxy_tls *t, const char *what)
{
    unsigned long e = ERR_get_error();
    char ebuf[120] = "";
    if (e)
        ERR_error_string_n(e, ebuf, sizeof ebuf);
    if (t->ssl && what && strstr(what, "handshake")) {
        long vr = SSL_get_verify_result(t->ssl);
        if (vr != X509_V_OK) {
            snprintf(t->err, sizeof t->err, "%s: certificate verify failed: %s", what,
                     X509_verify_cert_error_string(vr));
            ERR_clear_error();
            return;
        }
    }
    snprintf(t->err, sizeof t->err, "%s%s%s", what, ebuf[0] ? ": " : "", ebuf);
    ERR_clear_error();
}

static struct proxy_tls *tls_new(SSL_CTX *ctx)
{
    struct proxy_tls *t = xcalloc(1, sizeof *t);
    t->ssl = SSL_new(ctx);
    if (!t->ssl)
        goto error;
    t->in = BIO_new(BIO_s_mem());
    t->out = BIO_new(BIO_s_mem());
    if (!t->in || !t->out)
        goto error;
    /* An empty memory BIO reports "retry" rather than EOF. */
    BIO_set_mem_eof_return(t->in, -1);
    BIO_set_mem_eof_return(t->out, -1);
    SSL_set_bio(t->ssl, t->in, t->out); /* SSL owns both BIOs now */
    return t;
error: /* only reached before SSL_set_bio, so the BIOs are still ours */
    BIO_free(t->in);
    BIO_free(t->out);
    SSL_free(t->ssl);
    free(t);
    ERR_clear_error();
    return NULL;
}

struct proxy_tls *proxy_tls_new_server(SSL_CTX *ctx, X509 *cert, EVP_PKEY *key)
{
    struct proxy_tls *t = tls_new(ctx);
    if (!t)
        return NULL;
    if (SSL_use_certificate(t->ssl, cert) != 1 || SSL_use_PrivateKey(t->ssl, key) != 1)
        goto error;
    SSL_set_accept_state(t->ssl);
    return t;
error:
    proxy_tls_free(t);
    ERR_clear_error();
    return NULL;
}

static void load_bundle_once(SSL_CTX *ctx);

static bool is_ip_literal(const char *host)
{
    unsigned char b[16];
    return inet_pton(AF_INET, host, b) == 1 || inet_pton(AF_INET6, host, b) == 1;
}

struct proxy_tls *proxy_tls_new_client(SSL_CTX *ctx, const char *host)
{
    load_bundle_once(ctx);
    struct proxy_tls *t = tls_new(ctx);
    if (!t)
        return NULL;
    X509_VERIFY_PARAM *vp = SSL_get0_param(t->ssl);
    if (is_ip_literal(host)) {
        if (X509_VERIFY_PARAM_set1_ip_asc(vp, host) != 1)
            goto error;
    } else {
        if (SSL_set_tlsext_host_name(t->ssl, host) != 1)
            goto error;
        X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        if (X509_VERIFY_PARAM_set1_host(vp, host, 0) != 1)
            goto error;
    }
    SSL_set_connect_state(t->ssl);
    return t;
error:
    proxy_tls_free(t);
    ERR_clear_error();
    return NULL;
}

void proxy_tls_free(struct proxy_tls *t)
{
    if (!t)
        return;
    SSL_free(t->ssl); /* frees the BIOs */
    free(t);
}

int proxy_tls_feed(struct proxy_tls *t, const void *data, size_t len)
{
    while (len > 0) {
        int chunk = len > (1u << 30) ? (1 << 30) : (int)len;
        int n = BIO_write(t->in, data, chunk);
        if (n <= 0)
            return -1;
        data = (const char *)data + n;
        len -= (size_t)n;
    }
    return 0;
}

static enum proxy_tls_result map(struct proxy_tls *t, int rc, const char *what)
{
    int e = SSL_get_error(t->ssl, rc);
    switch (e) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        return PROXY_TLS_WANT_IO;
    case SSL_ERROR_ZERO_RETURN:
        return PROXY_TLS_EOF;
    default:
        set_err(t, what);
        return PROXY_TLS_ERROR;
    }
}

enum proxy_tls_result proxy_tls_handshake(struct proxy_tls *t)
{
    if (t->done)
        return PROXY_TLS_OK;
    int rc = SSL_do_handshake(t->ssl);
    if (rc == 1) {
        t->done = true;
        return PROXY_TLS_OK;
    }
    return map(t, rc, "TLS handshake");
}

enum proxy_tls_result proxy_tls_read(struct proxy_tls *t, void *buf, size_t cap, size_t *n)
{
    *n = 0;
    int want = cap > (1u << 30) ? (1 << 30) : (int)cap;
    int rc = SSL_read(t->ssl, buf, want);
    if (rc > 0) {
        *n = (size_t)rc;
        return PROXY_TLS_OK;
    }
    return map(t, rc, "TLS read");
}

bool proxy_tls_readable(struct proxy_tls *t)
{
    return SSL_has_pending(t->ssl) || BIO_ctrl_pending(t->in) > 0;
}

enum proxy_tls_result proxy_tls_write(struct proxy_tls *t, const void *data, size_t len)
{
    while (len > 0) {
        int chunk = len > (1u << 30) ? (1 << 30) : (int)len;
        int rc = SSL_write(t->ssl, data, chunk);
        if (rc <= 0)
            return map(t, rc, "TLS write");
        data = (const char *)data + rc;
        len -= (size_t)rc;
    }
    return PROXY_TLS_OK;
}

void proxy_tls_shutdown(struct proxy_tls *t)
{
    if (t->done)
        SSL_shutdown(t->ssl);
    ERR_clear_error();
}

size_t proxy_tls_pending(struct proxy_tls *t)
{
    return BIO_ctrl_pending(t->out);
}

size_t proxy_tls_drain(struct proxy_tls *t, void *buf, size_t cap)
{
    int want = cap > (1u << 30) ? (1 << 30) : (int)cap;
    int n = BIO_read(t->out, buf, want);
    return n > 0 ? (size_t)n : 0;
}

const char *proxy_tls_sni(struct proxy_tls *t)
{
    return SSL_get_servername(t->ssl, TLSEXT_NAMETYPE_host_name);
}

void proxy_tls_alpn(struct proxy_tls *t, char *out, size_t cap)
{
    const unsigned char *p = NULL;
    unsigned int len = 0;
    SSL_get0_alpn_selected(t->ssl, &p, &len);
    if (!p || len >= cap)
        len = 0;
    if (len)
        memcpy(out, p, len);
    out[len] = 0;
}

const char *proxy_tls_error(struct proxy_tls *t)
{
    return t->err[0] ? t->err : "TLS error";
}

/* ---- ClientHello peeking --------------------------------------------- */

struct peek_state {
    char *out;
    size_t cap;
    int found; /* 1 when the ClientHello was seen */
};

/* Runs once the whole ClientHello is in: read the server_name extension
 * (RFC 6066: list length, then type/length/name entries) and stop there. */
static int on_client_hello(SSL *ssl, int *al, void *arg)
{
    struct peek_state *ps = arg;
    const unsigned char *p;
    size_t len;
    ps->found = 1;
    ps->out[0] = 0;
    if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &len) && len >= 2) {
        size_t list = ((size_t)p[0] << 8) | p[1];
        const unsigned char *q = p + 2, *end = p + 2 + (list < len - 2 ? list : len - 2);
        while (q + 3 <= end) {
            size_t n = ((size_t)q[1] << 8) | q[2];
            if (q + 3 + n > end)
                break;
            if (q[0] == 0 && n < ps->cap && !memchr(q + 3, 0, n)) {
                memcpy(ps->out, q + 3, n);
                ps->out[n] = 0;
                break;
            }
            q += 3 + n;
        }
    }
    return SSL_CLIENT_HELLO_RETRY; /* suspend: we only wanted to look */
}

int proxy_tls_peek_sni(const void *data, size_t len, char *out, size_t cap)
{
    int result = -1;
    struct peek_state ps = {out, cap, 0};
    if (cap == 0)
        return -1;
    out[0] = 0;
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx)
        goto done;
    SSL_CTX_set_client_hello_cb(ctx, on_client_hello, &ps);
    struct proxy_tls *t = tls_new(ctx);
    if (!t)
        goto done;
    SSL_set_accept_state(t->ssl);
    proxy_tls_feed(t, data, len);
    int rc = SSL_do_handshake(t->ssl);
    int e = SSL_get_error(t->ssl, rc);
    if (ps.found)
        result = 1;
    else if (e == SSL_ERROR_WANT_READ)
        result = 0;
    proxy_tls_free(t);
done:
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return result;
}

/* ---- contexts -------------------------------------------------------- */

/* Offer only http/1.1: this engine speaks HTTP/1.1 alone. A client that
 * offers no http/1.1 gets no ALPN answer and may still try HTTP/1.1. */
static int on_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                          const unsigned char *in, unsigned int inlen, void *arg)
{
    for (unsigned int i = 0; i < inlen;) {
        unsigned int n = in[i];
        if (i + 1 + n > inlen)
            break;
        if (n == 8 && memcmp(in + i + 1, "http/1.1", 8) == 0) {
            *out = in + i + 1;
            *outlen = (unsigned char)n;
            return SSL_TLSEXT_ERR_OK;
        }
        i += 1 + n;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

SSL_CTX *proxy_tls_server_ctx(const char **err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        *err = "SSL_CTX_new failed";
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_alpn_select_cb(ctx, on_alpn_select, NULL);
    return ctx;
}

/* Does DIR hold an OpenSSL hashed certificate directory (HASH.0 entries)? */
static bool hashed_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return false;
    bool found = false;
    struct dirent *de;
    while (!found && (de = readdir(d))) {
        size_t n = strlen(de->d_name);
        found = n == 10 && de->d_name[8] == '.' && strspn(de->d_name, "0123456789abcdef") == 8;
    }
    closedir(d);
    return found;
}

/* The system trust store. The bundle file is parsed whole (~1 MiB of
 * roots per config, most never used), so it is loaded at the first upstream
 * handshake rather than at start; the hashed directory is looked up lazily
 * by OpenSSL itself, one root when a chain needs it. The bundle is used when
 * SSL_CERT_FILE names one (as OpenSSL's default paths do) or when there is
 * no hashed directory. An idle hop thus holds no roots. */
static int bundle_idx = -1; /* SSL_CTX ex-data: the bundle is still to load */

static int load_system_trust(SSL_CTX *ctx)
{
    const char *dir_env = getenv(X509_get_default_cert_dir_env());
    const char *file_env = getenv(X509_get_default_cert_file_env());
    bool use_dir = (dir_env && *dir_env) || hashed_dir(X509_get_default_cert_dir());
    if (use_dir && SSL_CTX_set_default_verify_dir(ctx) != 1)
        return -1;
    if ((file_env && *file_env) || !use_dir) {
        if (bundle_idx < 0)
            bundle_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
        if (bundle_idx < 0 || SSL_CTX_set_ex_data(ctx, bundle_idx, ctx) != 1)
            return -1;
    }
    return 0;
}

static void load_bundle_once(SSL_CTX *ctx)
{
    if (bundle_idx < 0 || !SSL_CTX_get_ex_data(ctx, bundle_idx))
        return;
    SSL_CTX_set_ex_data(ctx, bundle_idx, NULL);
    /* A missing bundle is not an error, as with the default paths. */
    SSL_CTX_set_default_verify_file(ctx);
    ERR_clear_error();
}

SSL_CTX *proxy_tls_client_ctx(const char *ca_file, char *err, size_t errcap)
{
    static const unsigned char alpn[] = "\x08http/1.1";
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        snprintf(err, errcap, "SSL_CTX_new failed");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (load_system_trust(ctx) != 0) {
        snprintf(err, errcap, "cannot load the system trust store");
        goto error;
    }
    if (ca_file && SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
        snprintf(err, errcap, "cannot load upstream.ca_file %s", ca_file);
        goto error;
    }
    SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn - 1);
    return ctx;
error:
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return NULL;
}
