/* proxy_conn: one client connection: CONNECT, TLS interception, requests and their upstream. */
#ifndef BOTTLE_PROXY_CONN_H
#define BOTTLE_PROXY_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "proxy/dlp.h"
#include "proxy/proxy_end.h"
#include "proxy/proxy_http.h"
#include "proxy/proxy_pipelock.h"

struct proxy_hop;
struct proxy_up;

enum proxy_conn_state {
    PROXY_CONN_HEAD,    /* reading a request head */
    PROXY_CONN_BODY,    /* reading a request body */
    PROXY_CONN_WAIT,    /* request sent; the response is coming */
    PROXY_CONN_UPGRADE, /* an Upgrade request sent; waiting for 101 */
    PROXY_CONN_TLS,     /* CONNECT answered; TLS handshake with the client */
    PROXY_CONN_SNI,     /* passthrough: waiting for the ClientHello */
    PROXY_CONN_TUNNEL,  /* raw bytes both ways */
};

/* The request in flight, for its event. */
struct proxy_conn_req {
    bool active, logged;
    uint64_t id;
    uint64_t start_ms;
    char *method;
    const char *scheme;
    char *host;
    int port;
    char *path;
    int status;
    uint64_t bytes_up, bytes_down;
    struct proxy_verdict verdict;
    char *auth;
    char parent_reason[96]; /* a block reported by the parent hop */
    bool keep_alive;
    bool head_method;
    bool resp_started;
    enum proxy_http_framing framing;
    bool buffer_body; /* pipelock: collect for DLP */
    struct dlp_body body;
    bool body_too_large;
    char *target;   /* request target for the next hop; NULL: the path */
    char *host_hdr; /* Host to add when the client sent none */
};

struct proxy_conn {
    struct proxy_hop *hop;
    struct proxy_conn *prev, *next;
    struct proxy_end end; /* the client */
    uv_timer_t timer;
    enum proxy_conn_state state;
    struct proxy_http_parser parser;
    struct buf in;      /* client plaintext not yet consumed */
    char *connect_host; /* set inside a CONNECT tunnel */
    int connect_port;
    bool passthrough;
    struct proxy_up *up;
    struct proxy_config *cfg; /* held for the request in flight */
    struct proxy_conn_req req;
    uint64_t last_io;
    uint64_t head_deadline; /* 0: none */
    uint64_t close_started;
    bool closing;
    bool client_eof;
};

/* Accept a connection from the hop's listener. Returns 0 or a libuv error. */
int proxy_conn_accept(struct proxy_hop *hop);
/* Drain: close the connection now if it is between requests; else let the
 * request finish and close afterwards. FORCE closes regardless. */
void proxy_conn_drain(struct proxy_conn *c, bool force);
/* Close every pooled idle upstream connection (on reload and drain). */
void proxy_conn_pool_clear(struct proxy_hop *hop);

#endif
