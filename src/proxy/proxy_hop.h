/* proxy_hop: one running hop: listener, CA, live config, signals and event output. */
#ifndef BOTTLE_PROXY_HOP_H
#define BOTTLE_PROXY_HOP_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <openssl/ssl.h>
#include <uv.h>

#include "proxy/proxy_ca.h"
#include "core/event.h"
#include "core/util.h"
#include "proxy/proxy_config.h"

struct proxy_conn;
struct proxy_up;

/* Idle upstream connections kept for the next client connection. */
#define PROXY_HOP_POOL_MAX 64

struct proxy_hop_options {
    enum proxy_role role;
    const char *listen; /* "ADDR:PORT"; port 0 picks one */
    const char *ca_dir;
    const char *config;     /* manifest path */
    const char *parent;     /* egress: "HOST:PORT" of pipelock, or NULL */
    const char *allow_file; /* pipelock: extra allow hosts, re-read on SIGHUP, or NULL */
    const char *bottle;     /* NULL: the manifest's name */
    uint64_t header_timeout_ms;
    uint64_t idle_timeout_ms;
    uint64_t connect_timeout_ms; /* upstream resolve + connect + TLS handshake */
};

struct proxy_hop {
    uv_loop_t *loop;
    struct proxy_hop_options opt;
    struct proxy_config *cfg; /* the live config; requests hold their own reference */
    struct proxy_ca ca;
    SSL_CTX *server_ctx; /* made at the first interception (proxy_hop_server_ctx) */
    uv_tcp_t listener;
    uv_signal_t sighup, sigterm, sigint;
    uv_timer_t drain_timer;
    uv_prepare_t flush; /* flushes stdout before the loop waits */
    bool flush_ready;
    char listen_text[96];
    char *bottle;
    bool has_parent;
    struct sockaddr_storage parent;
    uint64_t next_id;
    struct proxy_conn *conns; /* every open connection, for draining */
    size_t nconns;
    struct proxy_up *pool[PROXY_HOP_POOL_MAX];
    size_t npool;
    bool draining;
    bool stopped;
    /* Per-request scratch, reused so the hot path does not allocate: heads
     * serialised for the next hop, and event lines. */
    struct buf head_out, line_out;
    int64_t ts_sec;   /* the second ts_text was formatted for */
    char ts_text[32]; /* "YYYY-MM-DDTHH:MM:SS" of ts_sec */
};

/* Set up the hop and start listening; prints the `hop` up event. Returns 0,
 * or -1 after saying why on stderr. */
int proxy_hop_start(struct proxy_hop *hop, uv_loop_t *loop, const struct proxy_hop_options *opt);
/* Free what is left after the loop has ended. */
void proxy_hop_free(struct proxy_hop *hop);

/* Print EV as one JSON line on stdout (flushed) and free it. */
void proxy_hop_emit(struct proxy_hop *hop, cJSON *ev);
/* Print a `request` event, exactly as proxy_hop_emit(event_request(...))
 * would, without building a cJSON tree (the per-request hot path). */
void proxy_hop_emit_request(struct proxy_hop *hop, const struct event_request *r);
/* The line for R with timestamp TS appended to OUT. Returns 0, or -1 (OUT
 * untouched) when a number is too large to print the way cJSON does. */
int proxy_hop_request_line(struct buf *out, const char *ts, const char *bottle,
                           const struct event_request *r);
/* A human-readable line on stderr, prefixed with the hop's role. */
void proxy_hop_log(struct proxy_hop *hop, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The TLS context that intercepted connections are served with, made on
 * first use: an idle hop that never intercepts does not pay for it. NULL
 * (after saying why on stderr) when it cannot be made. */
SSL_CTX *proxy_hop_server_ctx(struct proxy_hop *hop);
/* Drop a scratch buffer's memory when one request grew it past what the
 * common case needs, so an idle hop stays small. */
void proxy_hop_scratch_done(struct buf *b);
/* Called by a connection when it is freed (draining may then finish). */
void proxy_hop_conn_gone(struct proxy_hop *hop, struct proxy_conn *c);

#endif
