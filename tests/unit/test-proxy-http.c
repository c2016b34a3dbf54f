/* test-proxy-http: request heads, targets, smuggling refusals, response tracking, egress values,
 * request event lines. */
#include "core/event.h"
#include "proxy/proxy_egress.h"
#include "proxy/proxy_hop.h"
#include "proxy/proxy_http.h"
#include "test.h"

struct sink {
    struct buf body;
};

static int on_body(void *data, const char *at, size_t len)
{
    struct sink *s = data;
    return buf_append(&s->body, at, len);
}

/* Feed IN byte by byte (the hardest split) and collect events into a string. */
static char *events(const char *in, size_t len, struct sink *s, int *status)
{
    struct proxy_http_parser ps;
    struct buf ev;
    buf_init(&ev, 0);
    buf_init(&s->body, 0);
    proxy_http_parser_init(&ps, on_body, s);
    *status = 0;
    for (size_t off = 0; off <= len;) {
        size_t step = off < len ? 1 : 0, n = 0;
        enum proxy_http_event e = proxy_http_parser_feed(&ps, in + off, step, &n);
        off += n;
        if (e == PROXY_HTTP_HEAD) {
            buf_appendf(&ev, "H(%s %s)", ps.head.method, ps.head.url);
        } else if (e == PROXY_HTTP_END) {
            buf_appendf(&ev, "E");
            proxy_http_parser_next(&ps);
        } else if (e == PROXY_HTTP_UPGRADE) {
            buf_appendf(&ev, "U@%zu", off);
            break;
        } else if (e == PROXY_HTTP_ERROR) {
            *status = ps.status;
            buf_appendf(&ev, "X%d", ps.status);
            break;
        } else if (off == len) {
            break;
        }
    }
    proxy_http_parser_free(&ps);
    return ev.p ? ev.p : xstrdup("");
}

#define EV(lit, expect, expect_status)                                                             \
    do {                                                                                           \
        struct sink s_;                                                                            \
        int st_;                                                                                   \
        char *e_ = events(lit, sizeof(lit) - 1, &s_, &st_);                                        \
        CHECK_STR(e_, expect);                                                                     \
        CHECK_INT(st_, expect_status);                                                             \
        free(e_);                                                                                  \
        buf_free(&s_.body);                                                                        \
    } while (0)

#define H "POST http://a.test/x HTTP/1.1\r\nHost: a.test\r\n"

static void parse_flows(void)
{
    EV("GET http://a.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n", "H(GET http://a.test/)E", 0);
    EV(H "Content-Length: 3\r\n\r\nabc", "H(POST http://a.test/x)E", 0);
    EV(H "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", "H(POST http://a.test/x)E", 0);
    EV("GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n", "H(GET /)EH(GET /2)E",
       0);
    EV("CONNECT a.test:443 HTTP/1.1\r\nHost: a.test:443\r\n\r\n\x16\x03",
       "H(CONNECT a.test:443)U@49", 0);
    EV("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
       "H(GET /ws)U@70", 0);
}

static void smuggling_refused(void)
{
    EV(H "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "X400", 400);
    EV(H "Content-Length: 4\r\nContent-Length: 5\r\n\r\nabcd", "X400", 400);
    EV(H "X-A: a\r\n b\r\nContent-Length: 0\r\n\r\n", "X400", 400);
    EV(H "Transfer-Encoding: chunked\r\n\r\nzz\r\n", "H(POST http://a.test/x)X400", 400);
    EV(H "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", "X400", 400);
    EV(H "Transfer-Encoding: identity\r\n\r\n", "X400", 400);
    EV(H "Bad Name: x\r\n\r\n", "X400", 400);
    EV("GET / HTTP/1.1\nHost: a\n\n", "X400", 400);
    EV(H "Expect: something\r\n\r\n", "X417", 417);
}

static void limits(void)
{
    struct sink s;
    int st;
    struct buf in;
    buf_init(&in, 0);
    buf_appendf(&in, "GET /");
    for (int i = 0; i < PROXY_HTTP_URL_MAX; i++)
        buf_append(&in, "a", 1);
    buf_appendf(&in, " HTTP/1.1\r\n\r\n");
    char *e = events(in.p, in.len, &s, &st);
    CHECK_INT(st, 414);
    free(e);
    buf_free(&s.body);
    buf_reset(&in);
    buf_appendf(&in, "GET / HTTP/1.1\r\nX: ");
    for (int i = 0; i < PROXY_HTTP_HEAD_MAX; i++)
        buf_append(&in, "b", 1);
    buf_appendf(&in, "\r\n\r\n");
    e = events(in.p, in.len, &s, &st);
    CHECK_INT(st, 431);
    free(e);
    buf_free(&s.body);
    buf_free(&in);
}

static struct proxy_http_head parse_one(const char *in)
{
    struct proxy_http_parser ps;
    struct sink s;
    buf_init(&s.body, 0);
    proxy_http_parser_init(&ps, on_body, &s);
    size_t n;
    CHECK(proxy_http_parser_feed(&ps, in, strlen(in), &n) == PROXY_HTTP_HEAD);
    struct proxy_http_head h = ps.head;
    memset(&ps.head, 0, sizeof ps.head);
    proxy_http_parser_free(&ps);
    buf_free(&s.body);
    return h;
}

static void rewrite_head(void)
{
    struct proxy_http_head h =
        parse_one("POST https://api.x.test/v1?a=1 HTTP/1.1\r\nHost: api.x.test\r\n"
                  "Authorization: Bearer placeholder\r\nauthorization: Bearer second\r\n"
                  "Proxy-Connection: keep-alive\r\nProxy-Authorization: Basic eA==\r\n"
                  "Connection: keep-alive, X-Drop\r\nX-Drop: 1\r\nKeep-Alive: 5\r\nTE: trailers\r\n"
                  "Expect: 100-continue\r\nTransfer-Encoding: chunked\r\nX-Keep: yes  \r\n\r\n");
    CHECK(h.chunked && h.expect_continue && !h.has_length);
    CHECK_STR(proxy_http_head_get(&h, "x-keep"), "yes"); /* trailing blanks dropped */
    proxy_http_head_set(&h, "Authorization", "Bearer REAL");
    struct buf out;
    buf_init(&out, 0);
    CHECK(proxy_http_head_serialize(&h, "/v1?a=1", NULL, PROXY_HTTP_LENGTH, 42, &out) == 0);
    CHECK_STR(out.p, "POST /v1?a=1 HTTP/1.1\r\nHost: api.x.test\r\nX-Keep: yes\r\n"
                     "Authorization: Bearer REAL\r\nContent-Length: 42\r\n\r\n");
    buf_free(&out);
    proxy_http_head_free(&h);

    h = parse_one(
        "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
    buf_init(&out, 0);
    CHECK(proxy_http_head_serialize(&h, "https://a/ws", NULL, PROXY_HTTP_NO_BODY, 0, &out) == 0);
    CHECK_STR(out.p, "GET https://a/ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
                     "Connection: upgrade\r\n\r\n");
    buf_free(&out);
    proxy_http_head_free(&h);

    h = parse_one("GET http://a.test/ HTTP/1.0\r\n\r\n");
    buf_init(&out, 0);
    CHECK(proxy_http_head_serialize(&h, "/", "a.test", PROXY_HTTP_NO_BODY, 0, &out) == 0);
    CHECK_STR(out.p, "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n");
    buf_free(&out);
    proxy_http_head_free(&h);
}

static void targets(void)
{
    struct proxy_http_target t;
    CHECK(proxy_http_target_parse("https://API.x.test:8443/a?b=c", false, &t) == 0);
    CHECK_STR(t.scheme, "https");
    CHECK_STR(t.host, "api.x.test");
    CHECK_INT(t.port, 8443);
    CHECK_STR(t.path, "/a?b=c");
    proxy_http_target_free(&t);
    CHECK(proxy_http_target_parse("http://a.test?q", false, &t) == 0);
    CHECK_INT(t.port, 80);
    CHECK_STR(t.path, "/?q");
    proxy_http_target_free(&t);
    CHECK(proxy_http_target_parse("http://[::1]:81/", false, &t) == 0);
    CHECK_STR(t.host, "::1");
    CHECK_INT(t.port, 81);
    proxy_http_target_free(&t);
    CHECK(proxy_http_target_parse("a.test:443", true, &t) == 0);
    CHECK_STR(t.host, "a.test");
    proxy_http_target_free(&t);
    CHECK(proxy_http_target_parse("/x", false, &t) == 0);
    CHECK(t.host == NULL && t.scheme == NULL);
    proxy_http_target_free(&t);
    CHECK(proxy_http_target_parse("http://user:pw@a.test/", false, &t) == -1);
    CHECK(proxy_http_target_parse("ftp://a.test/", false, &t) == -1);
    CHECK(proxy_http_target_parse("http://a.test:0/", false, &t) == -1);
    CHECK(proxy_http_target_parse("http://a.test:99999/", false, &t) == -1);
    CHECK(proxy_http_target_parse("http://a b/", false, &t) == -1);
    CHECK(proxy_http_target_parse("a.test:", true, &t) == -1);
    char host[64];
    int port;
    CHECK(proxy_http_host_split("A.test:8080", host, sizeof host, &port) == 0);
    CHECK_STR(host, "a.test");
    CHECK_INT(port, 8080);
    CHECK(proxy_http_host_split("a.test", host, sizeof host, &port) == 0);
    CHECK_INT(port, 0);
}

static void response_tracker(void)
{
    struct proxy_http_resp r;
    size_t n;
    const char a[] = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                     "X-Bottle-Block: dlp: x\r\n\r\nhiEXTRA";
    proxy_http_resp_init(&r, false);
    CHECK(proxy_http_resp_feed(&r, a, sizeof a - 1, &n) == PROXY_HTTP_RESP_END);
    CHECK_INT(n, sizeof a - 1 - 5);
    CHECK_INT(r.status, 200);
    CHECK(r.keep_alive);
    CHECK_STR(r.block, "dlp: x");
    const char b[] = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
    proxy_http_resp_init(&r, true); /* HEAD: no body despite the length */
    CHECK(proxy_http_resp_feed(&r, b, sizeof b - 1, &n) == PROXY_HTTP_RESP_END);
    const char c[] =
        "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nws";
    proxy_http_resp_init(&r, false);
    CHECK(proxy_http_resp_feed(&r, c, sizeof c - 1, &n) == PROXY_HTTP_RESP_UPGRADE);
    CHECK_INT(n, sizeof c - 1 - 2);
    const char d[] = "HTTP/1.0 200 OK\r\n\r\nuntil close";
    proxy_http_resp_init(&r, false);
    CHECK(proxy_http_resp_feed(&r, d, sizeof d - 1, &n) == PROXY_HTTP_RESP_MORE);
    CHECK(proxy_http_resp_eof(&r));
    CHECK(!r.keep_alive);
    proxy_http_resp_init(&r, false);
    CHECK(proxy_http_resp_feed(&r, "garbage\r\n", 9, &n) == PROXY_HTTP_RESP_ERROR);
}

static void egress_value(void)
{
    struct mf_route r = {
        .host = "api.x.test", .header = "Authorization", .value = "Bearer ${token} (${token})"};
    char *v = proxy_egress_value(&r, "SECRET");
    CHECK_STR(v, "Bearer SECRET (SECRET)");
    free(v);
    struct manifest m = {0};
    m.egress.routes = &r;
    m.egress.nroutes = 1;
    char *tokens[] = {"SECRET", NULL};
    struct proxy_http_head h = parse_one("GET / HTTP/1.1\r\nHost: api.x.test\r\n"
                                         "authorization: Bearer placeholder\r\n\r\n");
    CHECK(proxy_egress_rewrite(&m, tokens, "API.x.test", &h) == &r);
    CHECK_STR(proxy_http_head_get(&h, "Authorization"), "Bearer SECRET (SECRET)");
    CHECK(proxy_egress_rewrite(&m, tokens, "other.test", &h) == NULL);
    proxy_http_head_free(&h);
}

/* The hop writes request events itself; the bytes must be event_request's. */
static void check_request_line(const char *bottle, const struct event_request *r)
{
    const char *ts = "2026-01-02T03:04:05.678Z";
    cJSON *ev = event_request(bottle, r);
    cJSON_ReplaceItemInObject(ev, "ts", cJSON_CreateString(ts));
    char *want = event_to_line(ev);
    cJSON_Delete(ev);
    struct buf got;
    buf_init(&got, 0);
    CHECK(proxy_hop_request_line(&got, ts, bottle, r) == 0);
    CHECK_STR(got.p, want);
    buf_free(&got);
    free(want);
}

static void request_line(void)
{
    struct event_request full = {
        .hop = "pipelock",
        .id = 123456789012345ULL,
        .method = "POST",
        .scheme = "https",
        .host = "api.example.test",
        .port = 443,
        .path = "/a?q=\"x\"\\y\x01\x1f\b\f\n\r\t\x7f\xc3\xa9/",
        .status = 403,
        .bytes_up = 0,
        .bytes_down = 999999999999999ULL,
        .ms = 0,
        .verdict = "block",
        .reason = "dlp: secret in URL",
        .rule = "aws-key",
        .auth = "rewritten:api.example.test",
    };
    check_request_line("bench", &full);
    struct event_request sparse = {.hop = "egress",
                                   .id = 1,
                                   .method = "-",
                                   .port = -1,
                                   .status = -1,
                                   .ms = -1,
                                   .verdict = "allow"};
    check_request_line(NULL, &sparse);
    check_request_line("we\"ird", &sparse);
    char long_path[2000];
    for (size_t i = 0; i < sizeof long_path - 1; i++)
        long_path[i] = i % 7 ? 'a' : '\n';
    long_path[sizeof long_path - 1] = 0;
    full.path = long_path;
    check_request_line("b", &full);
    /* Past cJSON's plain-digit range the hop falls back to cJSON itself. */
    struct buf b;
    buf_init(&b, 0);
    full.bytes_up = 1000000000000000ULL;
    CHECK(proxy_hop_request_line(&b, "t", "b", &full) == -1);
    CHECK(b.len == 0);
    buf_free(&b);
}

TEST_MAIN(T(parse_flows), T(smuggling_refused), T(limits), T(rewrite_head), T(targets),
          T(response_tracker), T(egress_value), T(request_line))
