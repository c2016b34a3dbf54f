/* proxy_ca: the hop's certificate authority: create or load it, mint cached per-host leaves. */
#include "proxy/proxy_ca.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "core/util.h"

static EVP_PKEY *new_p256(void)
{
    return EVP_EC_gen("P-256");
}

static int set_serial(X509 *x)
{
    unsigned char r[16];
    if (RAND_bytes(r, sizeof r) != 1)
        return -1;
    r[0] &= 0x7f; /* positive */
    BIGNUM *bn = BN_bin2bn(r, sizeof r, NULL);
    if (!bn)
        return -1;
    int ok = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
    BN_free(bn);
    return ok ? 0 : -1;
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    if (!ext)
        return -1;
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok ? 0 : -1;
}

static X509 *make_ca_cert(EVP_PKEY *key)
{
    X509 *x = X509_new();
    if (!x)
        return NULL;
    char host[64] = "localhost";
    gethostname(host, sizeof host - 1);
    char cn[128];
    snprintf(cn, sizeof cn, "bottle proxy CA (%s)", host);
    X509_NAME *name = X509_get_subject_name(x);
    if (X509_set_version(x, 2) != 1 || set_serial(x) != 0 ||
        !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 24 * 3600) ||
        X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"bottle", -1, -1,
                                   0) != 1 ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
                                   0) != 1 ||
        X509_set_issuer_name(x, name) != 1 || X509_set_pubkey(x, key) != 1 ||
        add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") != 0 ||
        add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") != 0 ||
        add_ext(x, x, NID_subject_key_identifier, "hash") != 0 ||
        X509_sign(x, key, EVP_sha256()) == 0) {
        X509_free(x);
        return NULL;
    }
    return x;
}

/* Write PEM text atomically: a temp file with MODE, then rename. */
static int write_pem(const char *path, unsigned mode, X509 *cert, EVP_PKEY *key)
{
    char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        free(tmp);
        return -1;
    }
    FILE *f = fdopen(fd, "w");
    int ok = f != NULL;
    if (ok && cert)
        ok = PEM_write_X509(f, cert) == 1;
    if (ok && key)
        ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) == 1;
    if (f) {
        if (fclose(f) != 0)
            ok = 0;
    } else {
        close(fd);
    }
    if (ok && rename(tmp, path) != 0)
        ok = 0;
    if (!ok)
        unlink(tmp);
    free(tmp);
    return ok ? 0 : -1;
}

int proxy_ca_init(struct proxy_ca *ca, const char *dir, char *err, size_t errcap)
{
    memset(ca, 0, sizeof *ca);
    char *cert_path = xasprintf("%s/ca.pem", dir);
    char *key_path = xasprintf("%s/ca-key.pem", dir);
    FILE *f = NULL;
    int rc = mkdir_p(dir, 0700);
    if (rc != 0) {
        snprintf(err, errcap, "cannot create %s: %s", dir, strerror(-rc));
        goto error;
    }
    bool have_cert = access(cert_path, F_OK) == 0, have_key = access(key_path, F_OK) == 0;
    if (have_cert != have_key) {
        snprintf(err, errcap, "%s holds only one of ca.pem and ca-key.pem; refusing to replace it",
                 dir);
        goto error;
    }
    if (!have_cert) {
        ca->key = new_p256();
        ca->cert = ca->key ? make_ca_cert(ca->key) : NULL;
        if (!ca->cert) {
            snprintf(err, errcap, "cannot create a CA certificate");
            goto error;
        }
        if (write_pem(key_path, 0600, NULL, ca->key) != 0 ||
            write_pem(cert_path, 0644, ca->cert, NULL) != 0) {
            snprintf(err, errcap, "cannot write the CA into %s: %s", dir, strerror(errno));
            goto error;
        }
    } else {
        struct stat st;
        if (stat(key_path, &st) == 0 && (st.st_mode & 077)) {
            snprintf(err, errcap, "%s is readable by others (mode %03o); chmod 600 it", key_path,
                     st.st_mode & 0777);
            goto error;
        }
        f = fopen(cert_path, "r");
        ca->cert = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
        if (f)
            fclose(f);
        f = fopen(key_path, "r");
        ca->key = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
        if (f)
            fclose(f);
        f = NULL;
        if (!ca->cert || !ca->key) {
            snprintf(err, errcap, "cannot read the CA from %s", dir);
            goto error;
        }
        if (X509_check_private_key(ca->cert, ca->key) != 1) {
            snprintf(err, errcap, "%s does not match %s", key_path, cert_path);
            goto error;
        }
    }
    ca->leaf_key = new_p256();
    if (!ca->leaf_key) {
        snprintf(err, errcap, "cannot create the leaf key");
        goto error;
    }
    free(cert_path);
    free(key_path);
    return 0;
error:
    free(cert_path);
    free(key_path);
    proxy_ca_free(ca);
    ERR_clear_error();
    return -1;
}

void proxy_ca_free(struct proxy_ca *ca)
{
    for (size_t i = 0; i < ca->ncache; i++) {
        free(ca->cache[i].host);
        X509_free(ca->cache[i].cert);
    }
    X509_free(ca->cert);
    EVP_PKEY_free(ca->key);
    EVP_PKEY_free(ca->leaf_key);
    memset(ca, 0, sizeof *ca);
}

void proxy_ca_fingerprint(const struct proxy_ca *ca, char *out, size_t cap)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    out[0] = 0;
    if (X509_digest(ca->cert, EVP_sha256(), md, &n) != 1)
        return;
    size_t o = 0;
    for (unsigned int i = 0; i < n && o + 4 <= cap; i++)
        o += (size_t)snprintf(out + o, cap - o, i ? ":%02X" : "%02X", md[i]);
}

static bool is_ip(const char *host)
{
    unsigned char b[16];
    return inet_pton(AF_INET, host, b) == 1 || inet_pton(AF_INET6, host, b) == 1;
}

X509 *proxy_ca_mint(const struct proxy_ca *ca, const char *host)
{
    if (!host[0] || strlen(host) > 253 || strpbrk(host, ",\r\n\"\\ "))
        return NULL; /* the SAN string below must stay one well-formed value */
    X509 *x = X509_new();
    if (!x)
        return NULL;
    char *san = xasprintf("%s:%s", is_ip(host) ? "IP" : "DNS", host);
    X509_NAME *name = X509_get_subject_name(x);
    const char *cn = strlen(host) <= 64 ? host : "bottle-leaf";
    int ok = X509_set_version(x, 2) == 1 && set_serial(x) == 0 &&
             X509_gmtime_adj(X509_getm_notBefore(x), -3600) &&
             X509_gmtime_adj(X509_getm_notAfter(x), 397L * 24 * 3600) &&
             X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
                                        0) == 1 &&
             X509_set_issuer_name(x, X509_get_subject_name(ca->cert)) == 1 &&
             X509_set_pubkey(x, ca->leaf_key) == 1 &&
             add_ext(x, ca->cert, NID_basic_constraints, "critical,CA:FALSE") == 0 &&
             add_ext(x, ca->cert, NID_key_usage, "critical,digitalSignature") == 0 &&
             add_ext(x, ca->cert, NID_ext_key_usage, "serverAuth") == 0 &&
             add_ext(x, ca->cert, NID_subject_alt_name, san) == 0 &&
             add_ext(x, ca->cert, NID_authority_key_identifier, "keyid:always") == 0 &&
             X509_sign(x, ca->key, EVP_sha256()) != 0;
    free(san);
    if (!ok) {
        X509_free(x);
        ERR_clear_error();
        return NULL;
    }
    return x;
}

X509 *proxy_ca_leaf(struct proxy_ca *ca, const char *host)
{
    for (size_t i = 0; i < ca->ncache; i++)
        if (strcasecmp(ca->cache[i].host, host) == 0)
            return ca->cache[i].cert;
    X509 *x = proxy_ca_mint(ca, host);
    if (!x)
        return NULL;
    size_t slot;
    if (ca->ncache < PROXY_CA_CACHE_MAX) {
        slot = ca->ncache++;
    } else {
        /* Full: replace round-robin. A connection using the old leaf holds
         * its own reference through its SSL, so freeing here is safe. */
        slot = ca->next_evict;
        ca->next_evict = (ca->next_evict + 1) % PROXY_CA_CACHE_MAX;
        free(ca->cache[slot].host);
        X509_free(ca->cache[slot].cert);
    }
    ca->cache[slot].host = xstrdup(host);
    ca->cache[slot].cert = x;
    return x;
}
