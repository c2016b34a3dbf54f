/* proxy_config: one loaded hop config (manifest, upstream trust, tokens, DLP), ref-counted. */
#include "proxy/proxy_config.h"

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

struct proxy_config *proxy_config_load(enum proxy_role role, const char *path, struct buf *errors)
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
    char err[256];
    c->client_ctx = proxy_tls_client_ctx(c->m->upstream.ca_file, err, sizeof err);
    if (!c->client_ctx) {
        buf_appendf(errors, "%s: %s\n", path, err);
        goto error;
    }
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
