/* bringin: the operator brings a branch the agent pushed to the gate into the host repository,
 * as bottle/<name>/<branch>, after reading its log. */
#ifndef BOTTLE_GATE_BRINGIN_H
#define BOTTLE_GATE_BRINGIN_H

#include <uv.h>

#include "core/manifest.h"
#include "core/proc.h"

struct gate_pushed {
    char *repo;       /* the git.repos name */
    char *host_repo;  /* the operator's repository */
    char *bare;       /* the gate's bare copy */
    char *branch;     /* "feature/x" */
    char *target;     /* "bottle/<name>/feature/x" */
    char *old, *new_; /* the push's old and new commits (old all zeros: a new branch) */
};

/* From a `gate` push event's REPO and REFS ("refs/heads/B OLD..NEW subject")
 * for bottle M: what bringing it in means. Returns 0, or -1 with *ERR. Tags
 * and deletions are refused. */
int gate_pushed_parse(const struct manifest *m, const char *repo, const char *refs,
                      struct gate_pushed *out, char **err);
void gate_pushed_free(struct gate_pushed *p);
/* The pushed commits, one "hash subject (author, when)" line each (at most
 * 50), from the gate's copy. CB as proc_collect's. */
int gate_pushed_log(uv_loop_t *loop, const struct gate_pushed *p, proc_collect_cb cb, void *arg);
/* Fetch the branch into the host repository as P->target (forced: the
 * bottle's namespace follows the agent's pushes). CB as proc_collect's. */
int gate_bring_in(uv_loop_t *loop, const struct gate_pushed *p, proc_collect_cb cb, void *arg);

#endif
