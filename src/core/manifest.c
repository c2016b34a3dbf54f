/* manifest: a bottle manifest (DESIGN section 4) parsed from YAML into a typed struct. */
#include "core/manifest.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pcre2.h>
#include <yaml.h>

#include "core/hostmatch.h"

#define MANIFEST_MAX_BYTES (1u << 20)
#define DEFAULT_IMAGE "bottle-agent:latest"

/* The parse context: the document, the diagnostics, the file label. */
struct ld {
    yaml_document_t *doc;
    struct diag_list *d;
    const char *file;
    struct manifest *m;
};

static struct mf_pos pos_of(const yaml_node_t *n)
{
    return (struct mf_pos){(int)n->start_mark.line + 1, (int)n->start_mark.column + 1};
}

static void __attribute__((format(printf, 3, 4)))
err_at(struct ld *ld, const yaml_node_t *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = xvasprintf(fmt, ap);
    va_end(ap);
    struct mf_pos p = pos_of(n);
    diag_add(ld->d, DIAG_ERROR, ld->file, p.line, p.col, "%s", msg);
    free(msg);
}

static void __attribute__((format(printf, 3, 4)))
warn_at(struct ld *ld, const yaml_node_t *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = xvasprintf(fmt, ap);
    va_end(ap);
    struct mf_pos p = pos_of(n);
    diag_add(ld->d, DIAG_WARNING, ld->file, p.line, p.col, "%s", msg);
    free(msg);
}

static yaml_node_t *node(struct ld *ld, int idx)
{
    return yaml_document_get_node(ld->doc, idx);
}

static const char *kind_name(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_SCALAR_NODE:
        return "a scalar";
    case YAML_SEQUENCE_NODE:
        return "a list";
    case YAML_MAPPING_NODE:
        return "a mapping";
    default:
        return "nothing";
    }
}

static bool is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *v = (const char *)n->data.scalar.value;
    return !*v || strcmp(v, "~") == 0 || strcmp(v, "null") == 0;
}

/* A string value for KEY; NULL (after an error) when N is not a scalar. */
static char *get_str(struct ld *ld, const char *key, yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || is_null(n)) {
        err_at(ld, n, "%s: expected a string, got %s", key, is_null(n) ? "null" : kind_name(n));
        return NULL;
    }
    if (memchr(n->data.scalar.value, '\0', n->data.scalar.length)) {
        err_at(ld, n, "%s: string contains a NUL byte", key);
        return NULL;
    }
    return xstrndup((const char *)n->data.scalar.value, n->data.scalar.length);
}

/* A boolean for KEY: true or false. Returns 0, or -1 after an error. */
static int get_bool(struct ld *ld, const char *key, yaml_node_t *n, bool *out)
{
    if (n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
        const char *v = (const char *)n->data.scalar.value;
        if (strcmp(v, "true") == 0) {
            *out = true;
            return 0;
        }
        if (strcmp(v, "false") == 0) {
            *out = false;
            return 0;
        }
    }
    err_at(ld, n, "%s: expected true or false", key);
    return -1;
}

/* Each key of mapping N once, checked against ALLOWED (NULL-terminated).
 * Unknown and duplicate keys are reported here. Calls FN for each good pair. */
typedef void (*pair_fn)(struct ld *ld, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg);

static int each_pair(struct ld *ld, const char *where, yaml_node_t *n, const char *const *allowed,
                     pair_fn fn, void *arg)
{
    if (n->type != YAML_MAPPING_NODE) {
        err_at(ld, n, "%s: expected a mapping, got %s", where, is_null(n) ? "null" : kind_name(n));
        return -1;
    }
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node(ld, p->key), *v = node(ld, p->value);
        if (k->type != YAML_SCALAR_NODE) {
            err_at(ld, k, "%s: keys must be strings, got %s", where, kind_name(k));
            continue;
        }
        const char *key = (const char *)k->data.scalar.value;
        bool dup = false;
        for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; q++) {
            yaml_node_t *k2 = node(ld, q->key);
            if (k2->type == YAML_SCALAR_NODE &&
                strcmp((const char *)k2->data.scalar.value, key) == 0) {
                err_at(ld, k, "%s: duplicate key '%s' (first at line %d)", where, key,
                       pos_of(k2).line);
                dup = true;
                break;
            }
        }
        if (dup)
            continue;
        if (allowed) {
            bool ok = false;
            for (const char *const *a = allowed; *a; a++)
                ok = ok || strcmp(*a, key) == 0;
            if (!ok) {
                struct buf b;
                buf_init(&b, 0);
                for (const char *const *a = allowed; *a; a++)
                    buf_appendf(&b, "%s%s", a == allowed ? "" : ", ", *a);
                err_at(ld, k, "%s: unknown key '%s' (expected one of: %s)", where, key, b.p);
                buf_free(&b);
                continue;
            }
        }
        fn(ld, key, k, v, arg);
    }
    return 0;
}

static bool valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 31)
        return false;
    if (!(islower((unsigned char)s[0]) || isdigit((unsigned char)s[0])))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-'))
            return false;
    return true;
}

static bool valid_env_name(const char *s)
{
    if (!(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return false;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_'))
            return false;
    return true;
}

static bool valid_header_name(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || strchr("!#$%&'*+-.^_`|~", *s)))
            return false;
    return true;
}

/* A DNS name: labels of [a-z0-9-], not starting or ending with '-', <= 253. */
static bool valid_hostname(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253)
        return false;
    size_t label = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '.') {
            if (label == 0 || s[i - 1] == '-')
                return false;
            label = 0;
            continue;
        }
        if (!(isalnum((unsigned char)c) || c == '-' || c == '_'))
            return false;
        if (label == 0 && c == '-')
            return false;
        if (++label > 63)
            return false;
    }
    return label > 0 && s[n - 1] != '-';
}

/* An allow/deny pattern: "*", "*.name" or a name. */
bool manifest_host_pattern_ok(const char *s)
{
    if (strcmp(s, "*") == 0)
        return true;
    if (s[0] == '*' && s[1] == '.')
        return valid_hostname(s + 2);
    return valid_hostname(s);
}

static void lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

enum path_kind { PATH_FILE, PATH_DIR };

/* realpath() when the path exists (so plans show /a/b, not /a/x/../b); takes P. */
static char *canonical(char *p)
{
    char abs[PATH_MAX];
    if (realpath(p, abs)) {
        free(p);
        return xstrdup(abs);
    }
    return p;
}

/* Resolve a path value against the manifest dir and require it to exist. */
static char *get_path(struct ld *ld, const char *key, yaml_node_t *n, enum path_kind kind)
{
    char *raw = get_str(ld, key, n);
    if (!raw)
        return NULL;
    char *p = canonical(path_resolve(ld->m->dir, raw));
    free(raw);
    struct stat st;
    if (stat(p, &st) != 0) {
        err_at(ld, n, "%s: %s does not exist", key, p);
    } else if (kind == PATH_DIR && !S_ISDIR(st.st_mode)) {
        err_at(ld, n, "%s: %s is not a directory", key, p);
    } else if (kind == PATH_FILE && !S_ISREG(st.st_mode)) {
        err_at(ld, n, "%s: %s is not a regular file", key, p);
    }
    return p;
}

/* A list of strings; each item checked by CHECK (may be NULL). */
static void get_strv(struct ld *ld, const char *key, yaml_node_t *n, struct strv *out,
                     bool (*check)(const char *), const char *expect)
{
    if (n->type != YAML_SEQUENCE_NODE) {
        err_at(ld, n, "%s: expected a list, got %s", key, is_null(n) ? "null" : kind_name(n));
        return;
    }
    for (yaml_node_item_t *i = n->data.sequence.items.start; i < n->data.sequence.items.top; i++) {
        yaml_node_t *it = node(ld, *i);
        char *s = get_str(ld, key, it);
        if (!s)
            continue;
        if (check && !check(s)) {
            err_at(ld, it, "%s: '%s' is not %s", key, s, expect);
            free(s);
            continue;
        }
        strv_push_own(out, s);
    }
}

/* ---- agent --------------------------------------------------------------- */

static void on_agent_env(struct ld *ld, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
    struct manifest *m = ld->m;
    if (!valid_env_name(key)) {
        err_at(ld, k, "agent.env: '%s' is not a valid variable name", key);
        return;
    }
    char *val = get_str(ld, "agent.env value", v);
    if (!val)
        return;
    m->agent.env = xrealloc(m->agent.env, (m->agent.nenv + 1) * sizeof *m->agent.env);
    m->agent.env[m->agent.nenv++] = (struct mf_kv){xstrdup(key), val};
}

static void on_agent(struct ld *ld, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
    struct manifest *m = ld->m;
    if (strcmp(key, "command") == 0) {
        if (v->type != YAML_SEQUENCE_NODE) {
            err_at(ld, v, "agent.command: expected a list of strings, got %s",
                   is_null(v) ? "null" : kind_name(v));
            return;
        }
        strv_free(&m->agent.command);
        get_strv(ld, "agent.command", v, &m->agent.command, NULL, "strings");
        if (m->agent.command.n == 0)
            err_at(ld, v, "agent.command: must not be empty");
    } else if (strcmp(key, "user") == 0) {
        char *s = get_str(ld, "agent.user", v);
        if (!s)
            return;
        if (!*s || strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(s)) {
            err_at(ld, v, "agent.user: '%s' is not a valid user name", s);
            free(s);
            return;
        }
        free(m->agent.user);
        m->agent.user = s;
        *(yaml_node_t **)arg = v;
    } else if (strcmp(key, "env") == 0) {
        each_pair(ld, "agent.env", v, NULL, on_agent_env, NULL);
    }
}

/* ---- egress ---------------------------------------------------------------- */

struct route_ctx {
    struct mf_route *r;
    bool has_host, has_header, has_value, has_token;
};

static void on_token(struct ld *ld, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
    struct route_ctx *c = arg;
    if (c->has_token) {
        err_at(ld, k, "egress.routes.token: give exactly one of 'file' or 'env'");
        return;
    }
    char *s = get_str(
        ld, strcmp(key, "file") == 0 ? "egress.routes.token.file" : "egress.routes.token.env", v);
    if (!s)
        return;
    c->has_token = true;
    if (strcmp(key, "file") == 0) {
        c->r->token_kind = TOKEN_FILE;
        c->r->token_src = canonical(path_resolve(ld->m->dir, s));
        free(s);
        struct stat st;
        if (stat(c->r->token_src, &st) != 0) {
            err_at(ld, v, "egress.routes.token.file: %s does not exist", c->r->token_src);
        } else if (!S_ISREG(st.st_mode)) {
            err_at(ld, v, "egress.routes.token.file: %s is not a regular file", c->r->token_src);
        } else if (st.st_mode & 077) {
            warn_at(ld, v,
                    "egress.routes.token.file: %s is readable by group or others (mode %04o); "
                    "run chmod 600 on it",
                    c->r->token_src, (unsigned)(st.st_mode & 07777));
        }
    } else {
        c->r->token_kind = TOKEN_ENV;
        c->r->token_src = s;
        if (!valid_env_name(s))
            err_at(ld, v, "egress.routes.token.env: '%s' is not a valid variable name", s);
        else if (!getenv(s))
            err_at(ld, v, "egress.routes.token.env: environment variable %s is not set", s);
    }
}

static void on_route(struct ld *ld, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
    struct route_ctx *c = arg;
    struct mf_route *r = c->r;
    if (strcmp(key, "host") == 0) {
        char *s = get_str(ld, "egress.routes.host", v);
        if (!s)
            return;
        lower(s);
        c->has_host = true;
        r->host = s;
        r->pos = pos_of(v);
        if (!valid_hostname(s))
            err_at(ld, v, "egress.routes.host: '%s' is not a host name", s);
    } else if (strcmp(key, "header") == 0) {
        char *s = get_str(ld, "egress.routes.header", v);
        if (!s)
            return;
        c->has_header = true;
        r->header = s;
        if (!valid_header_name(s))
            err_at(ld, v, "egress.routes.header: '%s' is not an HTTP header name", s);
    } else if (strcmp(key, "value") == 0) {
        char *s = get_str(ld, "egress.routes.value", v);
        if (!s)
            return;
        c->has_value = true;
        r->value = s;
        if (!strstr(s, "${token}"))
            err_at(ld, v, "egress.routes.value: must contain ${token}, where the real token goes");
        else if (strpbrk(s, "\r\n"))
            err_at(ld, v, "egress.routes.value: must not contain a line break");
    } else if (strcmp(key, "token") == 0) {
        static const char *const keys[] = {"file", "env", NULL};
        each_pair(ld, "egress.routes.token", v, keys, on_token, c);
        if (v->type == YAML_MAPPING_NODE && !c->has_token)
            err_at(ld, v, "egress.routes.token: give one of 'file' or 'env'");
        c->has_token = true; /* reported already */
    } else if (strcmp(key, "placeholder_env") == 0) {
        char *s = get_str(ld, "egress.routes.placeholder_env", v);
        if (!s)
            return;
        r->placeholder_env = s;
        if (!valid_env_name(s))
            err_at(ld, v, "egress.routes.placeholder_env: '%s' is not a valid variable name", s);
    }
}

static void on_egress(struct ld *ld, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
    struct manifest *m = ld->m;
    /* key == "routes" */
    if (v->type != YAML_SEQUENCE_NODE) {
        err_at(ld, v, "egress.routes: expected a list of routes, got %s",
               is_null(v) ? "null" : kind_name(v));
        return;
    }
    for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top; i++) {
        yaml_node_t *it = node(ld, *i);
        struct mf_route r = {0};
        r.pos = pos_of(it);
        struct route_ctx c = {.r = &r};
        static const char *const keys[] = {"host",  "header",          "value",
                                           "token", "placeholder_env", NULL};
        if (each_pair(ld, "egress.routes", it, keys, on_route, &c) == 0) {
            const char *missing = !c.has_host     ? "host"
                                  : !c.has_header ? "header"
                                  : !c.has_value  ? "value"
                                  : !c.has_token  ? "token"
                                                  : NULL;
            if (missing)
                err_at(ld, it, "egress.routes: route is missing '%s'", missing);
        }
        for (size_t j = 0; r.host && j < m->egress.nroutes; j++)
            if (strcmp(m->egress.routes[j].host, r.host) == 0)
                err_at(ld, it, "egress.routes: a second route for host '%s'", r.host);
        if (!r.host)
            r.host = xstrdup("");
        if (!r.header)
            r.header = xstrdup("");
        if (!r.value)
            r.value = xstrdup("");
        if (!r.token_src)
            r.token_src = xstrdup("");
        m->egress.routes = xrealloc(m->egress.routes, (m->egress.nroutes + 1) * sizeof r);
        m->egress.routes[m->egress.nroutes++] = r;
    }
}

/* ---- pipelock -------------------------------------------------------------- */

struct pat_ctx {
    struct mf_dlp_pattern *p;
    yaml_node_t *regex_node;
    bool has_name;
};

static void on_pattern(struct ld *ld, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
    struct pat_ctx *c = arg;
    if (strcmp(key, "name") == 0) {
        free(c->p->name);
        c->p->name = get_str(ld, "pipelock.dlp.patterns.name", v);
        c->has_name = true;
    } else if (strcmp(key, "regex") == 0) {
        free(c->p->regex);
        c->p->regex = get_str(ld, "pipelock.dlp.patterns.regex", v);
        c->regex_node = v;
    }
}

static void on_dlp(struct ld *ld, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
    struct manifest *m = ld->m;
    if (strcmp(key, "defaults") == 0) {
        get_bool(ld, "pipelock.dlp.defaults", v, &m->pipelock.dlp_defaults);
        return;
    }
    if (v->type != YAML_SEQUENCE_NODE) {
        err_at(ld, v, "pipelock.dlp.patterns: expected a list of {name, regex}, got %s",
               is_null(v) ? "null" : kind_name(v));
        return;
    }
    for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top; i++) {
        yaml_node_t *it = node(ld, *i);
        struct mf_dlp_pattern p = {.pos = pos_of(it)};
        struct pat_ctx c = {.p = &p};
        static const char *const keys[] = {"name", "regex", NULL};
        if (each_pair(ld, "pipelock.dlp.patterns", it, keys, on_pattern, &c) != 0)
            continue;
        if (!p.name || !p.regex) {
            if (!c.has_name || !c.regex_node)
                err_at(ld, it, "pipelock.dlp.patterns: pattern is missing '%s'",
                       !c.has_name ? "name" : "regex");
            free(p.name);
            free(p.regex);
            continue;
        }
        int ec;
        PCRE2_SIZE off;
        pcre2_code *re =
            pcre2_compile((PCRE2_SPTR)p.regex, PCRE2_ZERO_TERMINATED, 0, &ec, &off, NULL);
        if (!re) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(ec, msg, sizeof msg);
            err_at(ld, c.regex_node,
                   "pipelock.dlp.patterns.regex: pattern '%s' does not compile: %s at offset %zu",
                   p.name, (const char *)msg, (size_t)off);
        }
        pcre2_code_free(re);
        m->pipelock.patterns =
            xrealloc(m->pipelock.patterns, (m->pipelock.npatterns + 1) * sizeof p);
        m->pipelock.patterns[m->pipelock.npatterns++] = p;
    }
}

static void on_pipelock(struct ld *ld, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
    struct manifest *m = ld->m;
    if (strcmp(key, "mode") == 0) {
        char *s = get_str(ld, "pipelock.mode", v);
        if (!s)
            return;
        if (strcmp(s, "strict") == 0)
            m->pipelock.mode = PIPELOCK_STRICT;
        else if (strcmp(s, "balanced") == 0)
            m->pipelock.mode = PIPELOCK_BALANCED;
        else if (strcmp(s, "audit") == 0)
            m->pipelock.mode = PIPELOCK_AUDIT;
        else
            err_at(ld, v, "pipelock.mode: '%s' is not one of strict, balanced, audit", s);
        free(s);
    } else if (strcmp(key, "allow") == 0 || strcmp(key, "deny") == 0 ||
               strcmp(key, "passthrough") == 0) {
        struct strv *sv = key[0] == 'a'   ? &m->pipelock.allow
                          : key[0] == 'd' ? &m->pipelock.deny
                                          : &m->pipelock.passthrough;
        char where[32];
        snprintf(where, sizeof where, "pipelock.%s", key);
        size_t before = sv->n;
        get_strv(ld, where, v, sv, manifest_host_pattern_ok, "a host pattern (name, *.name or *)");
        for (size_t i = before; i < sv->n; i++)
            lower(sv->v[i]);
    } else if (strcmp(key, "dlp") == 0) {
        static const char *const keys[] = {"defaults", "patterns", NULL};
        each_pair(ld, "pipelock.dlp", v, keys, on_dlp, NULL);
    }
}

/* ---- upstream, git, supervise ------------------------------------------------ */

static bool valid_hostport(const char *s)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s)
        return false;
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (errno || *end || end == colon + 1 || port < 1 || port > 65535)
        return false;
    return true;
}

static bool holds_pem_cert(const char *path)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return false;
    X509 *x = PEM_read_X509(fp, NULL, NULL, NULL);
    fclose(fp);
    bool ok = x != NULL;
    X509_free(x);
    ERR_clear_error();
    return ok;
}

static void on_resolve(struct ld *ld, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
    struct manifest *m = ld->m;
    if (!valid_hostname(key)) {
        err_at(ld, k, "upstream.resolve: '%s' is not a host name", key);
        return;
    }
    char *addr = get_str(ld, "upstream.resolve", v);
    if (!addr)
        return;
    if (!valid_hostport(addr)) {
        err_at(ld, v, "upstream.resolve: '%s' is not HOST:PORT", addr);
        free(addr);
        return;
    }
    char *h = xstrdup(key);
    lower(h);
    m->upstream.resolve =
        xrealloc(m->upstream.resolve, (m->upstream.nresolve + 1) * sizeof *m->upstream.resolve);
    m->upstream.resolve[m->upstream.nresolve++] = (struct mf_resolve){h, addr};
}

static void on_upstream(struct ld *ld, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
    if (strcmp(key, "resolve") == 0) {
        each_pair(ld, "upstream.resolve", v, NULL, on_resolve, NULL);
    } else if (strcmp(key, "ca_file") == 0) {
        free(ld->m->upstream.ca_file);
        ld->m->upstream.ca_file = get_path(ld, "upstream.ca_file", v, PATH_FILE);
        const char *f = ld->m->upstream.ca_file;
        if (f && access(f, R_OK) == 0 && !holds_pem_cert(f))
            err_at(ld, v, "upstream.ca_file: %s holds no PEM certificate", f);
    }
}

struct repo_ctx {
    struct mf_repo *r;
};

static bool valid_repo_name(const char *s)
{
    return *s && *s != '.' &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "0123456789._-") == strlen(s);
}

static void on_repo(struct ld *ld, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
    struct repo_ctx *c = arg;
    if (strcmp(key, "path") == 0) {
        free(c->r->path);
        c->r->path = get_path(ld, "git.repos.path", v, PATH_DIR);
    } else {
        char *s = get_str(ld, "git.repos.name", v);
        if (s && !valid_repo_name(s)) {
            err_at(ld, v, "git.repos.name: '%s' is not a repository name ([A-Za-z0-9._-])", s);
            free(s);
            return;
        }
        free(c->r->name);
        c->r->name = s;
    }
}

static void on_git(struct ld *ld, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
    struct manifest *m = ld->m;
    if (v->type != YAML_SEQUENCE_NODE) {
        err_at(ld, v, "git.repos: expected a list of {path, name}, got %s",
               is_null(v) ? "null" : kind_name(v));
        return;
    }
    for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top; i++) {
        yaml_node_t *it = node(ld, *i);
        struct mf_repo r = {0};
        struct repo_ctx c = {&r};
        static const char *const keys[] = {"path", "name", NULL};
        if (each_pair(ld, "git.repos", it, keys, on_repo, &c) == 0 && !r.path)
            err_at(ld, it, "git.repos: repository is missing 'path'");
        if (!r.path) {
            free(r.name);
            continue;
        }
        if (!r.name) {
            const char *slash = strrchr(r.path, '/');
            r.name = xstrdup(slash && slash[1] ? slash + 1 : "repo");
            if (!valid_repo_name(r.name)) {
                free(r.name);
                r.name = xstrdup("repo");
            }
        }
        for (size_t j = 0; j < m->git.nrepos; j++)
            if (strcmp(m->git.repos[j].name, r.name) == 0)
                err_at(ld, it, "git.repos: a second repository named '%s'", r.name);
        m->git.repos = xrealloc(m->git.repos, (m->git.nrepos + 1) * sizeof r);
        m->git.repos[m->git.nrepos++] = r;
    }
}

static void on_supervise(struct ld *ld, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
    get_bool(ld, "supervise.enabled", v, &ld->m->supervise.enabled);
}

/* ---- top level ------------------------------------------------------------- */

struct top_ctx {
    yaml_node_t *image;
    yaml_node_t *user;
    bool has_name;
};

static void on_top(struct ld *ld, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
    struct manifest *m = ld->m;
    struct top_ctx *c = arg;
    if (strcmp(key, "name") == 0) {
        char *s = get_str(ld, "name", v);
        c->has_name = true;
        if (!s)
            return;
        if (!valid_name(s)) {
            err_at(ld, v,
                   "name: '%s' is not a bottle name (lower-case letters, digits and '-', "
                   "starting with a letter or digit, at most 31)",
                   s);
        }
        free(m->name);
        m->name = s;
    } else if (strcmp(key, "backend") == 0) {
        char *s = get_str(ld, "backend", v);
        if (!s)
            return;
        if (strcmp(s, "local") == 0)
            m->backend = BACKEND_LOCAL;
        else if (strcmp(s, "docker") == 0)
            m->backend = BACKEND_DOCKER;
        else if (strcmp(s, "smolvm") == 0)
            m->backend = BACKEND_SMOLVM;
        else
            err_at(ld, v, "backend: '%s' is not one of local, docker, smolvm", s);
        free(s);
    } else if (strcmp(key, "image") == 0) {
        free(m->image);
        m->image = get_str(ld, "image", v);
        c->image = v;
    } else if (strcmp(key, "workspace") == 0) {
        free(m->workspace);
        m->workspace = get_path(ld, "workspace", v, PATH_DIR);
    } else if (strcmp(key, "agent") == 0) {
        static const char *const keys[] = {"command", "user", "env", NULL};
        each_pair(ld, "agent", v, keys, on_agent, &c->user);
    } else if (strcmp(key, "egress") == 0) {
        static const char *const keys[] = {"routes", NULL};
        each_pair(ld, "egress", v, keys, on_egress, NULL);
    } else if (strcmp(key, "pipelock") == 0) {
        static const char *const keys[] = {"mode", "allow", "deny", "dlp", "passthrough", NULL};
        each_pair(ld, "pipelock", v, keys, on_pipelock, NULL);
    } else if (strcmp(key, "upstream") == 0) {
        static const char *const keys[] = {"resolve", "ca_file", NULL};
        each_pair(ld, "upstream", v, keys, on_upstream, NULL);
    } else if (strcmp(key, "git") == 0) {
        static const char *const keys[] = {"repos", NULL};
        each_pair(ld, "git", v, keys, on_git, NULL);
    } else if (strcmp(key, "supervise") == 0) {
        static const char *const keys[] = {"enabled", NULL};
        each_pair(ld, "supervise", v, keys, on_supervise, NULL);
    } else if (strcmp(key, "prompt") == 0) {
        free(m->prompt);
        m->prompt = get_path(ld, "prompt", v, PATH_FILE);
    } else if (strcmp(key, "skills") == 0) {
        free(m->skills);
        m->skills = get_path(ld, "skills", v, PATH_DIR);
    }
}

/* Checks that need the whole manifest. */
static void check_whole(struct ld *ld, struct top_ctx *c, yaml_node_t *root)
{
    struct manifest *m = ld->m;
    if (!c->has_name)
        err_at(ld, root, "missing required key 'name'");
    if (m->backend == BACKEND_LOCAL && c->image)
        err_at(ld, c->image,
               "image: the local backend runs on the host's own filesystem and takes no image; "
               "remove 'image' or choose backend docker or smolvm");
    if (m->backend == BACKEND_LOCAL && c->user)
        warn_at(ld, c->user,
                "agent.user: the local backend runs the agent as the caller; "
                "'user' is ignored");
    if (m->backend != BACKEND_LOCAL && !m->image)
        m->image = xstrdup(DEFAULT_IMAGE);
    if (m->backend != BACKEND_LOCAL && !m->agent.user)
        m->agent.user = xstrdup("node");
    if (m->backend == BACKEND_LOCAL) {
        free(m->agent.user);
        m->agent.user = NULL;
    }
    /* A route is useless (and a sign of a mistake) when pipelock would block its host. */
    for (size_t i = 0; i < m->egress.nroutes; i++) {
        struct mf_route *r = &m->egress.routes[i];
        if (!*r->host)
            continue;
        const char *reason, *rule;
        if (host_decide(m, r->host, &reason, &rule) == HOST_BLOCK) {
            diag_add(ld->d, DIAG_ERROR, ld->file, r->pos.line, r->pos.col,
                     "egress.routes.host: '%s' would be blocked by pipelock (%s%s%s); add it to "
                     "pipelock.allow",
                     r->host, reason, rule ? ": " : "", rule ? rule : "");
        }
    }
    for (size_t i = 0; i < m->egress.nroutes; i++)
        for (size_t j = 0; j < m->agent.nenv; j++)
            if (m->egress.routes[i].placeholder_env &&
                strcmp(m->egress.routes[i].placeholder_env, m->agent.env[j].key) == 0)
                diag_add(ld->d, DIAG_ERROR, ld->file, m->egress.routes[i].pos.line,
                         m->egress.routes[i].pos.col,
                         "egress.routes.placeholder_env: %s is also set in agent.env",
                         m->agent.env[j].key);
}

static struct manifest *manifest_new(const char *file)
{
    struct manifest *m = xcalloc(1, sizeof *m);
    m->file = xstrdup(file);
    char *d = path_dirname(file);
    char abs[PATH_MAX];
    if (realpath(d, abs)) {
        m->dir = xstrdup(abs);
        free(d);
    } else {
        m->dir = d;
    }
    m->backend = BACKEND_LOCAL;
    m->pipelock.mode = PIPELOCK_STRICT;
    m->pipelock.dlp_defaults = true;
    m->supervise.enabled = true;
    return m;
}

struct manifest *manifest_load_buffer(const char *file_label, const char *data, size_t len,
                                      struct diag_list *diags)
{
    size_t errors_before = diags->errors;
    struct manifest *m = manifest_new(file_label);
    yaml_parser_t parser;
    yaml_document_t doc;
    bool have_doc = false;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
    if (!yaml_parser_load(&parser, &doc)) {
        diag_add(diags, DIAG_ERROR, file_label, (int)parser.problem_mark.line + 1,
                 (int)parser.problem_mark.column + 1, "YAML syntax: %s%s%s",
                 parser.problem ? parser.problem : "malformed document", parser.context ? " " : "",
                 parser.context ? parser.context : "");
        goto out;
    }
    have_doc = true;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        diag_add(diags, DIAG_ERROR, file_label, 1, 1,
                 "the manifest is empty (expected a mapping with at least 'name')");
        goto out;
    }
    yaml_document_t extra;
    if (yaml_parser_load(&parser, &extra)) {
        if (yaml_document_get_root_node(&extra))
            diag_add(diags, DIAG_ERROR, file_label, (int)extra.start_mark.line + 1,
                     (int)extra.start_mark.column + 1,
                     "a manifest holds one YAML document; found a second");
        yaml_document_delete(&extra);
    }
    struct ld ld = {&doc, diags, file_label, m};
    struct top_ctx c = {0};
    static const char *const keys[] = {"name",   "backend",  "image",    "workspace", "agent",
                                       "egress", "pipelock", "upstream", "git",       "supervise",
                                       "prompt", "skills",   NULL};
    if (each_pair(&ld, "manifest", root, keys, on_top, &c) == 0)
        check_whole(&ld, &c, root);
    if (!m->workspace)
        m->workspace = xstrdup(m->dir);
    if (m->agent.command.n == 0)
        strv_push(&m->agent.command, "claude");
out:
    if (have_doc)
        yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (diags->errors > errors_before) {
        manifest_free(m);
        return NULL;
    }
    return m;
}

struct manifest *manifest_load(const char *path, struct diag_list *diags)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        diag_add(diags, DIAG_ERROR, path, 0, 0, "is a directory, not a manifest file");
        return NULL;
    }
    size_t len = 0;
    char *data = file_read_all(path, MANIFEST_MAX_BYTES, &len);
    if (!data) {
        diag_add(diags, DIAG_ERROR, path, 0, 0, "cannot read: %s",
                 errno == EFBIG ? "larger than 1 MiB" : strerror(errno));
        return NULL;
    }
    struct manifest *m = manifest_load_buffer(path, data, len, diags);
    free(data);
    return m;
}

void manifest_free(struct manifest *m)
{
    if (!m)
        return;
    free(m->file);
    free(m->dir);
    free(m->name);
    free(m->image);
    free(m->workspace);
    strv_free(&m->agent.command);
    free(m->agent.user);
    for (size_t i = 0; i < m->agent.nenv; i++) {
        free(m->agent.env[i].key);
        free(m->agent.env[i].value);
    }
    free(m->agent.env);
    for (size_t i = 0; i < m->egress.nroutes; i++) {
        struct mf_route *r = &m->egress.routes[i];
        free(r->host);
        free(r->header);
        free(r->value);
        free(r->token_src);
        free(r->placeholder_env);
    }
    free(m->egress.routes);
    strv_free(&m->pipelock.allow);
    strv_free(&m->pipelock.deny);
    strv_free(&m->pipelock.passthrough);
    for (size_t i = 0; i < m->pipelock.npatterns; i++) {
        free(m->pipelock.patterns[i].name);
        free(m->pipelock.patterns[i].regex);
    }
    free(m->pipelock.patterns);
    for (size_t i = 0; i < m->upstream.nresolve; i++) {
        free(m->upstream.resolve[i].host);
        free(m->upstream.resolve[i].address);
    }
    free(m->upstream.resolve);
    free(m->upstream.ca_file);
    for (size_t i = 0; i < m->git.nrepos; i++) {
        free(m->git.repos[i].path);
        free(m->git.repos[i].name);
    }
    free(m->git.repos);
    free(m->prompt);
    free(m->skills);
    free(m);
}

const char *backend_kind_name(enum backend_kind k)
{
    switch (k) {
    case BACKEND_DOCKER:
        return "docker";
    case BACKEND_SMOLVM:
        return "smolvm";
    default:
        return "local";
    }
}

const char *pipelock_mode_name(enum pipelock_mode m)
{
    switch (m) {
    case PIPELOCK_BALANCED:
        return "balanced";
    case PIPELOCK_AUDIT:
        return "audit";
    default:
        return "strict";
    }
}

const struct mf_route *manifest_route_for(const struct manifest *m, const char *host)
{
    for (size_t i = 0; i < m->egress.nroutes; i++)
        if (str_ieq(m->egress.routes[i].host, host))
            return &m->egress.routes[i];
    return NULL;
}

const char *manifest_resolve_for(const struct manifest *m, const char *host)
{
    for (size_t i = 0; i < m->upstream.nresolve; i++)
        if (str_ieq(m->upstream.resolve[i].host, host))
            return m->upstream.resolve[i].address;
    return NULL;
}
