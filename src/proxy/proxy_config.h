/* proxy_config: one loaded hop config (manifest, upstream trust, tokens, DLP), ref-counted. */
#ifndef BOTTLE_PROXY_CONFIG_H
#define BOTTLE_PROXY_CONFIG_H

#include <openssl/ssl.h>

#include "core/manifest.h"
#include "core/util.h"

enum proxy_role { PROXY_EGRESS, PROXY_PIPELOCK };

struct dlp;

/* Immutable once loaded (but for the lazily made client_ctx): a reload
 * builds a new one, and requests in flight keep the one they started with. */
struct proxy_config {
    int refs;
    enum proxy_role role;
    struct manifest *m;
    SSL_CTX *client_ctx; /* upstream verification: system store + upstream.ca_file;
                            made at the first upstream TLS (proxy_config_client_ctx) */
    char **tokens;       /* egress: the real token per route (parallel to m->egress.routes) */
    size_t ntokens;
    struct dlp *dlp; /* pipelock */
};

/* Load PATH for ROLE. ALLOW_FILE (pipelock; may be NULL) names a file of
 * extra pipelock.allow hosts, one per line ('#' comments and blank lines
 * ignored; a missing file adds none). On failure returns NULL with every
 * problem, one per line, in ERRORS (never a token). */
struct proxy_config *proxy_config_load(enum proxy_role role, const char *path,
                                       const char *allow_file, struct buf *errors);
/* The upstream TLS context, made on first use (an idle hop, and egress with
 * a parent, never need one; upstream.ca_file was checked by the manifest
 * loader already). NULL with ERR set when it cannot be made. */
SSL_CTX *proxy_config_client_ctx(struct proxy_config *c, char *err, size_t errcap);
struct proxy_config *proxy_config_ref(struct proxy_config *c);
void proxy_config_unref(struct proxy_config *c);

const char *proxy_role_name(enum proxy_role r);

#endif
