/* proxy_egress: egress's credential routes: load the real tokens, swap them into requests. */
#include "proxy/proxy_egress.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#define TOKEN_MAX (64 * 1024)

static char *read_token(const struct mf_route *r, struct buf *errors)
{
    char *t;
    if (r->token_kind == TOKEN_ENV) {
        const char *v = getenv(r->token_src);
        if (!v) {
            buf_appendf(errors, "route %s: environment variable %s is not set\n", r->host,
                        r->token_src);
            return NULL;
        }
        t = xstrdup(v);
    } else {
        size_t len = 0;
        t = file_read_all(r->token_src, TOKEN_MAX, &len);
        if (!t) {
            buf_appendf(errors, "route %s: cannot read the token file %s: %s\n", r->host,
                        r->token_src, strerror(errno));
            return NULL;
        }
    }
    size_t n = strlen(t);
    while (n && (t[n - 1] == '\n' || t[n - 1] == '\r' || t[n - 1] == ' ' || t[n - 1] == '\t'))
        t[--n] = 0;
    /* A token is one header-safe line; anything else would split the header. */
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)t[i];
        if (ch < 0x20 || ch == 0x7f) {
            buf_appendf(errors, "route %s: the token contains control characters\n", r->host);
            OPENSSL_cleanse(t, n);
            free(t);
            return NULL;
        }
    }
    if (n == 0) {
        buf_appendf(errors, "route %s: the token is empty\n", r->host);
        free(t);
        return NULL;
    }
    return t;
}

int proxy_egress_load_tokens(const struct manifest *m, char ***tokens, size_t *n,
                             struct buf *errors)
{
    char **v = xcalloc(m->egress.nroutes + 1, sizeof *v);
    for (size_t i = 0; i < m->egress.nroutes; i++) {
        v[i] = read_token(&m->egress.routes[i], errors);
        if (!v[i]) {
            proxy_egress_free_tokens(v, i);
            return -1;
        }
    }
    *tokens = v;
    *n = m->egress.nroutes;
    return 0;
}

void proxy_egress_free_tokens(char **tokens, size_t n)
{
    if (!tokens)
        return;
    for (size_t i = 0; i < n; i++) {
        if (tokens[i]) {
            OPENSSL_cleanse(tokens[i], strlen(tokens[i]));
            free(tokens[i]);
        }
    }
    free(tokens);
}

char *proxy_egress_value(const struct mf_route *route, const char *token)
{
    struct buf b;
    buf_init(&b, 0);
    const char *p = route->value;
    const char *hit;
    while ((hit = strstr(p, "${token}"))) {
        buf_append(&b, p, (size_t)(hit - p));
        buf_append(&b, token, strlen(token));
        p = hit + 8;
    }
    buf_append(&b, p, strlen(p));
    return b.p ? b.p : xstrdup("");
}

const struct mf_route *proxy_egress_rewrite(const struct manifest *m, char *const *tokens,
                                            const char *host, struct proxy_http_head *h)
{
    for (size_t i = 0; i < m->egress.nroutes; i++) {
        const struct mf_route *r = &m->egress.routes[i];
        if (!str_ieq(r->host, host))
            continue;
        char *v = proxy_egress_value(r, tokens[i]);
        proxy_http_head_set(h, r->header, v);
        OPENSSL_cleanse(v, strlen(v));
        free(v);
        return r;
    }
    return NULL;
}
