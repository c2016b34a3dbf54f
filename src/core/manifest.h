/* manifest: a bottle manifest (DESIGN section 4) parsed from YAML into a typed struct. */
#ifndef BOTTLE_CORE_MANIFEST_H
#define BOTTLE_CORE_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>

#include "core/diag.h"
#include "core/util.h"

enum backend_kind { BACKEND_LOCAL, BACKEND_DOCKER, BACKEND_SMOLVM };
enum pipelock_mode { PIPELOCK_STRICT, PIPELOCK_BALANCED, PIPELOCK_AUDIT };
enum token_kind { TOKEN_FILE, TOKEN_ENV };

/* Where a value came from in the manifest, for later messages. */
struct mf_pos {
    int line;
    int col;
};

struct mf_kv {
    char *key;
    char *value;
};

struct mf_route {
    char *host;   /* lower-cased */
    char *header; /* e.g. "Authorization" */
    char *value;  /* template; "${token}" is replaced by the real token */
    enum token_kind token_kind;
    char *token_src;       /* TOKEN_FILE: resolved absolute path; TOKEN_ENV: variable name */
    char *placeholder_env; /* may be NULL */
    struct mf_pos pos;
};

struct mf_dlp_pattern {
    char *name;
    char *regex;
    struct mf_pos pos;
};

struct mf_resolve {
    char *host;    /* lower-cased */
    char *address; /* "HOST:PORT" to connect to instead */
};

struct mf_repo {
    char *path; /* resolved */
    char *name;
};

struct manifest {
    char *file; /* the path it was loaded from */
    char *dir;  /* its directory (relative paths resolve against it) */

    char *name;
    enum backend_kind backend;
    char *image;     /* NULL on local */
    char *workspace; /* resolved; defaults to the manifest's directory */

    struct {
        struct strv command; /* default: [claude] */
        char *user;          /* default: node (docker/smolvm); NULL on local */
        struct mf_kv *env;
        size_t nenv;
    } agent;

    struct {
        struct mf_route *routes;
        size_t nroutes;
    } egress;

    struct {
        enum pipelock_mode mode; /* default strict */
        struct strv allow;
        struct strv deny;
        bool dlp_defaults; /* default true */
        struct mf_dlp_pattern *patterns;
        size_t npatterns;
        struct strv passthrough;
    } pipelock;

    struct {
        struct mf_resolve *resolve;
        size_t nresolve;
        char *ca_file; /* resolved; may be NULL */
    } upstream;

    struct {
        struct mf_repo *repos;
        size_t nrepos;
    } git;

    struct {
        bool enabled; /* default true */
    } supervise;

    char *prompt; /* resolved; may be NULL */
    char *skills; /* resolved; may be NULL */
};

/* Load and validate PATH. Every problem found is appended to DIAGS (errors
 * and warnings, as file:line:col). Returns the manifest when there were no
 * errors, else NULL. The caller owns the result (manifest_free). */
struct manifest *manifest_load(const char *path, struct diag_list *diags);
/* The same over an in-memory document; FILE_LABEL names it in diagnostics
 * and its directory is where relative paths resolve. Filesystem checks
 * (token file, workspace, prompt, skills, ca_file) still run. */
struct manifest *manifest_load_buffer(const char *file_label, const char *data, size_t len,
                                      struct diag_list *diags);
void manifest_free(struct manifest *m);

/* Is S an allow/deny host pattern: "*", "*.name" or a DNS name? */
bool manifest_host_pattern_ok(const char *s);
/* Add HOST to pipelock.allow in the manifest file PATH, editing its text in
 * place (comments and layout kept; the key is created when missing). The
 * edited text must still load; it replaces the file atomically. Returns 0,
 * or -1 with *ERR (new string) saying why the file was left as it was. */
int manifest_add_allow(const char *path, const char *host, char **err);

const char *backend_kind_name(enum backend_kind k);
const char *pipelock_mode_name(enum pipelock_mode m);

/* The route for HOST (exact, case-insensitive), or NULL. */
const struct mf_route *manifest_route_for(const struct manifest *m, const char *host);
/* The resolve override for HOST, or NULL. */
const char *manifest_resolve_for(const struct manifest *m, const char *host);

#endif
