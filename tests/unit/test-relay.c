/* test-relay: TCP -> unix socket -> TCP relays carry bytes both ways, with half-close. */
#include "test.h"

#include "core/relay.h"
#include "core/util.h"

#define TOTAL (4u << 20)

struct echo_conn {
    uv_tcp_t tcp;
};

static void on_alloc(uv_handle_t *h, size_t s, uv_buf_t *b)
{
    (void)h;
    b->base = xmalloc(s);
    b->len = s;
}

static void on_echo_written(uv_write_t *w, int status)
{
    free(w->data);
    free(w);
}

static void on_echo_shutdown(uv_shutdown_t *r, int st)
{
    uv_close((uv_handle_t *)r->handle, (uv_close_cb)free);
    free(r);
}

static void on_echo_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    if (n < 0) {
        free(b->base);
        uv_shutdown_t *r = xmalloc(sizeof *r);
        uv_shutdown(r, s, on_echo_shutdown); /* echo the EOF: half-close works */
        return;
    }
    if (n == 0) {
        free(b->base);
        return;
    }
    uv_write_t *w = xmalloc(sizeof *w);
    w->data = b->base;
    uv_buf_t out = uv_buf_init(b->base, (unsigned)n);
    uv_write(w, s, &out, 1, on_echo_written);
}

static void on_echo_conn(uv_stream_t *server, int status)
{
    uv_tcp_t *c = xmalloc(sizeof *c);
    uv_tcp_init(server->loop, c);
    CHECK_INT(uv_accept(server, (uv_stream_t *)c), 0);
    uv_read_start((uv_stream_t *)c, on_alloc, on_echo_read);
}

struct client {
    uv_tcp_t tcp;
    uv_connect_t conn;
    char *data;
    size_t got;
    int sum_ok;
    bool eof;
    struct relay *r1, *r2;
    uv_tcp_t *server;
};

static void on_client_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct client *c = s->data;
    if (n > 0) {
        CHECK(c->got + (size_t)n <= TOTAL);
        CHECK(memcmp(c->data + c->got, b->base, (size_t)n) == 0);
        c->got += (size_t)n;
    } else if (n < 0) {
        c->eof = true;
        uv_close((uv_handle_t *)s, NULL);
        relay_close(c->r1);
        relay_close(c->r2);
        uv_close((uv_handle_t *)c->server, NULL);
    }
    free(b->base);
}

static void on_client_shutdown(uv_shutdown_t *r, int st)
{
    free(r);
}

static void on_client_written(uv_write_t *w, int st)
{
    CHECK_INT(st, 0);
    uv_shutdown_t *r = xmalloc(sizeof *r);
    uv_shutdown(r, w->handle, on_client_shutdown);
    free(w);
}

static void on_client_connected(uv_connect_t *req, int status)
{
    struct client *c = req->data;
    CHECK_INT(status, 0);
    c->tcp.data = c;
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_client_read);
    uv_write_t *w = xmalloc(sizeof *w);
    uv_buf_t b = uv_buf_init(c->data, TOTAL);
    uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, on_client_written);
}

static void tcp_unix_tcp(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    uv_tcp_t server;
    uv_tcp_init(&loop, &server);
    struct sockaddr_in sa;
    uv_ip4_addr("127.0.0.1", 0, &sa);
    CHECK_INT(uv_tcp_bind(&server, (struct sockaddr *)&sa, 0), 0);
    CHECK_INT(uv_listen((uv_stream_t *)&server, 16, on_echo_conn), 0);
    struct sockaddr_storage ss;
    int len = sizeof ss;
    uv_tcp_getsockname(&server, (struct sockaddr *)&ss, &len);
    int port = ntohs(((struct sockaddr_in *)&ss)->sin_port);

    char sock[] = "/tmp/bottle-relay-XXXXXX";
    CHECK(mkdtemp(sock));
    char *upath = xasprintf("unix:%s/s.sock", sock);
    char *target = xasprintf("127.0.0.1:%d", port);
    struct client c = {0};
    c.server = &server;
    CHECK_INT(relay_start(&loop, upath, target, &c.r1), 0);
    CHECK_INT(relay_start(&loop, "127.0.0.1:0", upath, &c.r2), 0);
    CHECK(relay_port(c.r2) > 0);
    CHECK(relay_start(&loop, "nonsense", upath, &c.r1) < 0);

    c.data = xmalloc(TOTAL);
    for (size_t i = 0; i < TOTAL; i++)
        c.data[i] = (char)(i * 7 + (i >> 11));
    uv_tcp_init(&loop, &c.tcp);
    c.conn.data = &c;
    uv_ip4_addr("127.0.0.1", relay_port(c.r2), &sa);
    uv_tcp_connect(&c.conn, &c.tcp, (struct sockaddr *)&sa, on_client_connected);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(c.eof);
    CHECK_INT(c.got, TOTAL);
    CHECK_INT(uv_loop_close(&loop), 0);
    char *p = xasprintf("%s/s.sock", sock);
    CHECK(access(p, F_OK) != 0); /* the socket file is removed on close */
    rmdir(sock);
    free(p);
    free(c.data);
    free(upath);
    free(target);
}

TEST_MAIN(T(tcp_unix_tcp))
