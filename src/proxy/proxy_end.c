/* proxy_end: one TCP end of a proxied connection, plain or via proxy_tls, in plaintext. */
#include "proxy/proxy_end.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define END_READ_MAX (64 * 1024)
#define END_PENDING_MAX                                                                            \
    (8 * 1024 * 1024) /* plaintext held until ready; the owner stops reading long before */

struct end_write {
    uv_write_t req;
    struct proxy_end *e;
    size_t len;
    char data[];
};

/* The loop's clock (updated as each turn wakes up), not a clock_gettime per
 * I/O: every timestamp the connection compares against comes from it. */
static void touch(struct proxy_end *e)
{
    if (e->activity)
        *e->activity = uv_now(e->tcp.loop);
}

static void fail(struct proxy_end *e, const char *why)
{
    if (e->closing || e->eof)
        return;
    e->eof = true;
    snprintf(e->err, sizeof e->err, "%s", why);
    e->cbs->on_eof(e, e->err);
}

static void on_write(uv_write_t *req, int status)
{
    struct end_write *w = (struct end_write *)req;
    struct proxy_end *e = w->e;
    free(w);
    if (status < 0) {
        if (status != UV_ECANCELED)
            fail(e, uv_strerror(status));
        return;
    }
    touch(e);
    if (!e->closing && e->cbs->on_drain)
        e->cbs->on_drain(e);
}

/* Send DATA to the socket. The common case, nothing queued and the socket
 * taking everything at once, goes out by uv_try_write: no request, no copy,
 * and no epoll re-arm (libuv re-arms the watcher after every uv_write). The
 * rest, and any error (reported through on_write, never from here), goes
 * through a queued uv_write of a copy. */
static int raw_write(struct proxy_end *e, const void *data, size_t len)
{
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    int n = uv_try_write((uv_stream_t *)&e->tcp, &b, 1);
    if (n > 0) {
        touch(e);
        if ((size_t)n == len)
            return 0;
        data = (const char *)data + n;
        len -= (size_t)n;
    }
    struct end_write *w = xmalloc(sizeof *w + len);
    w->e = e;
    w->len = len;
    memcpy(w->data, data, len);
    b = uv_buf_init(w->data, (unsigned)len);
    int rc = uv_write(&w->req, (uv_stream_t *)&e->tcp, &b, 1, on_write);
    if (rc < 0) {
        free(w);
        return rc;
    }
    return 0;
}

/* Move the engine's ciphertext to the socket, in writes as large as the
 * scratch allows: a 64 KiB response is four records and one write, not
 * four. (Draining by BIO_reset instead would save the copy, but a memory
 * BIO clears its whole capacity on reset.) raw_write never calls back, so
 * one scratch serves every end. */
static char flush_scratch[80 * 1024];

static int tls_flush(struct proxy_end *e)
{
    while (proxy_tls_pending(e->tls) > 0) {
        size_t n = proxy_tls_drain(e->tls, flush_scratch, sizeof flush_scratch);
        if (n == 0)
            break;
        if (raw_write(e, flush_scratch, n) < 0)
            return -1;
    }
    return 0;
}

static int send_now(struct proxy_end *e, const void *data, size_t len)
{
    e->bytes_out += len;
    if (!e->tls)
        return raw_write(e, data, len);
    if (proxy_tls_write(e->tls, data, len) == PROXY_TLS_ERROR)
        return -1;
    return tls_flush(e);
}

static void become_ready(struct proxy_end *e)
{
    e->ready = true;
    if (e->pending.len) {
        struct buf p = e->pending;
        buf_init(&e->pending, END_PENDING_MAX);
        int rc = send_now(e, p.p, p.len);
        buf_free(&p);
        if (rc < 0) {
            fail(e, "write failed");
            return;
        }
    }
    if (e->cbs->on_ready)
        e->cbs->on_ready(e);
}

/* Scratch for socket reads and decrypted plaintext. The loop is single-
 * threaded and a read is handed on before the next one starts, so one of
 * each serves every end (no 64 KiB malloc per read, no RSS per idle end).
 * Decryption can nest (a CONNECT handled inside on_data starts TLS on
 * bytes that already arrived): a nested call gets its own buffer. */
static char read_scratch[END_READ_MAX];
static char plain_scratch[END_READ_MAX];
static bool plain_busy;

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)h;
    (void)suggested;
    b->base = read_scratch;
    b->len = sizeof read_scratch;
}

static void tls_input(struct proxy_end *e, const char *data, size_t len)
{
    if (proxy_tls_feed(e->tls, data, len) != 0) {
        fail(e, "TLS feed failed");
        return;
    }
    if (!e->tls->done) {
        enum proxy_tls_result r = proxy_tls_handshake(e->tls);
        if (tls_flush(e) != 0) {
            fail(e, "write failed");
            return;
        }
        if (r == PROXY_TLS_ERROR) {
            fail(e, proxy_tls_error(e->tls));
            return;
        }
        if (r != PROXY_TLS_OK)
            return;
        become_ready(e);
        if (e->closing || e->eof)
            return;
    }
    bool own = plain_busy;
    char *plain = own ? xmalloc(END_READ_MAX) : plain_scratch;
    plain_busy = true;
    for (;;) {
        /* Decrypt every record that fits before handing them on: one on_data
         * (and one write onward) per batch, not one per 16 KiB record. */
        size_t have = 0;
        enum proxy_tls_result r = PROXY_TLS_OK;
        while (have < END_READ_MAX) {
            size_t n = 0;
            r = proxy_tls_read(e->tls, plain + have, END_READ_MAX - have, &n);
            if (r != PROXY_TLS_OK)
                break;
            have += n;
            /* Nothing left to decrypt: skip the read that would only say so
             * (with released buffers it costs an allocation, too). */
            if (!proxy_tls_readable(e->tls)) {
                r = PROXY_TLS_WANT_IO;
                break;
            }
        }
        if (have) {
            e->bytes_in += have;
            e->cbs->on_data(e, plain, have);
            if (e->closing || e->eof)
                break;
        }
        if (r == PROXY_TLS_OK)
            continue; /* the buffer filled up: more may follow */
        if (r == PROXY_TLS_EOF) {
            e->eof = true;
            e->cbs->on_eof(e, NULL);
        } else if (r == PROXY_TLS_ERROR) {
            fail(e, proxy_tls_error(e->tls));
        }
        break;
    }
    if (own)
        free(plain);
    else
        plain_busy = false;
    if (!e->closing && e->tls && tls_flush(e) != 0)
        fail(e, "write failed");
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct proxy_end *e = s->data;
    if (nread > 0 && !e->closing) {
        touch(e);
        if (e->tls) {
            tls_input(e, b->base, (size_t)nread);
        } else {
            e->bytes_in += (size_t)nread;
            e->cbs->on_data(e, b->base, (size_t)nread);
        }
    } else if (nread < 0 && !e->closing && !e->eof) {
        uv_read_stop(s);
        e->eof = true;
        if (nread == UV_EOF && (!e->tls || e->tls->done)) {
            e->cbs->on_eof(e, NULL);
        } else {
            snprintf(e->err, sizeof e->err, "%s",
                     nread == UV_EOF ? "connection closed during the TLS handshake"
                                     : uv_strerror((int)nread));
            e->cbs->on_eof(e, e->err);
        }
    }
}

static void update_reading(struct proxy_end *e)
{
    if (e->closing || e->eof || !e->open)
        return;
    /* A TLS handshake needs bytes whatever the owner wants. */
    bool want = e->reading || (e->tls && !e->tls->done);
    if (want)
        uv_read_start((uv_stream_t *)&e->tcp, on_alloc, on_read);
    else
        uv_read_stop((uv_stream_t *)&e->tcp);
}

int proxy_end_init(struct proxy_end *e, uv_loop_t *loop, const struct proxy_end_cbs *cbs,
                   void *data)
{
    memset(e, 0, sizeof *e);
    int rc = uv_tcp_init(loop, &e->tcp);
    if (rc < 0)
        return rc;
    e->tcp.data = e;
    e->cbs = cbs;
    e->data = data;
    buf_init(&e->pending, END_PENDING_MAX);
    return 0;
}

void proxy_end_accepted(struct proxy_end *e)
{
    e->ready = true;
    e->open = true;
    uv_tcp_nodelay(&e->tcp, 1);
}

static void on_connect(uv_connect_t *req, int status)
{
    struct proxy_end *e = req->data;
    e->connecting = false;
    if (e->closing)
        return;
    if (status < 0) {
        fail(e, uv_strerror(status));
        return;
    }
    touch(e);
    e->open = true;
    uv_tcp_nodelay(&e->tcp, 1);
    if (e->tls) {
        update_reading(e);
        proxy_tls_handshake(e->tls);
        if (tls_flush(e) != 0)
            fail(e, "write failed");
        return;
    }
    update_reading(e);
    become_ready(e);
}

int proxy_end_connect(struct proxy_end *e, const struct sockaddr *addr, struct proxy_tls *tls)
{
    e->tls = tls;
    e->creq.data = e;
    int rc = uv_tcp_connect(&e->creq, &e->tcp, addr, on_connect);
    if (rc < 0)
        return rc;
    e->connecting = true;
    return 0;
}

void proxy_end_start_tls(struct proxy_end *e, struct proxy_tls *tls, const char *initial,
                         size_t len)
{
    e->tls = tls;
    e->ready = false;
    update_reading(e);
    if (len)
        tls_input(e, initial, len);
}

int proxy_end_send(struct proxy_end *e, const void *data, size_t len)
{
    if (e->closing || e->eof)
        return -1;
    if (len == 0)
        return 0;
    if (!e->ready) {
        if (buf_append(&e->pending, data, len) != 0) {
            fail(e, "too much data queued before the connection was ready");
            return -1;
        }
        return 0;
    }
    if (send_now(e, data, len) != 0) {
        fail(e, "write failed");
        return -1;
    }
    return 0;
}

size_t proxy_end_queued(struct proxy_end *e)
{
    return e->pending.len + uv_stream_get_write_queue_size((uv_stream_t *)&e->tcp);
}

void proxy_end_read(struct proxy_end *e, bool on)
{
    if (e->reading == on)
        return;
    e->reading = on;
    update_reading(e);
}

static void on_close(uv_handle_t *h)
{
    struct proxy_end *e = h->data;
    proxy_tls_free(e->tls);
    e->tls = NULL;
    buf_free(&e->pending);
    e->cbs->on_closed(e);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)status;
    struct proxy_end *e = req->data;
    if (!uv_is_closing((uv_handle_t *)&e->tcp))
        uv_close((uv_handle_t *)&e->tcp, on_close);
}

void proxy_end_close(struct proxy_end *e, bool flush)
{
    if (e->closing) {
        /* A second, non-flushing close cuts a shutdown that is stuck behind
         * a peer that does not read. */
        if (!flush && !uv_is_closing((uv_handle_t *)&e->tcp))
            uv_close((uv_handle_t *)&e->tcp, on_close);
        return;
    }
    e->closing = true;
    uv_read_stop((uv_stream_t *)&e->tcp);
    if (flush && e->ready && !e->connecting) {
        if (e->tls) {
            proxy_tls_shutdown(e->tls);
            tls_flush(e);
        }
        e->sreq.data = e;
        if (uv_shutdown(&e->sreq, (uv_stream_t *)&e->tcp, on_shutdown) == 0)
            return;
    }
    uv_close((uv_handle_t *)&e->tcp, on_close);
}

void proxy_end_peer(struct proxy_end *e, char *out, size_t cap)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    char ip[64] = "?";
    int port = 0;
    out[0] = 0;
    if (uv_tcp_getpeername(&e->tcp, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET) {
            uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof ip);
            port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof ip);
            port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        }
    }
    snprintf(out, cap, "%s:%d", ip, port);
}
