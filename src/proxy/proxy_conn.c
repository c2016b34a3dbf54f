/* proxy_conn: one client connection: CONNECT, TLS interception, requests and their upstream. */
#include "proxy/proxy_conn.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/event.h"
#include "core/hostmatch.h"
#include "proxy/ipaddr.h"
#include "proxy/proxy_egress.h"
#include "proxy/proxy_hop.h"

#define IN_MAX (256 * 1024)      /* client plaintext buffered ahead of the parser */
#define IN_HIGH (128 * 1024)     /* stop reading the client past this */
#define QUEUE_HIGH (1024 * 1024) /* stop reading the other side past this much queued */
#define CLOSE_GRACE_MS 5000      /* how long a flushing close may take */
#define SNI_PEEK_MAX (16 * 1024) /* a ClientHello larger than this is refused */
#define POOL_IDLE_MS 30000       /* a pooled connection idle longer is not reused */

/* The upstream end of a request: a connection to the origin, or to the parent hop. */
struct proxy_up {
    struct proxy_end end;
    struct proxy_hop *hop;
    struct proxy_conn *conn; /* NULL once detached */
    bool pooled;             /* idle in hop->pool */
    uv_getaddrinfo_t gai;
    bool gai_pending;
    bool end_closed;
    bool idle;           /* between responses, kept for reuse */
    bool check_resolved; /* pipelock: refuse names that resolve inside */
    char *key;
    char *tls_host; /* verify and send SNI for this name; NULL for plain */
    char *addr_host;
    int addr_port;
    uint64_t last_io;
    struct proxy_http_resp resp;
};

static void conn_process(struct proxy_conn *c);
static void conn_flow(struct proxy_conn *c);
static void conn_close(struct proxy_conn *c, bool flush);
static void up_close(struct proxy_up *up);

/* Join up to four strings into a new one (a NULL ends them early). The
 * request path builds URLs and keys with this rather than a printf, which
 * costs two formatting passes per string. */
static char *join(const char *a, const char *b, const char *c, const char *d)
{
    const char *v[] = {a, b, c, d};
    size_t len[4] = {0}, total = 0, n = 0;
    for (; n < ARRAY_SIZE(v) && v[n]; n++)
        total += len[n] = strlen(v[n]);
    char *out = xmalloc(total + 1), *p = out;
    for (size_t i = 0; i < n; i++) {
        memcpy(p, v[i], len[i]);
        p += len[i];
    }
    *p = 0;
    return out;
}

/* "host[:port]" ("[v6][:port]"), the port left out when it is DEFAULT_PORT.
 * OUT has room for AUTHORITY_MAX bytes (hosts are at most 255). */
#define AUTHORITY_MAX 272
static void authority_text(char out[AUTHORITY_MAX], const char *host, int port, int default_port)
{
    bool v6 = strchr(host, ':') != NULL;
    size_t hl = strnlen(host, 255), n = 0;
    if (v6)
        out[n++] = '[';
    memcpy(out + n, host, hl);
    n += hl;
    if (v6)
        out[n++] = ']';
    if (port != default_port) {
        char digits[12];
        size_t k = sizeof digits;
        unsigned v = port < 0 ? 0 : (unsigned)port;
        do {
            digits[--k] = (char)('0' + v % 10);
            v /= 10;
        } while (v && k > 0);
        out[n++] = ':';
        memcpy(out + n, digits + k, sizeof digits - k);
        n += sizeof digits - k;
    }
    out[n] = 0;
}

static const char *status_text(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 408:
        return "Request Timeout";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 417:
        return "Expectation Failed";
    case 431:
        return "Request Header Fields Too Large";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Error";
    }
}

static bool is_pipelock(const struct proxy_conn *c)
{
    return c->hop->opt.role == PROXY_PIPELOCK;
}

/* ---- the request record ------------------------------------------------- */

static void req_reset(struct proxy_conn *c)
{
    struct proxy_conn_req *r = &c->req;
    free(r->method);
    free(r->host);
    free(r->path);
    free(r->auth);
    free(r->target);
    free(r->host_hdr);
    if (r->buffer_body)
        dlp_body_free(&r->body);
    memset(r, 0, sizeof *r);
    if (c->cfg) {
        proxy_config_unref(c->cfg);
        c->cfg = NULL;
    }
}

static void req_begin(struct proxy_conn *c, const char *method)
{
    req_reset(c);
    c->req.active = true;
    c->req.id = ++c->hop->next_id;
    c->req.start_ms = uv_now(c->hop->loop);
    c->req.method = xstrdup(method);
    c->cfg = proxy_config_ref(c->hop->cfg);
}

static void req_log(struct proxy_conn *c)
{
    struct proxy_conn_req *r = &c->req;
    if (!r->active || r->logged)
        return;
    r->logged = true;
    struct event_request ev = {
        .hop = proxy_role_name(c->hop->opt.role),
        .id = r->id,
        .method = r->method,
        .scheme = r->scheme,
        .host = r->host,
        .port = r->host ? r->port : -1,
        /* a DLP block logs scheme and host only: the path may hold the secret */
        .path = r->verdict.dlp ? NULL : r->path,
        .status = r->status ? r->status : -1,
        .bytes_up = r->bytes_up,
        .bytes_down = r->bytes_down,
        .ms = (long)(uv_now(c->hop->loop) - r->start_ms),
        .verdict = r->verdict.block ? "block" : "allow",
        .reason = r->verdict.reason,
        .rule = r->verdict.rule[0] ? r->verdict.rule : NULL,
        .auth = r->auth,
    };
    proxy_hop_emit_request(c->hop, &ev);
}

/* ---- answers from the hop itself ---------------------------------------- */

/* Answer STATUS with a short text body and close. BLOCK names a pipelock
 * block reason for X-Bottle-Block. */
static void conn_answer(struct proxy_conn *c, int status, const char *block, const char *text)
{
    struct buf b;
    buf_init(&b, 0);
    buf_appendf(&b,
                "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                "Content-Length: %zu\r\nConnection: close\r\n",
                status, status_text(status), strlen(text) + 1);
    if (block)
        buf_appendf(&b, "X-Bottle-Block: %s\r\n", block);
    buf_appendf(&b, "\r\n%s\n", text);
    c->req.status = status;
    req_log(c); /* first: the event is out before the client has the answer */
    proxy_end_send(&c->end, b.p, b.len);
    buf_free(&b);
    conn_close(c, true);
}

static void conn_block(struct proxy_conn *c)
{
    char text[256];
    snprintf(text, sizeof text, "bottle: blocked by %s: %s", proxy_role_name(c->hop->opt.role),
             c->req.verdict.reason);
    c->req.verdict.block = true;
    conn_answer(c, 403, c->req.verdict.reason, text);
}

static void conn_fail(struct proxy_conn *c, int status, const char *reason, const char *why)
{
    c->req.verdict.reason = reason;
    conn_answer(c, status, NULL, why);
}

/* ---- upstream ------------------------------------------------------------ */

static void up_maybe_free(struct proxy_up *up)
{
    if (!up->end_closed || up->gai_pending)
        return;
    free(up->key);
    free(up->tls_host);
    free(up->addr_host);
    free(up);
}

static void pool_remove(struct proxy_up *up)
{
    struct proxy_hop *hop = up->hop;
    for (size_t i = 0; i < hop->npool; i++) {
        if (hop->pool[i] == up) {
            hop->pool[i] = hop->pool[--hop->npool];
            break;
        }
    }
    up->pooled = false;
}

static void up_close(struct proxy_up *up)
{
    if (up->pooled)
        pool_remove(up);
    if (up->conn && up->conn->up == up)
        up->conn->up = NULL;
    up->conn = NULL;
    if (up->gai_pending)
        uv_cancel((uv_req_t *)&up->gai);
    proxy_end_close(&up->end, false);
}

/* The upstream failed or closed while a request needed it. */
static void up_failed(struct proxy_up *up, const char *why)
{
    struct proxy_conn *c = up->conn;
    up_close(up);
    if (!c || c->closing)
        return;
    if (c->state == PROXY_CONN_TUNNEL) {
        conn_close(c, true);
        return;
    }
    if (!c->req.active)
        return; /* an idle kept-alive upstream went away: fine */
    if (!c->req.resp_started) {
        char text[400];
        proxy_hop_log(c->hop, "request %llu to %s:%d: %s", (unsigned long long)c->req.id,
                      c->req.host ? c->req.host : "?", c->req.port, why);
        snprintf(text, sizeof text, "bottle: %s cannot reach %s:%d: %s",
                 proxy_role_name(c->hop->opt.role), c->req.host ? c->req.host : "?", c->req.port,
                 why);
        conn_fail(c, 502, "upstream error", text);
        return;
    }
    req_log(c);
    conn_close(c, true); /* a response cut short: the client sees the close */
}

static void response_done(struct proxy_conn *c)
{
    struct proxy_up *up = c->up;
    req_log(c);
    bool again = up->resp.keep_alive && c->req.keep_alive && c->state == PROXY_CONN_WAIT &&
                 !c->hop->draining && !c->client_eof;
    if (up->resp.keep_alive && c->state == PROXY_CONN_WAIT) {
        up->idle = true;
    } else {
        up_close(up);
    }
    if (!again) {
        conn_close(c, true);
        return;
    }
    req_reset(c);
    proxy_http_parser_next(&c->parser);
    c->state = PROXY_CONN_HEAD;
    c->head_deadline = 0;
    conn_process(c);
}

static void on_up_data(struct proxy_end *e, const char *data, size_t len)
{
    struct proxy_up *up = e->data;
    struct proxy_conn *c = up->conn;
    if (!c || up->idle) {
        up_close(up); /* bytes nobody asked for: do not reuse this connection */
        return;
    }
    if (c->state == PROXY_CONN_TUNNEL) {
        c->req.bytes_down += len;
        proxy_end_send(&c->end, data, len);
        conn_flow(c);
        return;
    }
    size_t n = 0;
    enum proxy_http_resp_event ev = proxy_http_resp_feed(&up->resp, data, len, &n);
    if (ev == PROXY_HTTP_RESP_ERROR) {
        up_failed(up, "malformed response");
        return;
    }
    if (n) {
        c->req.resp_started = true;
        c->req.bytes_down += n;
        proxy_end_send(&c->end, data, n);
    }
    if (up->resp.status)
        c->req.status = up->resp.status;
    if (up->resp.block[0] && !c->req.verdict.block) {
        /* The parent blocked it: say so here too, and cut a DLP block's URL. */
        struct proxy_conn_req *r = &c->req;
        snprintf(r->parent_reason, sizeof r->parent_reason, "%s", up->resp.block);
        r->verdict.block = true;
        r->verdict.reason = r->parent_reason;
        r->verdict.dlp = strncmp(r->parent_reason, "dlp", 3) == 0;
    }
    if (ev == PROXY_HTTP_RESP_END) {
        response_done(c);
    } else if (ev == PROXY_HTTP_RESP_UPGRADE) {
        if (c->state != PROXY_CONN_UPGRADE) {
            up_failed(up, "unexpected upgrade");
            return;
        }
        c->state = PROXY_CONN_TUNNEL;
        if (len > n) {
            c->req.bytes_down += len - n;
            proxy_end_send(&c->end, data + n, len - n);
        }
        conn_process(c); /* client bytes that came after the upgrade request */
    } else {
        conn_flow(c);
    }
}

static void on_up_eof(struct proxy_end *e, const char *why)
{
    struct proxy_up *up = e->data;
    struct proxy_conn *c = up->conn;
    if (c && !why && c->req.active && c->state != PROXY_CONN_TUNNEL && !up->idle &&
        c->req.resp_started && proxy_http_resp_eof(&up->resp)) {
        up->resp.keep_alive = false;
        response_done(c); /* a response delimited by the close */
        return;
    }
    up_failed(up, why ? why : "connection closed");
}

static void on_up_ready(struct proxy_end *e)
{
    struct proxy_up *up = e->data;
    if (up->conn)
        conn_flow(up->conn);
}

static void on_up_drain(struct proxy_end *e)
{
    struct proxy_up *up = e->data;
    if (up->conn)
        conn_flow(up->conn);
}

static void on_up_closed(struct proxy_end *e)
{
    struct proxy_up *up = e->data;
    up->end_closed = true;
    up_maybe_free(up);
}

static const struct proxy_end_cbs up_cbs = {
    .on_data = on_up_data,
    .on_eof = on_up_eof,
    .on_ready = on_up_ready,
    .on_drain = on_up_drain,
    .on_closed = on_up_closed,
};

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct proxy_up *up = req->data;
    up->gai_pending = false;
    struct proxy_conn *c = up->conn;
    if (!c) {
        if (res)
            uv_freeaddrinfo(res);
        up_maybe_free(up);
        return;
    }
    if (status < 0 || !res) {
        char why[200];
        snprintf(why, sizeof why, "cannot resolve %s: %s", up->addr_host, uv_strerror(status));
        if (res)
            uv_freeaddrinfo(res);
        up_failed(up, why);
        return;
    }
    if (up->check_resolved) {
        /* Names that lead inside are refused like IP literals are (DNS rebinding). */
        for (struct addrinfo *a = res; a; a = a->ai_next) {
            struct ipaddr ip;
            if (ipaddr_from_sockaddr(a->ai_addr, &ip) == 0 && ipaddr_is_internal(&ip)) {
                uv_freeaddrinfo(res);
                up_close(up);
                c->req.verdict.block = true;
                c->req.verdict.reason = "internal address";
                snprintf(c->req.verdict.rule, sizeof c->req.verdict.rule, "%s",
                         ipaddr_class_name(ip.cls));
                if (c->state == PROXY_CONN_TUNNEL)
                    conn_close(c, false);
                else
                    conn_block(c);
                return;
            }
        }
    }
    struct proxy_tls *tls = NULL;
    if (up->tls_host) {
        char err[256] = "cannot set up TLS";
        SSL_CTX *ctx = proxy_config_client_ctx(c->cfg, err, sizeof err);
        tls = ctx ? proxy_tls_new_client(ctx, up->tls_host) : NULL;
        if (!tls) {
            uv_freeaddrinfo(res);
            up_failed(up, err);
            return;
        }
    }
    int rc = proxy_end_connect(&up->end, res->ai_addr, tls);
    uv_freeaddrinfo(res);
    if (rc < 0) {
        proxy_tls_free(tls);
        up_failed(up, uv_strerror(rc));
    }
}

/* Keep an idle upstream for other connections, or close it. */
static void pool_put(struct proxy_up *up)
{
    struct proxy_hop *hop = up->hop;
    if (up->conn && up->conn->up == up)
        up->conn->up = NULL;
    up->conn = NULL;
    if (!up->idle || up->end.eof || up->end.closing || hop->draining ||
        hop->npool >= PROXY_HOP_POOL_MAX) {
        up_close(up);
        return;
    }
    up->pooled = true;
    hop->pool[hop->npool++] = up;
    proxy_end_read(&up->end, true); /* to notice the server closing it */
}

static struct proxy_up *pool_take(struct proxy_hop *hop, const char *key)
{
    uint64_t now = uv_now(hop->loop);
    for (size_t i = 0; i < hop->npool;) {
        struct proxy_up *up = hop->pool[i];
        if (up->end.eof || up->end.closing || now - up->last_io > POOL_IDLE_MS) {
            up_close(up); /* removes it: slot i now holds another */
            continue;
        }
        if (strcmp(up->key, key) == 0) {
            pool_remove(up);
            return up;
        }
        i++;
    }
    return NULL;
}

void proxy_conn_pool_clear(struct proxy_hop *hop)
{
    while (hop->npool > 0)
        up_close(hop->pool[hop->npool - 1]);
}

/* The upstream for SCHEME://HOST:PORT: the kept-alive one when it fits, else
 * a new connection (direct, through upstream.resolve, or to the parent). */
static struct proxy_up *conn_upstream(struct proxy_conn *c, const char *scheme, const char *host,
                                      int port)
{
    struct proxy_hop *hop = c->hop;
    bool via_parent = hop->has_parent && strcmp(scheme, "tcp") != 0;
    char key[8 + AUTHORITY_MAX];
    if (via_parent) {
        memcpy(key, "parent", 7);
    } else {
        /* "scheme://host:port", the port always written */
        size_t sl = strnlen(scheme, 5);
        memcpy(key, scheme, sl);
        memcpy(key + sl, "://", 3);
        authority_text(key + sl + 3, host, port, -1);
    }
    if (c->up && c->up->idle && !c->up->end.eof && !c->up->end.closing &&
        strcmp(c->up->key, key) == 0) {
        c->up->idle = false;
        return c->up;
    }
    if (c->up)
        pool_put(c->up);
    struct proxy_up *up = pool_take(hop, key);
    if (up) {
        up->conn = c;
        up->idle = false;
        c->up = up;
        return up;
    }
    up = xcalloc(1, sizeof *up);
    up->hop = hop;
    if (proxy_end_init(&up->end, hop->loop, &up_cbs, up) != 0) {
        free(up);
        return NULL;
    }
    up->end.activity = &up->last_io;
    up->conn = c;
    up->key = xstrdup(key);
    c->up = up;
    proxy_end_read(&up->end, true);
    if (via_parent) {
        int rc = proxy_end_connect(&up->end, (struct sockaddr *)&hop->parent, NULL);
        if (rc < 0) {
            up_close(up);
            return NULL;
        }
        return up;
    }
    if (strcmp(scheme, "https") == 0)
        up->tls_host = xstrdup(host);
    const char *override = manifest_resolve_for(c->cfg->m, host);
    char ahost[256];
    int aport = port;
    if (override && proxy_http_host_split(override, ahost, sizeof ahost, &aport) == 0 && aport) {
        up->addr_host = xstrdup(ahost);
    } else {
        struct ipaddr ip;
        int rc = ipaddr_parse(host, &ip);
        /* connect to the canonical form that was checked, never the raw spelling */
        up->addr_host = xstrdup(rc == 0 ? ip.text : host);
        up->check_resolved = is_pipelock(c) && rc == IPADDR_NAME;
        aport = port;
    }
    up->addr_port = aport;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", aport);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    up->gai.data = up;
    if (uv_getaddrinfo(hop->loop, &up->gai, on_resolved, up->addr_host, portstr, &hints) != 0) {
        up_close(up);
        return NULL;
    }
    up->gai_pending = true;
    return up;
}

/* ---- requests ------------------------------------------------------------ */

static int on_body(void *data, const char *at, size_t len)
{
    struct proxy_conn *c = data;
    struct proxy_conn_req *r = &c->req;
    r->bytes_up += len;
    if (c->closing)
        return 0;
    if (r->buffer_body) {
        if (dlp_body_append(&r->body, at, len) != 0) {
            r->body_too_large = true;
            return -1;
        }
        return 0;
    }
    if (!c->up)
        return -1;
    if (r->framing == PROXY_HTTP_CHUNKED) {
        char hdr[32];
        int n = snprintf(hdr, sizeof hdr, "%zx\r\n", len);
        proxy_end_send(&c->up->end, hdr, (size_t)n);
        proxy_end_send(&c->up->end, at, len);
        proxy_end_send(&c->up->end, "\r\n", 2);
    } else {
        proxy_end_send(&c->up->end, at, len);
    }
    return 0;
}

static void send_head(struct proxy_conn *c, struct proxy_http_head *h, uint64_t length)
{
    struct buf *b = &c->hop->head_out;
    buf_reset(b);
    b->max = 2 * PROXY_HTTP_HEAD_MAX;
    const char *target = c->req.target ? c->req.target : c->req.path;
    if (proxy_http_head_serialize(h, target, c->req.host_hdr, c->req.framing, length, b) != 0) {
        proxy_hop_scratch_done(b);
        conn_fail(c, 431, "request too large", "bottle: request head too large");
        return;
    }
    proxy_end_send(&c->up->end, b->p, b->len);
    proxy_hop_scratch_done(b);
}

static void request_connect(struct proxy_conn *c, struct proxy_http_head *h)
{
    struct proxy_http_target t;
    if (c->connect_host) {
        conn_fail(c, 400, "bad request", "bottle: CONNECT inside a tunnel");
        return;
    }
    if (proxy_http_target_parse(h->url, true, &t) != 0) {
        conn_fail(c, 400, "bad request", "bottle: bad CONNECT target");
        return;
    }
    c->req.host = xstrdup(t.host);
    c->req.port = t.port;
    proxy_http_target_free(&t);
    if (is_pipelock(c)) {
        proxy_pipelock_check_host(c->cfg, c->req.host, &c->req.verdict);
        if (c->req.verdict.block) {
            conn_block(c);
            return;
        }
        c->passthrough = proxy_pipelock_passthrough(c->cfg, c->req.host);
    }
    c->state = PROXY_CONN_BODY; /* the UPGRADE event follows at once */
}

static void request_head(struct proxy_conn *c)
{
    struct proxy_http_head *h = &c->parser.head;
    struct proxy_hop *hop = c->hop;
    req_begin(c, h->method);
    struct proxy_conn_req *r = &c->req;
    r->keep_alive = h->keep_alive;
    if (strcmp(h->method, "CONNECT") == 0) {
        request_connect(c, h);
        return;
    }
    struct proxy_http_target t;
    if (proxy_http_target_parse(h->url, false, &t) != 0) {
        conn_fail(c, 400, "bad request", "bottle: bad request target");
        return;
    }
    if (c->connect_host) {
        if (t.host && (strcmp(t.host, c->connect_host) != 0 || t.port != c->connect_port)) {
            proxy_http_target_free(&t);
            r->host = xstrdup(c->connect_host);
            r->port = c->connect_port;
            r->scheme = "https";
            r->verdict.reason = "host mismatch";
            snprintf(r->verdict.rule, sizeof r->verdict.rule, "CONNECT %s", c->connect_host);
            conn_block(c);
            return;
        }
        r->scheme = "https";
        r->host = xstrdup(c->connect_host);
        r->port = c->connect_port;
    } else {
        if (!t.scheme) {
            proxy_http_target_free(&t);
            conn_fail(c, 400, "bad request",
                      "bottle: this is a proxy; send absolute-form requests");
            return;
        }
        r->scheme = strcmp(t.scheme, "https") == 0 ? "https" : "http";
        r->host = t.host; /* taken over */
        t.host = NULL;
        r->port = t.port;
    }
    r->path = t.path;
    t.path = NULL;
    proxy_http_target_free(&t);
    r->head_method = strcmp(h->method, "HEAD") == 0;
    int defport = strcmp(r->scheme, "https") == 0 ? 443 : 80;

    /* The Host header must name the host being dialled: a mismatch is how
     * a request slips past a check made on the other name. */
    const char *hh = proxy_http_head_get(h, "Host");
    if (hh) {
        char hhost[256];
        int hport = 0;
        if (proxy_http_host_split(hh, hhost, sizeof hhost, &hport) != 0 ||
            !str_ieq(hhost, r->host) || (hport && hport != r->port)) {
            r->verdict.reason = "host mismatch";
            snprintf(r->verdict.rule, sizeof r->verdict.rule, "Host header");
            conn_block(c);
            return;
        }
    } else {
        char auth[AUTHORITY_MAX];
        authority_text(auth, r->host, r->port, defport);
        r->host_hdr = xstrdup(auth);
    }

    if (is_pipelock(c)) {
        /* Inside a tunnel too: a reload must reach kept-alive tunnels. */
        proxy_pipelock_check_host(c->cfg, r->host, &r->verdict);
        if (r->verdict.block) {
            conn_block(c);
            return;
        }
        char auth[AUTHORITY_MAX];
        authority_text(auth, r->host, r->port, defport);
        char *url = join(r->scheme, "://", auth, r->path);
        struct proxy_verdict hv;
        proxy_verdict_clear(&hv);
        proxy_pipelock_check_head(c->cfg, r->host, url, h, &hv);
        free(url);
        if (hv.reason) {
            r->verdict = hv;
            if (hv.block) {
                conn_block(c);
                return;
            }
        }
        if (h->chunked || (h->has_length && h->length > 0)) {
            r->buffer_body = true;
            dlp_body_init(&r->body, 0);
            if (h->has_length && h->length > DLP_BODY_LIMIT_DEFAULT) {
                r->verdict.block = true;
                r->verdict.reason = "body too large to scan";
                conn_block(c);
                return;
            }
        }
    } else if (manifest_route_for(c->cfg->m, r->host) && strcmp(r->scheme, "https") != 0) {
        /* The real token never travels in cleartext. */
        r->verdict.reason = "route requires https";
        snprintf(r->verdict.rule, sizeof r->verdict.rule, "%s", r->host);
        conn_block(c);
        return;
    } else {
        const struct mf_route *route = proxy_egress_rewrite(c->cfg->m, c->cfg->tokens, r->host, h);
        if (route)
            r->auth = join("rewritten:", route->host, NULL, NULL);
    }

    if (hop->has_parent) {
        char auth[AUTHORITY_MAX];
        authority_text(auth, r->host, r->port, defport);
        r->target = join(r->scheme, "://", auth, r->path);
    } /* else the target is the path (send_head) */
    if (r->buffer_body)
        r->framing = PROXY_HTTP_LENGTH;
    else if (h->chunked)
        r->framing = PROXY_HTTP_CHUNKED;
    else if (h->has_length)
        r->framing = PROXY_HTTP_LENGTH;
    else
        r->framing = PROXY_HTTP_NO_BODY;

    struct proxy_up *up = conn_upstream(c, r->scheme, r->host, r->port);
    if (!up) {
        conn_fail(c, 502, "upstream error", "bottle: cannot open an upstream connection");
        return;
    }
    proxy_http_resp_init(&up->resp, r->head_method);
    if (h->expect_continue)
        proxy_end_send(&c->end, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    if (!r->buffer_body)
        send_head(c, h, h->length);
    c->state = PROXY_CONN_BODY;
}

static void request_end(struct proxy_conn *c)
{
    struct proxy_conn_req *r = &c->req;
    if (r->buffer_body) {
        struct proxy_verdict bv;
        proxy_verdict_clear(&bv);
        proxy_pipelock_check_body(c->cfg, r->body.data, r->body.len, &bv);
        if (bv.reason) {
            r->verdict = bv;
            if (bv.block) {
                conn_block(c);
                return;
            }
        }
        send_head(c, &c->parser.head, r->body.len);
        if (c->closing)
            return;
        proxy_end_send(&c->up->end, r->body.data, r->body.len);
        dlp_body_free(&r->body);
        dlp_body_init(&r->body, 0);
    } else if (r->framing == PROXY_HTTP_CHUNKED && c->up) {
        proxy_end_send(&c->up->end, "0\r\n\r\n", 5);
    }
    c->state = PROXY_CONN_WAIT;
}

/* ---- CONNECT ------------------------------------------------------------- */

static void connect_established(struct proxy_conn *c)
{
    static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
    struct proxy_hop *hop = c->hop;
    c->connect_host = xstrdup(c->req.host);
    c->connect_port = c->req.port;
    if (c->passthrough) {
        proxy_end_send(&c->end, ok, sizeof ok - 1);
        c->req.scheme = NULL;
        c->state = PROXY_CONN_SNI;
        c->head_deadline = uv_now(hop->loop) + hop->opt.header_timeout_ms;
        return;
    }
    X509 *leaf = proxy_ca_leaf(&hop->ca, c->connect_host);
    SSL_CTX *ctx = leaf ? proxy_hop_server_ctx(hop) : NULL;
    struct proxy_tls *tls = ctx ? proxy_tls_new_server(ctx, leaf, hop->ca.leaf_key) : NULL;
    if (!tls) {
        conn_fail(c, 502, "tls error", "bottle: cannot mint a certificate for this host");
        return;
    }
    proxy_end_send(&c->end, ok, sizeof ok - 1);
    /* The CONNECT itself is not an event: the requests inside it are (and
     * its id goes back, so ids count requests). */
    if (hop->next_id == c->req.id)
        hop->next_id--;
    req_reset(c);
    proxy_http_parser_free(&c->parser);
    proxy_http_parser_init(&c->parser, on_body, c);
    c->state = PROXY_CONN_TLS;
    c->head_deadline = uv_now(hop->loop) + hop->opt.header_timeout_ms;
    struct buf early = c->in; /* the ClientHello may already be here */
    buf_init(&c->in, IN_MAX);
    proxy_end_start_tls(&c->end, tls, early.p, early.len);
    buf_free(&early);
}

static void sni_peek(struct proxy_conn *c)
{
    char sni[256];
    int rc = proxy_tls_peek_sni(c->in.p, c->in.len, sni, sizeof sni);
    if (rc == 0 && c->in.len < SNI_PEEK_MAX)
        return;
    if (rc != 1) {
        c->req.verdict.block = true;
        c->req.verdict.reason = "not TLS";
        req_log(c);
        conn_close(c, false);
        return;
    }
    if (sni[0] && !host_match(c->connect_host, sni)) {
        c->req.verdict.block = true;
        c->req.verdict.reason = "sni mismatch";
        snprintf(c->req.verdict.rule, sizeof c->req.verdict.rule, "CONNECT %s", c->connect_host);
        req_log(c);
        conn_close(c, false);
        return;
    }
    c->head_deadline = 0;
    struct proxy_up *up = conn_upstream(c, "tcp", c->connect_host, c->connect_port);
    if (!up) {
        conn_close(c, false);
        return;
    }
    c->state = PROXY_CONN_TUNNEL;
    c->req.bytes_up += c->in.len;
    proxy_end_send(&up->end, c->in.p, c->in.len);
    buf_reset(&c->in);
}

/* ---- the client end ------------------------------------------------------ */

static void parse_error(struct proxy_conn *c)
{
    if (c->req.body_too_large) {
        c->req.verdict.block = true;
        c->req.verdict.reason = "body too large to scan";
        conn_block(c);
        return;
    }
    if (!c->req.active)
        req_begin(c, c->parser.head.method ? c->parser.head.method : "-");
    char text[200];
    snprintf(text, sizeof text, "bottle: %s", c->parser.error ? c->parser.error : "bad request");
    proxy_hop_log(c->hop, "bad request from a client: %s", c->parser.error ? c->parser.error : "?");
    conn_fail(c, c->parser.status ? c->parser.status : 400, "bad request", text);
}

static void conn_process(struct proxy_conn *c)
{
    while (!c->closing) {
        switch (c->state) {
        case PROXY_CONN_HEAD:
        case PROXY_CONN_BODY: {
            size_t n = 0;
            enum proxy_http_event ev = proxy_http_parser_feed(&c->parser, c->in.p, c->in.len, &n);
            buf_consume(&c->in, n);
            switch (ev) {
            case PROXY_HTTP_MORE:
                goto out;
            case PROXY_HTTP_HEAD:
                c->head_deadline = 0;
                request_head(c);
                continue;
            case PROXY_HTTP_END:
                request_end(c);
                continue;
            case PROXY_HTTP_UPGRADE:
                if (c->req.method && strcmp(c->req.method, "CONNECT") == 0)
                    connect_established(c);
                else
                    c->state = PROXY_CONN_UPGRADE;
                continue;
            case PROXY_HTTP_ERROR:
                parse_error(c);
                goto out;
            }
            goto out;
        }
        case PROXY_CONN_SNI:
            sni_peek(c);
            goto out;
        case PROXY_CONN_TUNNEL:
            if (c->in.len && c->up) {
                c->req.bytes_up += c->in.len;
                proxy_end_send(&c->up->end, c->in.p, c->in.len);
                buf_reset(&c->in);
            }
            goto out;
        default:
            goto out;
        }
    }
out:
    /* An idle connection keeps no read buffer (1,000 open tunnels must stay small). */
    if (c->in.len == 0 && c->in.p)
        buf_free(&c->in);
    conn_flow(c);
}

/* Reading follows room: stop a side when what it feeds is backed up. */
static void conn_flow(struct proxy_conn *c)
{
    if (c->closing)
        return;
    bool want = c->in.len < IN_HIGH && !c->client_eof;
    if (c->up && proxy_end_queued(&c->up->end) > QUEUE_HIGH)
        want = false;
    proxy_end_read(&c->end, want);
    if (c->up && !c->up->end.closing)
        proxy_end_read(&c->up->end, proxy_end_queued(&c->end) < QUEUE_HIGH);
}

static void on_client_data(struct proxy_end *e, const char *data, size_t len)
{
    struct proxy_conn *c = e->data;
    if (c->closing)
        return;
    if (c->state == PROXY_CONN_TUNNEL && c->up && c->in.len == 0) {
        c->req.bytes_up += len;
        proxy_end_send(&c->up->end, data, len);
        conn_flow(c);
        return;
    }
    if (c->state == PROXY_CONN_HEAD && c->head_deadline == 0 && c->in.len == 0)
        c->head_deadline = uv_now(c->hop->loop) + c->hop->opt.header_timeout_ms;
    if (buf_append(&c->in, data, len) != 0) {
        proxy_hop_log(c->hop, "client sent too much ahead; closing");
        conn_close(c, false);
        return;
    }
    conn_process(c);
}

static void on_client_eof(struct proxy_end *e, const char *why)
{
    struct proxy_conn *c = e->data;
    c->client_eof = true;
    if (why && c->state == PROXY_CONN_TLS)
        proxy_hop_log(c->hop, "TLS with the client for %s failed: %s",
                      c->connect_host ? c->connect_host : "?", why);
    /* A client that half-closes after its request still gets the answer. */
    if (!why && c->state == PROXY_CONN_WAIT) {
        conn_flow(c);
        return;
    }
    conn_close(c, c->state == PROXY_CONN_TUNNEL);
}

static void on_client_ready(struct proxy_end *e)
{
    struct proxy_conn *c = e->data;
    if (c->state != PROXY_CONN_TLS)
        return;
    /* The name the client asked TLS for must be the host it CONNECTed to. */
    const char *sni = proxy_tls_sni(c->end.tls);
    if (sni && !host_match(c->connect_host, sni)) {
        req_begin(c, "CONNECT");
        c->req.host = xstrdup(c->connect_host);
        c->req.port = c->connect_port;
        c->req.verdict.reason = "sni mismatch";
        snprintf(c->req.verdict.rule, sizeof c->req.verdict.rule, "CONNECT %s", c->connect_host);
        conn_block(c);
        return;
    }
    c->state = PROXY_CONN_HEAD;
    c->head_deadline = 0;
    conn_process(c);
}

static void on_client_drain(struct proxy_end *e)
{
    conn_flow(e->data);
}

static void on_timer_closed(uv_handle_t *h)
{
    struct proxy_conn *c = h->data;
    struct proxy_hop *hop = c->hop;
    req_reset(c);
    proxy_http_parser_free(&c->parser);
    buf_free(&c->in);
    free(c->connect_host);
    proxy_hop_conn_gone(hop, c);
    free(c);
}

static void on_client_closed(struct proxy_end *e)
{
    struct proxy_conn *c = e->data;
    uv_close((uv_handle_t *)&c->timer, on_timer_closed);
}

static const struct proxy_end_cbs client_cbs = {
    .on_data = on_client_data,
    .on_eof = on_client_eof,
    .on_ready = on_client_ready,
    .on_drain = on_client_drain,
    .on_closed = on_client_closed,
};

static void conn_close(struct proxy_conn *c, bool flush)
{
    if (c->closing) {
        if (!flush)
            proxy_end_close(&c->end, false);
        return;
    }
    c->closing = true;
    c->close_started = uv_now(c->hop->loop);
    if (c->req.active && c->state == PROXY_CONN_TUNNEL && c->passthrough) {
        c->req.status = 200;
    }
    req_log(c);
    if (c->up)
        pool_put(c->up);
    proxy_end_close(&c->end, flush);
}

static void on_tick(uv_timer_t *t)
{
    struct proxy_conn *c = t->data;
    uint64_t now = uv_now(c->hop->loop);
    const struct proxy_hop_options *o = &c->hop->opt;
    if (c->closing) {
        if (now - c->close_started > CLOSE_GRACE_MS)
            proxy_end_close(&c->end, false);
        return;
    }
    if (c->head_deadline && now > c->head_deadline) {
        bool started = c->in.len > 0 || c->parser.head_bytes > 0;
        if (c->state == PROXY_CONN_HEAD && started) {
            c->parser.head_bytes = 0;
            if (!c->req.active)
                req_begin(c, "-");
            conn_fail(c, 408, "header timeout", "bottle: request head timed out");
        } else {
            conn_close(c, false);
        }
        return;
    }
    if (c->up && !c->up->end.ready && !c->up->end.closing && c->req.active &&
        now - c->req.start_ms > o->connect_timeout_ms) {
        struct proxy_up *up = c->up;
        up_close(up);
        if (c->state == PROXY_CONN_TUNNEL) {
            conn_close(c, false);
        } else {
            proxy_hop_log(c->hop, "request %llu to %s:%d: upstream connect timed out",
                          (unsigned long long)c->req.id, c->req.host ? c->req.host : "?",
                          c->req.port);
            conn_fail(c, 504, "upstream timeout", "bottle: the upstream did not answer in time");
        }
        return;
    }
    uint64_t last = c->last_io;
    if (c->up && c->up->last_io > last)
        last = c->up->last_io;
    if (now - last > o->idle_timeout_ms)
        conn_close(c, false);
}

int proxy_conn_accept(struct proxy_hop *hop)
{
    struct proxy_conn *c = xcalloc(1, sizeof *c);
    c->hop = hop;
    int rc = proxy_end_init(&c->end, hop->loop, &client_cbs, c);
    if (rc < 0) {
        free(c);
        return rc;
    }
    rc = uv_accept((uv_stream_t *)&hop->listener, (uv_stream_t *)&c->end.tcp);
    if (rc < 0) {
        /* the handle is initialised: it must be closed, and freed there */
        c->closing = true;
        uv_timer_init(hop->loop, &c->timer);
        c->timer.data = c;
        buf_init(&c->in, IN_MAX);
        proxy_http_parser_init(&c->parser, on_body, c);
        c->next = hop->conns;
        if (hop->conns)
            hop->conns->prev = c;
        hop->conns = c;
        hop->nconns++;
        proxy_end_close(&c->end, false);
        return rc;
    }
    uv_timer_init(hop->loop, &c->timer);
    c->timer.data = c;
    buf_init(&c->in, IN_MAX);
    proxy_http_parser_init(&c->parser, on_body, c);
    c->next = hop->conns;
    if (hop->conns)
        hop->conns->prev = c;
    hop->conns = c;
    hop->nconns++;
    c->end.activity = &c->last_io;
    c->last_io = uv_now(hop->loop);
    c->head_deadline = c->last_io + hop->opt.header_timeout_ms;
    proxy_end_accepted(&c->end);
    uint64_t tick = hop->opt.header_timeout_ms / 4;
    if (tick > 1000)
        tick = 1000;
    if (tick < 50)
        tick = 50;
    uv_timer_start(&c->timer, on_tick, tick, tick);
    c->state = PROXY_CONN_HEAD;
    conn_flow(c);
    return 0;
}

void proxy_conn_drain(struct proxy_conn *c, bool force)
{
    if (force) {
        conn_close(c, false);
        return;
    }
    if (c->state == PROXY_CONN_HEAD && c->in.len == 0 && !c->req.active)
        conn_close(c, true);
}
