/* proxy_hop: one running hop: listener, CA, live config, signals and event output. */
#include "proxy/proxy_hop.h"

#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/event.h"
#include "proxy/proxy_conn.h"
#include "proxy/proxy_http.h"
#include "proxy/proxy_tls.h"

#define DRAIN_MAX_MS 10000

static void on_flush(uv_prepare_t *p)
{
    uv_prepare_stop(p);
    fflush(stdout);
}

/* Flushed once per loop turn, before the loop waits (on_flush): the events
 * of one turn share a write instead of costing one each, and an event is
 * out before its client can act on the answer. */
static void flush_soon(struct proxy_hop *hop)
{
    if (hop->flush_ready && !hop->stopped)
        uv_prepare_start(&hop->flush, on_flush);
    else
        fflush(stdout);
}

void proxy_hop_emit(struct proxy_hop *hop, cJSON *ev)
{
    if (!ev)
        return;
    char *line = event_to_line(ev);
    cJSON_Delete(ev);
    if (!line)
        return;
    fputs(line, stdout);
    free(line);
    flush_soon(hop);
}

/* ---- the request event, serialised directly -------------------------------
 * One `request` event per request is the hot path's only JSON. Building it
 * as a cJSON tree costs ~20 allocations and a printf/scanf round trip per
 * number; this writes the same bytes as event_to_line(event_request(...))
 * (field order, cJSON's escapes, integers as cJSON prints them), which
 * test-proxy-http checks. */

#define JSON_INT_MAX 999999999999999ULL /* cJSON's %1.15g prints these as plain digits */

/* The line is written into memory sized beforehand (json_bound), without
 * a bounds check or a call per piece. */
static size_t json_bound(const char *s)
{
    return s ? 6 * strlen(s) + 2 : 0; /* each byte at worst as \u00XX, and quotes */
}

static char *json_str(char *o, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    *o++ = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char ch = *p;
        if (ch >= 32 && ch != '"' && ch != '\\') {
            *o++ = (char)ch;
            continue;
        }
        *o++ = '\\';
        switch (ch) {
        case '"':
        case '\\':
            *o++ = (char)ch;
            break;
        case '\b':
            *o++ = 'b';
            break;
        case '\f':
            *o++ = 'f';
            break;
        case '\n':
            *o++ = 'n';
            break;
        case '\r':
            *o++ = 'r';
            break;
        case '\t':
            *o++ = 't';
            break;
        default:
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = hex[ch >> 4];
            *o++ = hex[ch & 15];
        }
    }
    *o++ = '"';
    return o;
}

/* KEY is a literal: ",\"KEY\":" is written whole. */
#define JSON_KEY(o, key) (memcpy((o), ",\"" key "\":", sizeof(key) + 3), (o) + sizeof(key) + 3)

static char *json_uint(char *o, uint64_t v)
{
    char digits[24];
    size_t n = sizeof digits;
    do {
        digits[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    memcpy(o, digits + n, sizeof digits - n);
    return o + (sizeof digits - n);
}

int proxy_hop_request_line(struct buf *out, const char *ts, const char *bottle,
                           const struct event_request *r)
{
    if (r->id > JSON_INT_MAX || r->bytes_up > JSON_INT_MAX || r->bytes_down > JSON_INT_MAX ||
        (r->ms >= 0 && (uint64_t)r->ms > JSON_INT_MAX))
        return -1;
    if (!bottle)
        bottle = "";
    /* fixed text and numbers (keys, 8 numbers of at most 20 digits) stay well under 512 */
    size_t bound = 512 + json_bound(ts) + json_bound(bottle) + json_bound(r->hop) +
                   json_bound(r->method) + json_bound(r->scheme) + json_bound(r->host) +
                   json_bound(r->path) + json_bound(r->verdict) + json_bound(r->reason) +
                   json_bound(r->rule) + json_bound(r->auth);
    char small[2048];
    char *line = bound <= sizeof small ? small : xmalloc(bound);
    char *o = line;
    memcpy(o, "{\"ts\":", 6);
    o = json_str(o + 6, ts);
    o = json_str(JSON_KEY(o, "bottle"), bottle);
    o = json_str(JSON_KEY(o, "type"), "request");
    /* left out when unknown, as event_request does */
    if (r->hop)
        o = json_str(JSON_KEY(o, "hop"), r->hop);
    o = json_uint(JSON_KEY(o, "id"), r->id);
    if (r->method)
        o = json_str(JSON_KEY(o, "method"), r->method);
    if (r->scheme)
        o = json_str(JSON_KEY(o, "scheme"), r->scheme);
    if (r->host)
        o = json_str(JSON_KEY(o, "host"), r->host);
    if (r->port > 0)
        o = json_uint(JSON_KEY(o, "port"), (uint64_t)r->port);
    if (r->path)
        o = json_str(JSON_KEY(o, "path"), r->path);
    if (r->status > 0)
        o = json_uint(JSON_KEY(o, "status"), (uint64_t)r->status);
    o = json_uint(JSON_KEY(o, "bytes_up"), r->bytes_up);
    o = json_uint(JSON_KEY(o, "bytes_down"), r->bytes_down);
    if (r->ms >= 0)
        o = json_uint(JSON_KEY(o, "ms"), (uint64_t)r->ms);
    if (r->verdict)
        o = json_str(JSON_KEY(o, "verdict"), r->verdict);
    if (r->reason)
        o = json_str(JSON_KEY(o, "reason"), r->reason);
    if (r->rule)
        o = json_str(JSON_KEY(o, "rule"), r->rule);
    if (r->auth)
        o = json_str(JSON_KEY(o, "auth"), r->auth);
    memcpy(o, "}\n", 2);
    o += 2;
    int rc = buf_append(out, line, (size_t)(o - line));
    if (line != small)
        free(line);
    return rc;
}

void proxy_hop_scratch_done(struct buf *b)
{
    if (b->cap > 16 * 1024)
        buf_free(b);
    else
        buf_reset(b);
}

/* The event timestamp, as time_rfc3339_ms writes it; the date and time
 * part is formatted once per second, not per request. */
static void timestamp(struct proxy_hop *hop, char out[32])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (!hop->ts_text[0] || (int64_t)ts.tv_sec != hop->ts_sec) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        if (strftime(hop->ts_text, sizeof hop->ts_text, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
            hop->ts_text[0] = 0;
        hop->ts_sec = (int64_t)ts.tv_sec;
    }
    size_t n = strlen(hop->ts_text);
    long ms = ts.tv_nsec / 1000000;
    memcpy(out, hop->ts_text, n);
    out[n++] = '.';
    out[n++] = (char)('0' + ms / 100);
    out[n++] = (char)('0' + ms / 10 % 10);
    out[n++] = (char)('0' + ms % 10);
    out[n++] = 'Z';
    out[n] = 0;
}

void proxy_hop_emit_request(struct proxy_hop *hop, const struct event_request *r)
{
    char ts[32];
    timestamp(hop, ts);
    struct buf *line = &hop->line_out;
    buf_reset(line);
    if (proxy_hop_request_line(line, ts, hop->bottle, r) != 0) {
        proxy_hop_scratch_done(line);
        proxy_hop_emit(hop, event_request(hop->bottle, r)); /* numbers past cJSON's %d range */
        return;
    }
    fwrite(line->p, 1, line->len, stdout);
    proxy_hop_scratch_done(line);
    /* A block is rare and is what a watcher acts on: out at once, before
     * the client sees the connection answered or closed. */
    if (r->verdict && strcmp(r->verdict, "block") == 0)
        fflush(stdout);
    else
        flush_soon(hop);
}

void proxy_hop_log(struct proxy_hop *hop, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bottle-proxy %s: ", proxy_role_name(hop->opt.role));
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* "ADDR:PORT" or "[V6]:PORT"; HOST may be a name when RESOLVE is set. */
static int parse_addr(const char *text, bool resolve, struct sockaddr_storage *out)
{
    char host[256];
    int port = -1;
    const char *colon = strrchr(text, ':');
    if (!colon || colon == text)
        return -1;
    size_t hl = (size_t)(colon - text);
    if (text[0] == '[' && colon[-1] == ']') {
        text++;
        hl -= 2;
    }
    if (hl >= sizeof host)
        return -1;
    memcpy(host, text, hl);
    host[hl] = 0;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || p < 0 || p > 65535 || end == colon + 1)
        return -1;
    port = (int)p;
    memset(out, 0, sizeof *out);
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)out) == 0)
        return 0;
    if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)out) == 0)
        return 0;
    if (!resolve)
        return -1;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    if (getaddrinfo(host, ps, &hints, &res) != 0 || !res)
        return -1;
    memcpy(out, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}

static void sockaddr_text(const struct sockaddr_storage *ss, char *out, size_t cap)
{
    char ip[64] = "?";
    int port = 0;
    if (ss->ss_family == AF_INET) {
        uv_ip4_name((const struct sockaddr_in *)ss, ip, sizeof ip);
        port = ntohs(((const struct sockaddr_in *)ss)->sin_port);
        snprintf(out, cap, "%s:%d", ip, port);
    } else {
        uv_ip6_name((const struct sockaddr_in6 *)ss, ip, sizeof ip);
        port = ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
        snprintf(out, cap, "[%s]:%d", ip, port);
    }
}

static void on_connection(uv_stream_t *s, int status)
{
    struct proxy_hop *hop = s->data;
    if (status < 0) {
        proxy_hop_log(hop, "accept: %s", uv_strerror(status));
        return;
    }
    if (hop->draining)
        return;
    int rc = proxy_conn_accept(hop);
    if (rc < 0)
        proxy_hop_log(hop, "accept: %s", uv_strerror(rc));
}

static void reload(struct proxy_hop *hop)
{
    struct buf errors;
    buf_init(&errors, 64 * 1024);
    struct proxy_config *cfg =
        proxy_config_load(hop->opt.role, hop->opt.config, hop->opt.allow_file, &errors);
    if (!cfg) {
        proxy_hop_log(hop, "reload failed; keeping the previous config:\n%s",
                      errors.p ? errors.p : "");
        buf_free(&errors);
        return;
    }
    buf_free(&errors);
    proxy_config_unref(hop->cfg);
    hop->cfg = cfg;
    /* pooled connections were made under the old trust and resolve rules */
    proxy_conn_pool_clear(hop);
    /* stderr only: a `hop` event with "restarted" means a new process to the supervisor */
    if (hop->opt.allow_file)
        proxy_hop_log(hop, "config reloaded from %s and %s", hop->opt.config, hop->opt.allow_file);
    else
        proxy_hop_log(hop, "config reloaded from %s", hop->opt.config);
}

static void finish(struct proxy_hop *hop)
{
    if (hop->stopped)
        return;
    hop->stopped = true;
    proxy_hop_emit(hop, event_hop(hop->bottle, proxy_role_name(hop->opt.role), hop->listen_text,
                                  (long)getpid(), "down"));
    uv_close((uv_handle_t *)&hop->sighup, NULL);
    uv_close((uv_handle_t *)&hop->sigterm, NULL);
    uv_close((uv_handle_t *)&hop->sigint, NULL);
    uv_close((uv_handle_t *)&hop->drain_timer, NULL);
    uv_close((uv_handle_t *)&hop->flush, NULL);
    fflush(stdout);
}

static void on_drain_timeout(uv_timer_t *t)
{
    struct proxy_hop *hop = t->data;
    for (struct proxy_conn *c = hop->conns; c; c = c->next)
        proxy_conn_drain(c, true);
}

static void drain(struct proxy_hop *hop)
{
    if (hop->draining)
        return;
    hop->draining = true;
    uv_close((uv_handle_t *)&hop->listener, NULL);
    proxy_conn_pool_clear(hop);
    for (struct proxy_conn *c = hop->conns; c; c = c->next)
        proxy_conn_drain(c, false);
    if (hop->nconns == 0)
        finish(hop);
    else
        uv_timer_start(&hop->drain_timer, on_drain_timeout, DRAIN_MAX_MS, 0);
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct proxy_hop *hop = s->data;
    if (signum == SIGHUP)
        reload(hop);
    else
        drain(hop);
}

SSL_CTX *proxy_hop_server_ctx(struct proxy_hop *hop)
{
    if (!hop->server_ctx) {
        const char *err = NULL;
        hop->server_ctx = proxy_tls_server_ctx(&err);
        if (!hop->server_ctx)
            proxy_hop_log(hop, "TLS: %s", err);
    }
    return hop->server_ctx;
}

void proxy_hop_conn_gone(struct proxy_hop *hop, struct proxy_conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else if (hop->conns == c)
        hop->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    hop->nconns--;
    if (hop->draining && hop->nconns == 0)
        finish(hop);
}

int proxy_hop_start(struct proxy_hop *hop, uv_loop_t *loop, const struct proxy_hop_options *opt)
{
    memset(hop, 0, sizeof *hop);
    hop->loop = loop;
    hop->opt = *opt;
    struct sockaddr_storage addr;
    char err[512];
    struct buf errors;
    buf_init(&errors, 64 * 1024);
    if (parse_addr(opt->listen, false, &addr) != 0) {
        proxy_hop_log(hop, "--listen %s: expected ADDR:PORT with a numeric address", opt->listen);
        goto error;
    }
    if (opt->parent) {
        if (opt->role != PROXY_EGRESS) {
            proxy_hop_log(hop, "--parent is for egress only");
            goto error;
        }
        if (parse_addr(opt->parent, true, &hop->parent) != 0) {
            proxy_hop_log(hop, "--parent %s: expected HOST:PORT", opt->parent);
            goto error;
        }
        hop->has_parent = true;
    }
    if (proxy_ca_init(&hop->ca, opt->ca_dir, err, sizeof err) != 0) {
        proxy_hop_log(hop, "CA: %s", err);
        goto error;
    }
    hop->cfg = proxy_config_load(opt->role, opt->config, opt->allow_file, &errors);
    if (!hop->cfg) {
        proxy_hop_log(hop, "cannot load %s:\n%s", opt->config, errors.p ? errors.p : "");
        goto error;
    }
    hop->bottle = xstrdup(opt->bottle ? opt->bottle : hop->cfg->m->name);
    uv_tcp_init(loop, &hop->listener);
    hop->listener.data = hop;
    int rc = uv_tcp_bind(&hop->listener, (struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&hop->listener, 1024, on_connection);
    if (rc < 0) {
        proxy_hop_log(hop, "cannot listen on %s: %s", opt->listen, uv_strerror(rc));
        uv_close((uv_handle_t *)&hop->listener, NULL);
        uv_run(loop, UV_RUN_NOWAIT);
        goto error;
    }
    int len = sizeof addr;
    uv_tcp_getsockname(&hop->listener, (struct sockaddr *)&addr, &len);
    sockaddr_text(&addr, hop->listen_text, sizeof hop->listen_text);
    uv_signal_init(loop, &hop->sighup);
    uv_signal_init(loop, &hop->sigterm);
    uv_signal_init(loop, &hop->sigint);
    uv_timer_init(loop, &hop->drain_timer);
    uv_prepare_init(loop, &hop->flush);
    hop->flush_ready = true;
    hop->sighup.data = hop->sigterm.data = hop->sigint.data = hop->drain_timer.data = hop;
    uv_signal_start(&hop->sighup, on_signal, SIGHUP);
    uv_signal_start(&hop->sigterm, on_signal, SIGTERM);
    uv_signal_start(&hop->sigint, on_signal, SIGINT);
    buf_free(&errors);
    proxy_hop_emit(hop, event_hop(hop->bottle, proxy_role_name(opt->role), hop->listen_text,
                                  (long)getpid(), "up"));
    return 0;
error:
    buf_free(&errors);
    proxy_hop_free(hop);
    return -1;
}

void proxy_hop_free(struct proxy_hop *hop)
{
    proxy_config_unref(hop->cfg);
    hop->cfg = NULL;
    SSL_CTX_free(hop->server_ctx);
    hop->server_ctx = NULL;
    proxy_ca_free(&hop->ca);
    free(hop->bottle);
    hop->bottle = NULL;
    buf_free(&hop->head_out);
    buf_free(&hop->line_out);
}
