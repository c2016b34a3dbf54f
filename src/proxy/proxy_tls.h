/* proxy_tls: a socket-free TLS engine on memory BIOs: ciphertext in, plaintext out, and back. */
#ifndef BOTTLE_PROXY_TLS_H
#define BOTTLE_PROXY_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

/* Every engine call answers with one of these. WANT_IO: the engine needs
 * more ciphertext from the peer (or has ciphertext to send: drain it). */
enum proxy_tls_result { PROXY_TLS_OK, PROXY_TLS_WANT_IO, PROXY_TLS_EOF, PROXY_TLS_ERROR };

struct proxy_tls {
    SSL *ssl;
    BIO *in;   /* ciphertext from the peer, read by OpenSSL */
    BIO *out;  /* ciphertext for the peer, written by OpenSSL */
    bool done; /* handshake complete */
    char err[160];
};

/* A server engine presenting CERT/KEY (both borrowed; SSL takes its own references). */
struct proxy_tls *proxy_tls_new_server(SSL_CTX *ctx, X509 *cert, EVP_PKEY *key);
/* A client engine: SNI (omitted for IP literals) and hostname or IP verification for HOST. */
struct proxy_tls *proxy_tls_new_client(SSL_CTX *ctx, const char *host);
void proxy_tls_free(struct proxy_tls *t);

/* Hand ciphertext received from the peer to the engine. Returns 0 or -1. */
int proxy_tls_feed(struct proxy_tls *t, const void *data, size_t len);
/* Drive the handshake. OK once it is complete. */
enum proxy_tls_result proxy_tls_handshake(struct proxy_tls *t);
/* Read decrypted bytes into BUF (at most CAP); *N receives the count. */
enum proxy_tls_result proxy_tls_read(struct proxy_tls *t, void *buf, size_t cap, size_t *n);
/* Could proxy_tls_read produce anything now: is there buffered plaintext,
 * or fed ciphertext not yet decrypted? When not, a read would only say
 * WANT_IO. */
bool proxy_tls_readable(struct proxy_tls *t);
/* Encrypt all of DATA (memory BIOs never short-write). */
enum proxy_tls_result proxy_tls_write(struct proxy_tls *t, const void *data, size_t len);
/* Queue a close_notify. */
void proxy_tls_shutdown(struct proxy_tls *t);
/* Ciphertext waiting to go to the peer. */
size_t proxy_tls_pending(struct proxy_tls *t);
/* Take up to CAP bytes of outgoing ciphertext. */
size_t proxy_tls_drain(struct proxy_tls *t, void *buf, size_t cap);
/* The SNI the client sent (server engines), or NULL. */
const char *proxy_tls_sni(struct proxy_tls *t);
/* The negotiated ALPN protocol as a string into OUT, or "" when none. */
void proxy_tls_alpn(struct proxy_tls *t, char *out, size_t cap);
/* The last error, human-readable. */
const char *proxy_tls_error(struct proxy_tls *t);

/* Peek at a TLS ClientHello without terminating TLS (for passthrough
 * tunnels). Returns 1 and copies the SNI into OUT ("" when absent), 0 when
 * more bytes are needed, -1 when DATA is not a ClientHello. */
int proxy_tls_peek_sni(const void *data, size_t len, char *out, size_t cap);

/* Contexts: the server side offers only http/1.1 via ALPN; the client side
 * verifies against the system store plus CA_FILE (may be NULL). NULL and
 * *ERR set on failure. */
SSL_CTX *proxy_tls_server_ctx(const char **err);
SSL_CTX *proxy_tls_client_ctx(const char *ca_file, char *err, size_t errcap);

#endif
