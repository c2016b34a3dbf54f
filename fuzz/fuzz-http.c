/* fuzz-http: request parsing, targets, head rewriting and response tracking over any bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/proxy_http.h"

static int on_body(void *data, const char *at, size_t len)
{
    size_t *total = data;
    *total += len;
    (void)at;
    return 0;
}

/* What the engine does with a head: split its target, rewrite, serialise. */
static void use_head(struct proxy_http_parser *ps)
{
    struct proxy_http_head *h = &ps->head;
    struct proxy_http_target t;
    bool connect = h->method && strcmp(h->method, "CONNECT") == 0;
    if (h->url && proxy_http_target_parse(h->url, connect, &t) == 0)
        proxy_http_target_free(&t);
    const char *host = proxy_http_head_get(h, "Host");
    char name[256];
    int port;
    if (host)
        proxy_http_host_split(host, name, sizeof name, &port);
    proxy_http_head_set(h, "Authorization", "Bearer x");
    struct buf out;
    buf_init(&out, 2 * PROXY_HTTP_HEAD_MAX);
    proxy_http_head_serialize(h, h->url ? h->url : "/", "h", PROXY_HTTP_CHUNKED, 0, &out);
    buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The first byte picks how the input is cut into reads, so the parser
     * also sees heads and chunk sizes split across calls. */
    size_t step = size ? (size_t)(data[0] % 17) + 1 : 1;
    if (size && data[0] >= 0xf0)
        step = size;
    const char *p = (const char *)data;
    size_t total = 0, off = 0;
    struct proxy_http_parser ps;
    proxy_http_parser_init(&ps, on_body, &total);
    bool done = false;
    while (off < size && !done) {
        size_t end = off + step < size ? off + step : size;
        size_t pos = off;
        for (int guard = 0; guard < 1000; guard++) {
            size_t n = 0;
            enum proxy_http_event ev = proxy_http_parser_feed(&ps, p + pos, end - pos, &n);
            pos += n;
            if (ev == PROXY_HTTP_MORE)
                break;
            if (ev == PROXY_HTTP_HEAD) {
                use_head(&ps);
                continue;
            }
            if (ev == PROXY_HTTP_END) {
                proxy_http_parser_next(&ps);
                continue;
            }
            done = true; /* UPGRADE or ERROR: the connection leaves HTTP */
            break;
        }
        off = end;
    }
    proxy_http_parser_free(&ps);

    /* The same bytes as a response stream. */
    struct proxy_http_resp r;
    proxy_http_resp_init(&r, size && (data[0] & 1));
    off = 0;
    while (off < size) {
        size_t end = off + step < size ? off + step : size, n = 0;
        enum proxy_http_resp_event ev = proxy_http_resp_feed(&r, p + off, end - off, &n);
        if (ev != PROXY_HTTP_RESP_MORE)
            break;
        off = end;
    }
    proxy_http_resp_eof(&r);
    return 0;
}
