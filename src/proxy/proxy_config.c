/* proxy_config: one loaded hop config (manifest, upstream trust, tokens, DLP), ref-counted. */
#include "proxy/proxy_config.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/dlp_rules.h"
#include "proxy/dlp.h"
#include "proxy/proxy_egress.h"
#include "proxy/proxy_tls.h"

const char *proxy_role_name(enum proxy_role r)
{
    return r == PROXY_EGRESS ? "egress" : "pipelock";
}

static void diags_to(struct buf *errors, const struct diag_list *d)
{
    for (size_t i = 0; i < d->n; i++) {
        const struct diag *x = &d->v[i];
        if (x->level != DIAG_ERROR)
            continue;
        buf_appendf(errors, "%s:%d:%d: error: %s\n", x->file, x->line, x->col, x->msg);
    }
}

#define ALLOW_FILE_MAX (4 * 1024 * 1024)

/* Add the hosts of ALLOW_FILE to M's pipelock.allow, validated like the
 * manifest's own entries. Returns 0, or -1 with every bad line in ERRORS. */
static int load_allow_file(struct manifest *m, const char *allow_file, struct buf *errors)
{
    size_t len = 0;
    char *text = file_read_all(allow_file, ALLOW_FILE_MAX, &len);
    if (!text) {
        if (errno == ENOENT)
            return 0; /* no file yet: no extra hosts */
        buf_appendf(errors, "%s: cannot read the allow file: %s\n", allow_file, strerror(errno));
        return -1;
    }
    if (memchr(text, 0, len)) {
        buf_appendf(errors, "%s: the allow file holds a NUL byte\n", allow_file);
        free(text);
        return -1;
    }
    int rc = 0, lineno = 0;
    for (char *line = text, *next; line; line = next) {
        lineno++;
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = 0;
        while (*line == ' ' || *line == '\t')
            line++;
        size_t n = strlen(line);
        while (n && (line[n - 1] == ' ' || line[n - 1] == '\t' || line[n - 1] == '\r'))
            line[--n] = 0;
        if (n == 0)
            continue;
        for (char *p = line; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        if (!manifest_host_pattern_ok(line)) {
            buf_appendf(errors,
                        "%s:%d: error: '%.200s' is not a host pattern (name, *.name or *)\n",
                        allow_file, lineno, line);
            rc = -1;
            continue;
        }
        strv_push(&m->pipelock.allow, line);
    }
    free(text);
    return rc;
}

struct proxy_config *proxy_config_load(enum proxy_role role, const char *path,
                                       const char *allow_file, struct buf *errors)
{
    struct diag_list diags = {0};
    struct proxy_config *c = xcalloc(1, sizeof *c);
    c->refs = 1;
    c->role = role;
    c->m = manifest_load(path, &diags);
    if (!c->m) {
        diags_to(errors, &diags);
        if (diags.errors == 0)
            buf_appendf(errors, "%s: cannot load the manifest\n", path);
        goto error;
    }
    if (role == PROXY_PIPELOCK && allow_file && load_allow_file(c->m, allow_file, errors) != 0)
        goto error;
    if (role == PROXY_EGRESS) {
        if (proxy_egress_load_tokens(c->m, &c->tokens, &c->ntokens, errors) != 0)
            goto error;
    } else {
        struct dlp_rules rules = {0};
        if (dlp_rules_for_manifest(&rules, c->m, &diags) != 0) {
            diags_to(errors, &diags);
            dlp_rules_free(&rules);
            goto error;
        }
        char *derr = NULL;
        c->dlp = dlp_new(&rules, &derr);
        dlp_rules_free(&rules);
        if (!c->dlp) {
            buf_appendf(errors, "%s: DLP: %s\n", path, derr ? derr : "cannot compile the rules");
            free(derr);
            goto error;
        }
    }
    diag_free(&diags);
    return c;
error:
    diag_free(&diags);
    proxy_config_unref(c);
    return NULL;
}

SSL_CTX *proxy_config_client_ctx(struct proxy_config *c, char *err, size_t errcap)
{
    if (!c->client_ctx)
        c->client_ctx = proxy_tls_client_ctx(c->m->upstream.ca_file, err, errcap);
    return c->client_ctx;
}

struct proxy_config *proxy_config_ref(struct proxy_config *c)
{
    c->refs++;
    return c;
}

void proxy_config_unref(struct proxy_config *c)
{
    if (!c || --c->refs > 0)
        return;
    proxy_egress_free_tokens(c->tokens, c->ntokens);
    if (c->dlp)
        dlp_free(c->dlp);
    SSL_CTX_free(c->client_ctx);
    if (c->m)
        manifest_free(c->m);
    free(c);
}
