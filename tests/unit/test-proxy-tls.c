/* test-proxy-tls: TLS engines pumped in memory, CA and leaves, SNI peeking. */
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "core/util.h"
#include "proxy/proxy_ca.h"
#include "proxy/proxy_tls.h"
#include "test.h"

static char dir[] = "/tmp/test-proxy-tls-XXXXXX";

static void ca_setup(struct proxy_ca *ca)
{
    char err[256];
    CHECK(mkdtemp(dir) != NULL);
    char *d = xasprintf("%s/ca", dir);
    if (proxy_ca_init(ca, d, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        CHECK(0);
    }
    free(d);
}

/* Move ciphertext from A to B; returns bytes moved. */
static size_t pump(struct proxy_tls *a, struct proxy_tls *b)
{
    char buf[4096];
    size_t moved = 0, n;
    while ((n = proxy_tls_drain(a, buf, sizeof buf)) > 0) {
        CHECK(proxy_tls_feed(b, buf, n) == 0);
        moved += n;
    }
    return moved;
}

/* Handshake a client for HOST against a server presenting the CA's leaf for LEAF_HOST. */
static int handshake(struct proxy_ca *ca, const char *ca_file, const char *host,
                     const char *leaf_host, struct proxy_tls **cs, struct proxy_tls **ss)
{
    const char *e = NULL;
    char err[256];
    SSL_CTX *sctx = proxy_tls_server_ctx(&e);
    SSL_CTX *cctx = proxy_tls_client_ctx(ca_file, err, sizeof err);
    CHECK(sctx && cctx);
    X509 *leaf = proxy_ca_leaf(ca, leaf_host);
    CHECK(leaf != NULL);
    struct proxy_tls *s = proxy_tls_new_server(sctx, leaf, ca->leaf_key);
    struct proxy_tls *c = proxy_tls_new_client(cctx, host);
    CHECK(s && c);
    SSL_CTX_free(sctx); /* the engines hold their own references */
    SSL_CTX_free(cctx);
    enum proxy_tls_result rc = PROXY_TLS_WANT_IO, rs = PROXY_TLS_WANT_IO;
    for (int i = 0; i < 20 && (rc != PROXY_TLS_OK || rs != PROXY_TLS_OK); i++) {
        rc = proxy_tls_handshake(c);
        if (rc == PROXY_TLS_ERROR)
            break;
        pump(c, s);
        rs = proxy_tls_handshake(s);
        if (rs == PROXY_TLS_ERROR)
            break;
        pump(s, c);
    }
    *cs = c;
    *ss = s;
    return rc == PROXY_TLS_OK && rs == PROXY_TLS_OK ? 0 : -1;
}

static char *ca_path(void)
{
    return xasprintf("%s/ca/ca.pem", dir);
}

static void engines_talk(void)
{
    struct proxy_ca ca;
    ca_setup(&ca);
    char *cap = ca_path();
    struct proxy_tls *c, *s;
    CHECK(handshake(&ca, cap, "api.example.test", "api.example.test", &c, &s) == 0);
    CHECK_STR(proxy_tls_sni(s), "api.example.test");
    char alpn[32];
    proxy_tls_alpn(c, alpn, sizeof alpn);
    CHECK_STR(alpn, "http/1.1");

    /* 1 MiB across, in both directions, through the memory BIOs. */
    size_t total = 1 << 20;
    char *big = xmalloc(total), *got = xmalloc(total);
    for (size_t i = 0; i < total; i++)
        big[i] = (char)(i * 7);
    CHECK(proxy_tls_write(c, big, total) == PROXY_TLS_OK);
    pump(c, s);
    size_t have = 0, n;
    while (have < total && proxy_tls_read(s, got + have, total - have, &n) == PROXY_TLS_OK)
        have += n;
    CHECK_INT(have, total);
    CHECK(memcmp(big, got, total) == 0);
    CHECK(proxy_tls_write(s, "pong", 4) == PROXY_TLS_OK);
    pump(s, c);
    char small[8];
    CHECK(proxy_tls_read(c, small, sizeof small, &n) == PROXY_TLS_OK);
    CHECK_INT(n, 4);
    CHECK(memcmp(small, "pong", 4) == 0);
    /* Nothing more: want-io, not an error. */
    CHECK(proxy_tls_read(c, small, sizeof small, &n) == PROXY_TLS_WANT_IO);
    /* close_notify reads as EOF. */
    proxy_tls_shutdown(s);
    pump(s, c);
    CHECK(proxy_tls_read(c, small, sizeof small, &n) == PROXY_TLS_EOF);
    proxy_tls_free(c);
    proxy_tls_free(s);
    free(big);
    free(got);
    free(cap);
    proxy_ca_free(&ca);
}

static void wrong_host_fails(void)
{
    struct proxy_ca ca;
    ca_setup(&ca);
    char *cap = ca_path();
    struct proxy_tls *c, *s;
    CHECK(handshake(&ca, cap, "api.example.test", "evil.example.test", &c, &s) != 0);
    CHECK(strstr(proxy_tls_error(c), "verify") != NULL);
    proxy_tls_free(c);
    proxy_tls_free(s);
    /* And a client that does not trust the CA fails too. */
    CHECK(handshake(&ca, NULL, "api.example.test", "api.example.test", &c, &s) != 0);
    proxy_tls_free(c);
    proxy_tls_free(s);
    free(cap);
    proxy_ca_free(&ca);
}

static void ip_leaf(void)
{
    struct proxy_ca ca;
    ca_setup(&ca);
    char *cap = ca_path();
    struct proxy_tls *c, *s;
    CHECK(handshake(&ca, cap, "127.0.0.1", "127.0.0.1", &c, &s) == 0);
    CHECK(proxy_tls_sni(s) == NULL); /* no SNI for IP literals (RFC 6066) */
    proxy_tls_free(c);
    proxy_tls_free(s);
    CHECK(handshake(&ca, cap, "::1", "::1", &c, &s) == 0);
    proxy_tls_free(c);
    proxy_tls_free(s);
    free(cap);
    proxy_ca_free(&ca);
}

static void leaf_shape(void)
{
    struct proxy_ca ca;
    ca_setup(&ca);
    X509 *a = proxy_ca_leaf(&ca, "api.example.test");
    CHECK(a == proxy_ca_leaf(&ca, "API.example.test")); /* cached, case-insensitive */
    EVP_PKEY *k = X509_get0_pubkey(a);
    CHECK(EVP_PKEY_is_a(k, "EC"));
    char curve[64];
    size_t len = 0;
    CHECK(EVP_PKEY_get_utf8_string_param(k, "group", curve, sizeof curve, &len) == 1);
    CHECK_STR(curve, "prime256v1");
    CHECK(X509_check_host(a, "api.example.test", 0, 0, NULL) == 1);
    CHECK(X509_check_host(a, "other.example.test", 0, 0, NULL) != 1);
    CHECK(X509_verify(a, X509_get0_pubkey(ca.cert)) == 1);
    CHECK(proxy_ca_mint(&ca, "bad,host") == NULL);
    CHECK(proxy_ca_mint(&ca, "") == NULL);
    /* The cache is bounded. */
    for (int i = 0; i < PROXY_CA_CACHE_MAX + 10; i++) {
        char h[64];
        snprintf(h, sizeof h, "h%d.example.test", i);
        CHECK(proxy_ca_leaf(&ca, h) != NULL);
    }
    CHECK_INT(ca.ncache, PROXY_CA_CACHE_MAX);
    char fp[128];
    proxy_ca_fingerprint(&ca, fp, sizeof fp);
    CHECK_INT(strlen(fp), 95);
    proxy_ca_free(&ca);
    /* Loading again gives the same CA. */
    char err[256];
    char *d = xasprintf("%s/ca", dir);
    CHECK(proxy_ca_init(&ca, d, err, sizeof err) == 0);
    char fp2[128];
    proxy_ca_fingerprint(&ca, fp2, sizeof fp2);
    CHECK_STR(fp, fp2);
    proxy_ca_free(&ca);
    free(d);
}

static void peek_sni(void)
{
    char err[256], sni[256];
    SSL_CTX *cctx = proxy_tls_client_ctx(NULL, err, sizeof err);
    struct proxy_tls *c = proxy_tls_new_client(cctx, "pass.example.test");
    proxy_tls_handshake(c);
    char hello[4096];
    size_t n = proxy_tls_drain(c, hello, sizeof hello);
    CHECK(n > 50);
    CHECK_INT(proxy_tls_peek_sni(hello, n, sni, sizeof sni), 1);
    CHECK_STR(sni, "pass.example.test");
    CHECK_INT(proxy_tls_peek_sni(hello, n / 2, sni, sizeof sni), 0); /* need more */
    CHECK_INT(proxy_tls_peek_sni("GET / HTTP/1.1\r\n\r\n", 18, sni, sizeof sni), -1);
    proxy_tls_free(c);
    /* No SNI (an IP literal): found, empty. */
    c = proxy_tls_new_client(cctx, "127.0.0.1");
    proxy_tls_handshake(c);
    n = proxy_tls_drain(c, hello, sizeof hello);
    CHECK_INT(proxy_tls_peek_sni(hello, n, sni, sizeof sni), 1);
    CHECK_STR(sni, "");
    proxy_tls_free(c);
    SSL_CTX_free(cctx);
}

static void garbage_is_error(void)
{
    const char *e;
    struct proxy_ca ca;
    ca_setup(&ca);
    SSL_CTX *sctx = proxy_tls_server_ctx(&e);
    struct proxy_tls *s = proxy_tls_new_server(sctx, proxy_ca_leaf(&ca, "x.test"), ca.leaf_key);
    CHECK(proxy_tls_feed(s, "\x16\x03\x01\x00\x05garbagegarbage", 19) == 0);
    CHECK(proxy_tls_handshake(s) == PROXY_TLS_ERROR);
    proxy_tls_free(s);
    SSL_CTX_free(sctx);
    proxy_ca_free(&ca);
}

TEST_MAIN(T(engines_talk), T(wrong_host_fails), T(ip_leaf), T(leaf_shape), T(peek_sni),
          T(garbage_is_error))
