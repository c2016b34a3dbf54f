/* dlp_rules: the DLP pattern list: the shipped defaults (assets/dlp/default.yaml) plus a manifest's
 * own. */
#ifndef BOTTLE_CORE_DLP_RULES_H
#define BOTTLE_CORE_DLP_RULES_H

#include <stddef.h>

#include "core/diag.h"
#include "core/manifest.h"

struct dlp_rule {
    char *name;
    char *regex; /* PCRE2 syntax */
};

struct dlp_rules {
    struct dlp_rule *v;
    size_t n;
};

/* Path of the default rules: $BOTTLE_ASSETS/dlp/default.yaml, else
 * BOTTLE_ASSETS_DIR/dlp/default.yaml. Static string. */
const char *dlp_rules_default_path(void);
/* Load a rules YAML file (a top-level "patterns:" sequence of {name, regex}).
 * Problems go to DIAGS with file:line:col. Returns 0 or -1. */
int dlp_rules_load_file(struct dlp_rules *out, const char *path, struct diag_list *diags);
/* Defaults (when m->pipelock.dlp_defaults) followed by the manifest's patterns. */
int dlp_rules_for_manifest(struct dlp_rules *out, const struct manifest *m,
                           struct diag_list *diags);
void dlp_rules_free(struct dlp_rules *r);

#endif
