/* proxy_http: HTTP/1.1 heads on strict llhttp: parse requests/responses, rewrite, serialise. */
#ifndef BOTTLE_PROXY_HTTP_H
#define BOTTLE_PROXY_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <llhttp.h>

#include "core/util.h"

#define PROXY_HTTP_HEAD_MAX (64 * 1024) /* whole head; past it: 431 */
#define PROXY_HTTP_URL_MAX (8 * 1024)   /* request target; past it: 414 */
#define PROXY_HTTP_HEADERS_MAX 200      /* header lines; past it: 431 */

struct proxy_http_header {
    char *name;
    char *value;
};

struct proxy_http_block;

/* A parsed request head. METHOD and URL are owned (malloc'd); header names
 * and values live in MEM, a few blocks freed with the head, so a request
 * costs no allocation per header. */
struct proxy_http_head {
    char *method;
    char *url;
    int http_major, http_minor;
    struct proxy_http_header *h;
    size_t nh;
    size_t cap; /* slots in H */
    struct proxy_http_block *mem;
    bool chunked;         /* Transfer-Encoding: chunked */
    bool has_length;      /* Content-Length present */
    uint64_t length;      /* its value */
    bool upgrade;         /* a CONNECT or an Upgrade request */
    bool keep_alive;      /* llhttp's view after the head */
    bool expect_continue; /* Expect: 100-continue */
};

void proxy_http_head_free(struct proxy_http_head *h);
/* The first value of header NAME (case-insensitive), or NULL. */
const char *proxy_http_head_get(const struct proxy_http_head *h, const char *name);
/* Remove every NAME header. Returns how many were removed. */
size_t proxy_http_head_remove(struct proxy_http_head *h, const char *name);
/* Replace every NAME header with one NAME: VALUE (copied). */
void proxy_http_head_set(struct proxy_http_head *h, const char *name, const char *value);

/* How the body will be framed on the way out. */
enum proxy_http_framing { PROXY_HTTP_NO_BODY, PROXY_HTTP_LENGTH, PROXY_HTTP_CHUNKED };

/* Serialise H for the next hop: "METHOD TARGET HTTP/1.1", the headers minus
 * hop-by-hop ones (Connection and what it names, Proxy-*, Keep-Alive, TE,
 * Trailer, Transfer-Encoding, Content-Length, Expect), plus Host when
 * missing (HOST_HDR) and the framing given. An upgrade request keeps its
 * Upgrade header and gets "Connection: upgrade". Returns 0 or -1 (OUT full). */
int proxy_http_head_serialize(const struct proxy_http_head *h, const char *target,
                              const char *host_hdr, enum proxy_http_framing framing,
                              uint64_t length, struct buf *out);

/* A split request target. Strings are owned; PATH is at least "/". */
struct proxy_http_target {
    char *scheme; /* "http", "https", or NULL for origin-form */
    char *host;   /* lower-cased, brackets stripped from IPv6; NULL for origin-form */
    int port;     /* explicit or the scheme's default; 0 for origin-form */
    char *path;   /* path and query */
};
/* Parse an absolute-form ("http://h:p/x"), authority-form ("h:p", for
 * CONNECT: AUTHORITY true) or origin-form ("/x") target. Returns 0 or -1. */
int proxy_http_target_parse(const char *url, bool authority, struct proxy_http_target *t);
void proxy_http_target_free(struct proxy_http_target *t);
/* Split a Host header value into host (lower-cased) and port (0 when absent). */
int proxy_http_host_split(const char *value, char *host, size_t cap, int *port);

/* ---- request parser ---------------------------------------------------- */

enum proxy_http_event {
    PROXY_HTTP_MORE,    /* everything consumed; feed more */
    PROXY_HTTP_HEAD,    /* a head is ready (parser->head); body may follow */
    PROXY_HTTP_END,     /* a message ended; call proxy_http_parser_next before feeding on */
    PROXY_HTTP_UPGRADE, /* a CONNECT/Upgrade message ended; the rest is tunnel data */
    PROXY_HTTP_ERROR,   /* bad input: answer parser->status and close */
};

struct proxy_http_parser;
typedef int (*proxy_http_body_cb)(void *data, const char *at, size_t len);

struct proxy_http_parser {
    llhttp_t p;
    llhttp_settings_t s;
    struct proxy_http_head head;
    struct buf field, value; /* the header being read */
    size_t head_bytes;
    bool in_value;
    bool head_ready; /* on_headers_complete ran, not yet reported */
    bool paused_end;
    bool in_head; /* reading a head: watch for obs-fold */
    bool prev_lf;
    int status;                 /* on ERROR: 400, 414 or 431 */
    const char *error;          /* on ERROR: why */
    proxy_http_body_cb on_body; /* decoded body bytes */
    void *data;
};

void proxy_http_parser_init(struct proxy_http_parser *ps, proxy_http_body_cb on_body, void *data);
void proxy_http_parser_free(struct proxy_http_parser *ps);
/* Feed LEN bytes; *CONSUMED says how many were used. Call again with the
 * rest after handling a HEAD or (after proxy_http_parser_next) an END. */
enum proxy_http_event proxy_http_parser_feed(struct proxy_http_parser *ps, const char *data,
                                             size_t len, size_t *consumed);
/* After END: drop the old head and get ready for the next request. */
void proxy_http_parser_next(struct proxy_http_parser *ps);

/* ---- response framing tracker ------------------------------------------ */

enum proxy_http_resp_event {
    PROXY_HTTP_RESP_MORE,    /* consumed everything */
    PROXY_HTTP_RESP_END,     /* the final response ended at *consumed */
    PROXY_HTTP_RESP_UPGRADE, /* 101 (or 2xx to CONNECT): the rest is tunnel data */
    PROXY_HTTP_RESP_ERROR,
};

/* Follows a response byte stream passed on verbatim, to learn its status
 * and where it ends (1xx interim responses are skipped). */
struct proxy_http_resp {
    llhttp_t p;
    llhttp_settings_t s;
    int status;       /* of the latest response head */
    bool head_method; /* the request was HEAD: no body */
    bool ended;
    bool keep_alive;
    size_t head_bytes;
    /* X-Bottle-Block of the final response: a parent hop's verdict, so the
     * hop before it can report the block (and redact a DLP block's URL). */
    char block[96];
    char field[32];
    size_t field_len;
    bool field_is_block;
};
void proxy_http_resp_init(struct proxy_http_resp *r, bool head_method);
enum proxy_http_resp_event proxy_http_resp_feed(struct proxy_http_resp *r, const char *data,
                                                size_t len, size_t *consumed);
/* The peer closed: does that end the response cleanly (read-until-close)? */
bool proxy_http_resp_eof(struct proxy_http_resp *r);

#endif
