/* relay: a byte relay from a listening address (TCP or unix socket) to a target address, on libuv.
 */
#include "core/relay.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util.h"

/* Past this many bytes queued towards one side, stop reading the other. */
#define RELAY_HIGH_WATER (1u << 20)
#define RELAY_READ_SIZE 65536

union stream {
    uv_handle_t h;
    uv_stream_t s;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
};

struct rconn {
    struct relay *r;
    union stream side[2]; /* 0: accepted, 1: to the target */
    uv_connect_t connect;
    bool connected, eof[2];
    int open; /* handles not yet closed */
    struct rconn *next, *prev;
};

struct relay {
    uv_loop_t *loop;
    union stream listener;
    struct relay_addr listen, target;
    struct rconn *conns;
    bool closing;
    int port;
};

int relay_addr_parse(const char *s, struct relay_addr *a)
{
    memset(a, 0, sizeof *a);
    if (str_has_prefix(s, "unix:")) {
        if (strlen(s + 5) == 0 || strlen(s + 5) >= sizeof a->path)
            return UV_EINVAL;
        a->is_unix = true;
        strcpy(a->path, s + 5);
        return 0;
    }
    const char *colon = strrchr(s, ':');
    if (!colon)
        return UV_EINVAL;
    int port = atoi(colon + 1);
    if (port < 0 || port > 65535)
        return UV_EINVAL;
    char host[64];
    size_t hl = (size_t)(colon - s);
    if (hl >= sizeof host)
        return UV_EINVAL;
    memcpy(host, s, hl);
    host[hl] = '\0';
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
        host[hl - 1] = '\0';
        return uv_ip6_addr(host + 1, port, (struct sockaddr_in6 *)&a->ss);
    }
    return uv_ip4_addr(host, port, (struct sockaddr_in *)&a->ss);
}

static void on_conn_closed(uv_handle_t *h)
{
    struct rconn *c = h->data;
    if (--c->open > 0)
        return;
    struct relay *r = c->r;
    if (c->prev)
        c->prev->next = c->next;
    else
        r->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c);
    if (r->closing && !r->conns && uv_is_closing(&r->listener.h) && !r->listener.h.data)
        free(r);
}

static void conn_close(struct rconn *c)
{
    for (int i = 0; i < 2; i++)
        if (c->side[i].h.type != UV_UNKNOWN_HANDLE && !uv_is_closing(&c->side[i].h))
            uv_close(&c->side[i].h, on_conn_closed);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    buf->base = xmalloc(RELAY_READ_SIZE);
    buf->len = RELAY_READ_SIZE;
}

struct wreq {
    uv_write_t w;
    struct rconn *c;
    int to;
    char *base;
};

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

static void on_written(uv_write_t *w, int status)
{
    struct wreq *q = (struct wreq *)w;
    struct rconn *c = q->c;
    int to = q->to;
    free(q->base);
    free(q);
    if (status < 0) {
        conn_close(c);
        return;
    }
    /* Drained below the mark: resume reading the other side. */
    uv_stream_t *dst = &c->side[to].s;
    uv_stream_t *src = &c->side[1 - to].s;
    if (!uv_is_closing((uv_handle_t *)src) && !c->eof[1 - to] &&
        dst->write_queue_size < RELAY_HIGH_WATER)
        uv_read_start(src, on_alloc, on_read);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct rconn *c = req->data;
    free(req);
    if (status < 0 || (c->eof[0] && c->eof[1]))
        conn_close(c);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct rconn *c = s->data;
    int from = s == &c->side[0].s ? 0 : 1, to = 1 - from;
    if (n == 0) {
        free(buf->base);
        return;
    }
    if (n < 0) {
        free(buf->base);
        uv_read_stop(s);
        c->eof[from] = true;
        if (n != UV_EOF || uv_is_closing(&c->side[to].h)) {
            conn_close(c);
            return;
        }
        /* Half-close: pass the EOF on, keep the other direction flowing. */
        uv_shutdown_t *req = xmalloc(sizeof *req);
        req->data = c;
        if (uv_shutdown(req, &c->side[to].s, on_shutdown) != 0) {
            free(req);
            conn_close(c);
        }
        return;
    }
    struct wreq *q = xmalloc(sizeof *q);
    q->c = c;
    q->to = to;
    q->base = buf->base;
    uv_buf_t b = uv_buf_init(buf->base, (unsigned)n);
    if (uv_write(&q->w, &c->side[to].s, &b, 1, on_written) != 0) {
        free(q->base);
        free(q);
        conn_close(c);
        return;
    }
    if (c->side[to].s.write_queue_size >= RELAY_HIGH_WATER)
        uv_read_stop(s);
}

static void on_target_connected(uv_connect_t *req, int status)
{
    struct rconn *c = req->data;
    if (status < 0 || uv_is_closing(&c->side[0].h)) {
        conn_close(c);
        return;
    }
    c->connected = true;
    uv_read_start(&c->side[0].s, on_alloc, on_read);
    uv_read_start(&c->side[1].s, on_alloc, on_read);
}

static int stream_init(uv_loop_t *loop, const struct relay_addr *a, union stream *s)
{
    return a->is_unix ? uv_pipe_init(loop, &s->pipe, 0) : uv_tcp_init(loop, &s->tcp);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct relay *r = server->data;
    if (status < 0)
        return;
    struct rconn *c = xcalloc(1, sizeof *c);
    c->r = r;
    stream_init(r->loop, &r->listen, &c->side[0]);
    c->side[0].h.data = c;
    c->open = 1;
    c->next = r->conns;
    if (r->conns)
        r->conns->prev = c;
    r->conns = c;
    if (uv_accept(server, &c->side[0].s) != 0) {
        conn_close(c);
        return;
    }
    stream_init(r->loop, &r->target, &c->side[1]);
    c->side[1].h.data = c;
    c->open = 2;
    c->connect.data = c;
    int rc;
    if (r->target.is_unix) {
        uv_pipe_connect(&c->connect, &c->side[1].pipe, r->target.path, on_target_connected);
        rc = 0;
    } else {
        rc = uv_tcp_connect(&c->connect, &c->side[1].tcp, (struct sockaddr *)&r->target.ss,
                            on_target_connected);
    }
    if (rc != 0)
        conn_close(c);
}

static void on_failed_close(uv_handle_t *h)
{
    free(h->data);
}

int relay_start(uv_loop_t *loop, const char *listen, const char *target, struct relay **out)
{
    struct relay *r = xcalloc(1, sizeof *r);
    r->loop = loop;
    int rc = relay_addr_parse(listen, &r->listen);
    if (rc == 0)
        rc = relay_addr_parse(target, &r->target);
    if (rc != 0) {
        free(r);
        return rc;
    }
    stream_init(loop, &r->listen, &r->listener);
    r->listener.h.data = r;
    if (r->listen.is_unix) {
        unlink(r->listen.path);
        rc = uv_pipe_bind(&r->listener.pipe, r->listen.path);
        if (rc == 0)
            chmod(r->listen.path, 0600);
    } else {
        rc = uv_tcp_bind(&r->listener.tcp, (struct sockaddr *)&r->listen.ss, 0);
    }
    if (rc == 0)
        rc = uv_listen(&r->listener.s, 128, on_connection);
    if (rc != 0) {
        /* The handle lives inside r: free r once its close has run. */
        r->closing = true;
        uv_close(&r->listener.h, on_failed_close);
        return rc;
    }
    if (!r->listen.is_unix) {
        struct sockaddr_storage ss;
        int len = sizeof ss;
        uv_tcp_getsockname(&r->listener.tcp, (struct sockaddr *)&ss, &len);
        r->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                 : ((struct sockaddr_in *)&ss)->sin_port);
    }
    *out = r;
    return 0;
}

int relay_port(const struct relay *r)
{
    return r->port;
}

int relay_set_target(struct relay *r, const char *target)
{
    struct relay_addr a;
    int rc = relay_addr_parse(target, &a);
    if (rc == 0)
        r->target = a;
    return rc;
}

static void on_listener_closed(uv_handle_t *h)
{
    struct relay *r = h->data;
    h->data = NULL;
    if (!r->conns)
        free(r);
}

void relay_close(struct relay *r)
{
    if (!r || r->closing)
        return;
    r->closing = true;
    if (r->listen.is_unix)
        unlink(r->listen.path);
    for (struct rconn *c = r->conns; c; c = c->next)
        conn_close(c);
    uv_close(&r->listener.h, on_listener_closed);
}
