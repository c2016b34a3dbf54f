/* proxy_http: HTTP/1.1 heads on strict llhttp: parse requests/responses, rewrite, serialise. */
#include "proxy/proxy_http.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- heads ------------------------------------------------------------- */

/* A block of header strings. A head starts with one small block; a string
 * that does not fit gets a new one, so strings never move. */
struct proxy_http_block {
    struct proxy_http_block *next;
    size_t used, cap;
    char data[];
};

#define HEAD_BLOCK 1024

static char *head_strndup(struct proxy_http_head *h, const char *s, size_t n)
{
    struct proxy_http_block *b = h->mem;
    if (!b || b->cap - b->used < n + 1) {
        size_t cap = n + 1 > HEAD_BLOCK ? n + 1 : HEAD_BLOCK;
        b = xmalloc(sizeof *b + cap);
        b->used = 0;
        b->cap = cap;
        if (h->mem && cap > HEAD_BLOCK) {
            /* a big string alone: the current block keeps taking small ones */
            b->next = h->mem->next;
            h->mem->next = b;
        } else {
            b->next = h->mem;
            h->mem = b;
        }
    }
    char *p = b->data + b->used;
    memcpy(p, s, n);
    p[n] = 0;
    b->used += n + 1;
    return p;
}

void proxy_http_head_free(struct proxy_http_head *h)
{
    free(h->method);
    free(h->url);
    free(h->h);
    for (struct proxy_http_block *b = h->mem, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    memset(h, 0, sizeof *h);
}

const char *proxy_http_head_get(const struct proxy_http_head *h, const char *name)
{
    for (size_t i = 0; i < h->nh; i++)
        if (strcasecmp(h->h[i].name, name) == 0)
            return h->h[i].value;
    return NULL;
}

size_t proxy_http_head_remove(struct proxy_http_head *h, const char *name)
{
    /* The strings stay in the head's blocks until the head is freed. */
    size_t o = 0, removed = 0;
    for (size_t i = 0; i < h->nh; i++) {
        if (strcasecmp(h->h[i].name, name) == 0)
            removed++;
        else
            h->h[o++] = h->h[i];
    }
    h->nh = o;
    return removed;
}

/* Add NAME: VALUE (LEN bytes each), copied into the head's blocks. */
static void head_push(struct proxy_http_head *h, const char *name, size_t name_len,
                      const char *value, size_t value_len)
{
    if (h->nh == h->cap) {
        h->cap = h->cap ? 2 * h->cap : 16;
        h->h = xrealloc(h->h, h->cap * sizeof *h->h);
    }
    h->h[h->nh].name = head_strndup(h, name, name_len);
    h->h[h->nh].value = head_strndup(h, value, value_len);
    h->nh++;
}

void proxy_http_head_set(struct proxy_http_head *h, const char *name, const char *value)
{
    proxy_http_head_remove(h, name);
    head_push(h, name, strlen(name), value, strlen(value));
}

/* Is TOKEN one of the comma-separated tokens of LIST? */
static bool list_has_token(const char *list, const char *token)
{
    size_t tl = strlen(token);
    const char *p = list;
    while (p && *p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > p && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        if ((size_t)(t - p) == tl && strncasecmp(p, token, tl) == 0)
            return true;
        p = e;
    }
    return false;
}

static bool hop_by_hop(const char *name)
{
    /* By length first: this runs for every header of every request. */
    switch (strlen(name)) {
    case 2:
        return strcasecmp(name, "te") == 0;
    case 6:
        return strcasecmp(name, "expect") == 0;
    case 7:
        return strcasecmp(name, "trailer") == 0 || strcasecmp(name, "upgrade") == 0;
    case 10:
        return strcasecmp(name, "connection") == 0 || strcasecmp(name, "keep-alive") == 0;
    case 14:
        return strcasecmp(name, "content-length") == 0;
    case 16:
        return strcasecmp(name, "proxy-connection") == 0;
    case 17:
        return strcasecmp(name, "transfer-encoding") == 0;
    case 18:
        return strcasecmp(name, "proxy-authenticate") == 0;
    case 19:
        return strcasecmp(name, "proxy-authorization") == 0;
    default:
        return false;
    }
}

/* Append up to four strings (a NULL ends them early). No printf here:
 * a formatted append costs two vsnprintf passes and an allocation. */
static int put(struct buf *out, const char *a, const char *b, const char *c, const char *d)
{
    const char *v[] = {a, b, c, d};
    int rc = 0;
    for (size_t i = 0; i < ARRAY_SIZE(v) && v[i]; i++)
        rc |= buf_append(out, v[i], strlen(v[i]));
    return rc;
}

int proxy_http_head_serialize(const struct proxy_http_head *h, const char *target,
                              const char *host_hdr, enum proxy_http_framing framing,
                              uint64_t length, struct buf *out)
{
    const char *conn = proxy_http_head_get(h, "Connection");
    bool ws = h->upgrade && strcasecmp(h->method, "CONNECT") != 0;
    int rc = put(out, h->method, " ", target, " HTTP/1.1\r\n");
    if (host_hdr && !proxy_http_head_get(h, "Host"))
        rc |= put(out, "Host: ", host_hdr, "\r\n", NULL);
    for (size_t i = 0; i < h->nh; i++) {
        const char *n = h->h[i].name;
        bool keep_upgrade = ws && strcasecmp(n, "upgrade") == 0;
        if (hop_by_hop(n) && !keep_upgrade)
            continue;
        if (conn && list_has_token(conn, n) && !keep_upgrade)
            continue;
        rc |= put(out, n, ": ", h->h[i].value, "\r\n");
    }
    if (ws)
        rc |= put(out, "Connection: upgrade\r\n", NULL, NULL, NULL);
    if (framing == PROXY_HTTP_LENGTH) {
        char digits[24];
        size_t k = sizeof digits;
        digits[--k] = 0;
        do {
            digits[--k] = (char)('0' + length % 10);
            length /= 10;
        } while (length);
        rc |= put(out, "Content-Length: ", digits + k, "\r\n", NULL);
    } else if (framing == PROXY_HTTP_CHUNKED) {
        rc |= put(out, "Transfer-Encoding: chunked\r\n", NULL, NULL, NULL);
    }
    rc |= buf_append(out, "\r\n", 2);
    return rc ? -1 : 0;
}

/* ---- targets ----------------------------------------------------------- */

/* Parse "host[:port]" or "[v6][:port]" (LEN bytes) into a lower-cased host. */
static int authority_parse(const char *a, size_t len, char *host, size_t cap, int *port)
{
    const char *hs, *he, *rest;
    const char *end = a + len;
    *port = 0;
    if (len == 0 || memchr(a, '@', len))
        return -1; /* no userinfo: credentials in URLs are refused */
    if (a[0] == '[') {
        const char *rb = memchr(a, ']', len);
        if (!rb)
            return -1;
        hs = a + 1;
        he = rb;
        rest = rb + 1;
        for (const char *c = hs; c < he; c++)
            if (!isxdigit((unsigned char)*c) && *c != ':' && *c != '.')
                return -1;
    } else {
        hs = a;
        he = memchr(a, ':', len);
        if (!he)
            he = end;
        rest = he;
        for (const char *c = hs; c < he; c++)
            if (!isalnum((unsigned char)*c) && *c != '.' && *c != '-' && *c != '_')
                return -1;
    }
    if (he == hs || (size_t)(he - hs) >= cap)
        return -1;
    if (rest < end) {
        if (*rest != ':' || rest + 1 == end || end - rest > 6)
            return -1;
        int p = 0;
        for (const char *c = rest + 1; c < end; c++) {
            if (!isdigit((unsigned char)*c))
                return -1;
            p = p * 10 + (*c - '0');
        }
        if (p < 1 || p > 65535)
            return -1;
        *port = p;
    }
    size_t n = (size_t)(he - hs);
    for (size_t i = 0; i < n; i++)
        host[i] = (char)tolower((unsigned char)hs[i]);
    host[n] = 0;
    return 0;
}

int proxy_http_host_split(const char *value, char *host, size_t cap, int *port)
{
    return authority_parse(value, strlen(value), host, cap, port);
}

int proxy_http_target_parse(const char *url, bool authority, struct proxy_http_target *t)
{
    char host[256];
    int port;
    memset(t, 0, sizeof *t);
    if (authority) {
        if (authority_parse(url, strlen(url), host, sizeof host, &port) != 0)
            return -1;
        t->host = xstrdup(host);
        t->port = port ? port : 443;
        t->path = xstrdup("/");
        return 0;
    }
    if (url[0] == '/' || strcmp(url, "*") == 0) {
        t->path = xstrdup(url);
        return 0;
    }
    const char *scheme;
    size_t sl;
    if (strncasecmp(url, "http://", 7) == 0) {
        scheme = "http";
        sl = 7;
    } else if (strncasecmp(url, "https://", 8) == 0) {
        scheme = "https";
        sl = 8;
    } else {
        return -1;
    }
    const char *a = url + sl;
    size_t al = strcspn(a, "/?#");
    if (authority_parse(a, al, host, sizeof host, &port) != 0)
        return -1;
    const char *path = a + al;
    if (*path == '#')
        path = "";
    t->scheme = xstrdup(scheme);
    t->host = xstrdup(host);
    t->port = port ? port : (scheme[4] == 's' ? 443 : 80);
    t->path = *path == '/' ? xstrdup(path) : xasprintf("/%s", path);
    return 0;
}

void proxy_http_target_free(struct proxy_http_target *t)
{
    free(t->scheme);
    free(t->host);
    free(t->path);
    memset(t, 0, sizeof *t);
}

/* ---- request parser ---------------------------------------------------- */

static struct proxy_http_parser *ps_of(llhttp_t *p)
{
    return p->data;
}

static int fail(struct proxy_http_parser *ps, int status, const char *why)
{
    ps->status = status;
    ps->error = why;
    return HPE_USER;
}

static int count(struct proxy_http_parser *ps, size_t n)
{
    ps->head_bytes += n;
    if (ps->head_bytes > PROXY_HTTP_HEAD_MAX)
        return fail(ps, 431, "request header fields too large");
    return 0;
}

static int on_message_begin(llhttp_t *p)
{
    struct proxy_http_parser *ps = ps_of(p);
    proxy_http_head_free(&ps->head);
    buf_reset(&ps->field);
    buf_reset(&ps->value);
    ps->head_bytes = 0;
    ps->in_value = false;
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
    struct proxy_http_parser *ps = ps_of(p);
    if (buf_append(&ps->value, at, len) != 0)
        return fail(ps, 414, "request target too long");
    return count(ps, len);
}

static int on_url_complete(llhttp_t *p)
{
    struct proxy_http_parser *ps = ps_of(p);
    ps->head.url = xstrndup(ps->value.p ? ps->value.p : "", ps->value.len);
    buf_reset(&ps->value);
    /* Header values share the buffer, with the head's own ceiling. */
    ps->value.max = PROXY_HTTP_HEAD_MAX;
    return 0;
}

/* RFC 9110 tchar: ALPHA, DIGIT and "!#$%&'*+-.^_`|~" (a table: this runs
 * for every byte of every header name). */
static bool is_tchar(unsigned char ch)
{
    static const uint32_t set[8] = {
        0x00000000, /* 0x00-0x1f: none */
        0x03ff6cfa, /* 0x20-0x3f: ! # $ % & ' * + - . 0-9 */
        0xc7fffffe, /* 0x40-0x5f: A-Z ^ _ */
        0x57ffffff, /* 0x60-0x7f: ` a-z | ~ */
    };
    return (set[ch >> 5] >> (ch & 31)) & 1;
}

static int push_header(struct proxy_http_parser *ps)
{
    if (ps->head.nh >= PROXY_HTTP_HEADERS_MAX)
        return fail(ps, 431, "too many header fields");
    /* llhttp lets some non-token bytes through in names; a proxy must not,
     * since the next hop may read them differently (RFC 9110 5.1). */
    if (ps->field.len == 0)
        return fail(ps, 400, "empty header name");
    for (size_t i = 0; i < ps->field.len; i++)
        if (!is_tchar((unsigned char)ps->field.p[i]))
            return fail(ps, 400, "invalid character in a header name");
    /* llhttp keeps trailing whitespace of a value; drop it (RFC 9110 5.5). */
    const char *value = ps->value.p ? ps->value.p : "";
    size_t vl = ps->value.len;
    while (vl && (value[vl - 1] == ' ' || value[vl - 1] == '\t'))
        vl--;
    /* A NUL ends the value as the next hop would read it: look no further. */
    size_t cut = strnlen(value, vl);
    if (memchr(value, '\r', cut) || memchr(value, '\n', cut))
        return fail(ps, 400, "line folding in a header value");
    head_push(&ps->head, ps->field.p, ps->field.len, value, vl);
    buf_reset(&ps->field);
    buf_reset(&ps->value);
    ps->in_value = false;
    return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    struct proxy_http_parser *ps = ps_of(p);
    if (ps->in_value) {
        int rc = push_header(ps);
        if (rc)
            return rc;
    }
    if (buf_append(&ps->field, at, len) != 0)
        return fail(ps, 431, "header field name too long");
    return count(ps, len + 4);
}

static int on_header_field_complete(llhttp_t *p)
{
    ps_of(p)->in_value = true;
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    struct proxy_http_parser *ps = ps_of(p);
    if (buf_append(&ps->value, at, len) != 0)
        return fail(ps, 431, "header field too large");
    return count(ps, len);
}

static int on_headers_complete(llhttp_t *p)
{
    struct proxy_http_parser *ps = ps_of(p);
    if (ps->in_value) {
        int rc = push_header(ps);
        if (rc)
            return rc;
    }
    struct proxy_http_head *h = &ps->head;
    h->method = xstrdup(llhttp_method_name((llhttp_method_t)llhttp_get_method(p)));
    h->http_major = p->http_major;
    h->http_minor = p->http_minor;
    h->chunked = (p->flags & F_CHUNKED) != 0;
    h->has_length = (p->flags & F_CONTENT_LENGTH) != 0;
    h->length = h->has_length ? p->content_length : 0;
    h->upgrade = p->upgrade != 0;
    h->keep_alive = llhttp_should_keep_alive(p) != 0;
    const char *te = proxy_http_head_get(h, "Transfer-Encoding");
    /* Only plain "chunked": codings stacked under it would reach the next
     * hop without the header that names them. */
    if (te && strcasecmp(te, "chunked") != 0)
        return fail(ps, 400, "unsupported transfer-encoding");
    if (proxy_http_head_get(h, "Transfer-Encoding") && proxy_http_head_get(h, "Content-Length"))
        return fail(ps, 400, "content-length with transfer-encoding");
    const char *ex = proxy_http_head_get(h, "Expect");
    if (ex) {
        if (strcasecmp(ex, "100-continue") != 0)
            return fail(ps, 417, "unsupported expectation");
        h->expect_continue = true;
    }
    ps->head_ready = true;
    return HPE_PAUSED;
}

static int on_req_body(llhttp_t *p, const char *at, size_t len)
{
    struct proxy_http_parser *ps = ps_of(p);
    if (ps->on_body && ps->on_body(ps->data, at, len) != 0)
        return fail(ps, 400, "body rejected");
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    struct proxy_http_parser *ps = ps_of(p);
    if (p->upgrade)
        return 0; /* llhttp stops with HPE_PAUSED_UPGRADE */
    ps->paused_end = true;
    return HPE_PAUSED;
}

void proxy_http_parser_init(struct proxy_http_parser *ps, proxy_http_body_cb on_body, void *data)
{
    memset(ps, 0, sizeof *ps);
    llhttp_settings_init(&ps->s);
    ps->s.on_message_begin = on_message_begin;
    ps->s.on_url = on_url;
    ps->s.on_url_complete = on_url_complete;
    ps->s.on_header_field = on_header_field;
    ps->s.on_header_field_complete = on_header_field_complete;
    ps->s.on_header_value = on_header_value;
    ps->s.on_headers_complete = on_headers_complete;
    ps->s.on_body = on_req_body;
    ps->s.on_message_complete = on_message_complete;
    llhttp_init(&ps->p, HTTP_REQUEST, &ps->s);
    ps->p.data = ps;
    buf_init(&ps->field, 8 * 1024);
    buf_init(&ps->value, PROXY_HTTP_URL_MAX);
    ps->on_body = on_body;
    ps->data = data;
    ps->in_head = true;
}

void proxy_http_parser_free(struct proxy_http_parser *ps)
{
    proxy_http_head_free(&ps->head);
    buf_free(&ps->field);
    buf_free(&ps->value);
}

void proxy_http_parser_next(struct proxy_http_parser *ps)
{
    proxy_http_head_free(&ps->head);
    buf_free(&ps->field); /* between requests a connection holds no scratch memory */
    buf_free(&ps->value);
    ps->value.max = PROXY_HTTP_URL_MAX;
    ps->in_head = true;
    ps->prev_lf = false;
}

enum proxy_http_event proxy_http_parser_feed(struct proxy_http_parser *ps, const char *data,
                                             size_t len, size_t *consumed)
{
    *consumed = 0;
    if (ps->status)
        return PROXY_HTTP_ERROR;
    if (!data)
        data = "";
    llhttp_errno_t e = llhttp_execute(&ps->p, data, len);
    const char *pos = llhttp_get_error_pos(&ps->p);
    if (ps->in_head && (e == HPE_OK || e == HPE_PAUSED)) {
        /* llhttp (even strict) joins obs-fold continuation lines; a proxy must
         * refuse them (RFC 9112 5.2), so look for LF followed by SP/HT. */
        size_t n = e == HPE_OK ? len : (pos ? (size_t)(pos - data) : len);
        for (size_t i = 0; i < n; i++) {
            if (ps->prev_lf && (data[i] == ' ' || data[i] == '\t')) {
                ps->status = 400;
                ps->error = "obsolete line folding";
                return PROXY_HTTP_ERROR;
            }
            ps->prev_lf = data[i] == '\n';
        }
    }
    switch (e) {
    case HPE_OK:
        *consumed = len;
        return PROXY_HTTP_MORE;
    case HPE_PAUSED:
        *consumed = pos ? (size_t)(pos - data) : len;
        llhttp_resume(&ps->p);
        if (ps->head_ready) {
            ps->in_head = false;
            ps->head_ready = false;
            return PROXY_HTTP_HEAD;
        }
        ps->paused_end = false;
        return PROXY_HTTP_END;
    case HPE_PAUSED_UPGRADE:
        *consumed = pos ? (size_t)(pos - data) : len;
        return PROXY_HTTP_UPGRADE;
    default:
        if (!ps->status) {
            ps->status = 400;
            ps->error = llhttp_get_error_reason(&ps->p);
            if (!ps->error)
                ps->error = llhttp_errno_name(e);
        }
        return PROXY_HTTP_ERROR;
    }
}

/* ---- response tracker --------------------------------------------------- */

static int on_resp_status(llhttp_t *p, const char *at, size_t len)
{
    struct proxy_http_resp *r = p->data;
    r->head_bytes += len;
    return 0;
}

static int on_resp_header_field(llhttp_t *p, const char *at, size_t len)
{
    struct proxy_http_resp *r = p->data;
    if (r->field_is_block || r->field_len == (size_t)-1) {
        r->field_is_block = false;
        r->field_len = 0;
    }
    for (size_t i = 0; i < len && r->field_len < sizeof r->field - 1; i++)
        r->field[r->field_len++] = at[i];
    r->field[r->field_len] = 0;
    return 0;
}

static int on_resp_header_field_complete(llhttp_t *p)
{
    struct proxy_http_resp *r = p->data;
    r->field_is_block = strcasecmp(r->field, "X-Bottle-Block") == 0;
    if (r->field_is_block)
        r->block[0] = 0;
    r->field_len = (size_t)-1; /* the next field starts afresh */
    return 0;
}

static int on_resp_header_value(llhttp_t *p, const char *at, size_t len)
{
    struct proxy_http_resp *r = p->data;
    if (!r->field_is_block)
        return 0;
    size_t have = strlen(r->block);
    for (size_t i = 0; i < len && have < sizeof r->block - 1; i++) {
        unsigned char ch = (unsigned char)at[i];
        r->block[have++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    r->block[have] = 0;
    return 0;
}

static int on_resp_headers_complete(llhttp_t *p)
{
    struct proxy_http_resp *r = p->data;
    r->status = p->status_code;
    if (r->head_method && r->status >= 200)
        return 1; /* a response to HEAD has no body, whatever it says */
    return 0;
}

static int on_resp_message_complete(llhttp_t *p)
{
    struct proxy_http_resp *r = p->data;
    if (r->status >= 100 && r->status < 200 && r->status != 101)
        return 0; /* interim response: the final one follows */
    r->ended = true;
    r->keep_alive = llhttp_should_keep_alive(p) != 0;
    if (p->upgrade)
        return 0;
    return HPE_PAUSED;
}

void proxy_http_resp_init(struct proxy_http_resp *r, bool head_method)
{
    memset(r, 0, sizeof *r);
    llhttp_settings_init(&r->s);
    r->s.on_status = on_resp_status;
    r->s.on_header_field = on_resp_header_field;
    r->s.on_header_field_complete = on_resp_header_field_complete;
    r->s.on_header_value = on_resp_header_value;
    r->s.on_headers_complete = on_resp_headers_complete;
    r->s.on_message_complete = on_resp_message_complete;
    llhttp_init(&r->p, HTTP_RESPONSE, &r->s);
    r->p.data = r;
    r->head_method = head_method;
}

enum proxy_http_resp_event proxy_http_resp_feed(struct proxy_http_resp *r, const char *data,
                                                size_t len, size_t *consumed)
{
    *consumed = 0;
    if (r->ended)
        return PROXY_HTTP_RESP_END;
    llhttp_errno_t e = llhttp_execute(&r->p, data ? data : "", len);
    const char *pos = llhttp_get_error_pos(&r->p);
    switch (e) {
    case HPE_OK:
        *consumed = len;
        return PROXY_HTTP_RESP_MORE;
    case HPE_PAUSED:
        *consumed = pos ? (size_t)(pos - data) : len;
        return PROXY_HTTP_RESP_END;
    case HPE_PAUSED_UPGRADE:
        *consumed = pos ? (size_t)(pos - data) : len;
        return r->status == 101 ? PROXY_HTTP_RESP_UPGRADE : PROXY_HTTP_RESP_END;
    default:
        return PROXY_HTTP_RESP_ERROR;
    }
}

bool proxy_http_resp_eof(struct proxy_http_resp *r)
{
    if (r->ended)
        return true;
    if (llhttp_message_needs_eof(&r->p) && llhttp_finish(&r->p) == HPE_OK)
        r->ended = true;
    return r->ended;
}
