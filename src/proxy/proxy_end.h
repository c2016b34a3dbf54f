/* proxy_end: one TCP end of a proxied connection, plain or via proxy_tls, in plaintext. */
#ifndef BOTTLE_PROXY_END_H
#define BOTTLE_PROXY_END_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "core/util.h"
#include "proxy/proxy_tls.h"

struct proxy_end;

/* Callbacks into the owner. After any of them the owner may have closed the
 * end; the end checks `closing` before touching itself again. */
struct proxy_end_cbs {
    void (*on_data)(struct proxy_end *e, const char *data, size_t len); /* plaintext */
    void (*on_eof)(struct proxy_end *e, const char *why);               /* NULL why: clean EOF */
    void (*on_ready)(struct proxy_end *e);  /* connected (and TLS handshake done) */
    void (*on_drain)(struct proxy_end *e);  /* a write finished */
    void (*on_closed)(struct proxy_end *e); /* the handle is closed: free now */
};

struct proxy_end {
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_shutdown_t sreq;
    struct proxy_tls *tls;
    const struct proxy_end_cbs *cbs;
    void *data;         /* the owner */
    struct buf pending; /* plaintext sent before the end was ready */
    bool open;          /* accepted or connected: reads may start */
    bool connecting;
    bool ready;   /* connected and, with TLS, handshake done */
    bool reading; /* the owner wants bytes */
    bool closing;
    bool eof;
    uint64_t bytes_in, bytes_out; /* plaintext */
    uint64_t *activity;           /* when set, stamped with uv_now on each I/O */
    char err[200];
};

/* Set up E on LOOP (uv_tcp_init). Returns 0 or a libuv error. */
int proxy_end_init(struct proxy_end *e, uv_loop_t *loop, const struct proxy_end_cbs *cbs,
                   void *data);
/* An accepted end is ready at once. */
void proxy_end_accepted(struct proxy_end *e);
/* Connect to ADDR; with TLS (owned by the end from now on) run the client
 * handshake after connecting. on_ready or on_eof follows. */
int proxy_end_connect(struct proxy_end *e, const struct sockaddr *addr, struct proxy_tls *tls);
/* Switch an accepted end to TLS (server side; the end owns TLS), feeding
 * INITIAL ciphertext that already arrived. on_ready follows the handshake. */
void proxy_end_start_tls(struct proxy_end *e, struct proxy_tls *tls, const char *initial,
                         size_t len);
/* Send plaintext. Queued while not ready. Returns 0 or -1 (then the end is failing). */
int proxy_end_send(struct proxy_end *e, const void *data, size_t len);
/* Bytes waiting to go out (queued, in the TLS engine or in libuv). */
size_t proxy_end_queued(struct proxy_end *e);
/* Start or stop delivering on_data. */
void proxy_end_read(struct proxy_end *e, bool on);
/* Close. FLUSH: let queued writes go out first (TLS close_notify included). */
void proxy_end_close(struct proxy_end *e, bool flush);
/* The peer's address as "ip:port" into OUT. */
void proxy_end_peer(struct proxy_end *e, char *out, size_t cap);

#endif
