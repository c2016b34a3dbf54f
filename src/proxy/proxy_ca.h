/* proxy_ca: the hop's certificate authority: create or load it, mint cached per-host leaves. */
#ifndef BOTTLE_PROXY_CA_H
#define BOTTLE_PROXY_CA_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* How many minted leaves are kept; past that the oldest is dropped. */
#define PROXY_CA_CACHE_MAX 512

struct proxy_ca_leaf {
    char *host;
    X509 *cert;
};

struct proxy_ca {
    X509 *cert;
    EVP_PKEY *key;
    EVP_PKEY *leaf_key; /* one P-256 key shared by every leaf: minting stays cheap */
    struct proxy_ca_leaf cache[PROXY_CA_CACHE_MAX];
    size_t ncache;
    size_t next_evict;
};

/* Load DIR/ca.pem and DIR/ca-key.pem, creating them (key 0600, DIR 0700)
 * when missing. Returns 0, or -1 with a message in ERR. */
int proxy_ca_init(struct proxy_ca *ca, const char *dir, char *err, size_t errcap);
void proxy_ca_free(struct proxy_ca *ca);
/* "AA:BB:..." SHA-256 fingerprint of the CA certificate into OUT (>= 96 bytes). */
void proxy_ca_fingerprint(const struct proxy_ca *ca, char *out, size_t cap);
/* The leaf for HOST (a DNS name or an IP literal), minted on first use and
 * cached; the CA keeps ownership. NULL on failure. */
X509 *proxy_ca_leaf(struct proxy_ca *ca, const char *host);
/* Mint a fresh leaf (caller owns it). Exposed for the unit tests. */
X509 *proxy_ca_mint(const struct proxy_ca *ca, const char *host);

#endif
