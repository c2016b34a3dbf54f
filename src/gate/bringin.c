/* bringin: log and fetch of a pushed branch from the gate's bare copy into the host repository. */
#include "gate/bringin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/plan.h"
#include "core/util.h"

#define BRING_OUTPUT_MAX (64 * 1024)

static bool is_sha(const char *s)
{
    size_t n = strspn(s, "0123456789abcdef");
    return n >= 7 && n <= 64 && s[n] == '\0';
}

/* git's own ref-name rules are stricter; this keeps shell- and path-safety. */
static bool safe_branch(const char *s)
{
    if (!*s || strstr(s, "..") || s[0] == '-' || s[0] == '/' || s[strlen(s) - 1] == '/')
        return false;
    for (const char *c = s; *c; c++)
        if (!(('a' <= *c && *c <= 'z') || ('A' <= *c && *c <= 'Z') || ('0' <= *c && *c <= '9') ||
              strchr("-_./+", *c)))
            return false;
    return true;
}

int gate_pushed_parse(const struct manifest *m, const char *repo, const char *refs,
                      struct gate_pushed *out, char **err)
{
    memset(out, 0, sizeof *out);
    *err = NULL;
    const struct mf_repo *r = NULL;
    for (size_t i = 0; i < m->git.nrepos; i++)
        if (strcmp(m->git.repos[i].name, repo) == 0)
            r = &m->git.repos[i];
    if (!r) {
        *err = xasprintf("%s is not one of bottle %s's git.repos", repo, m->name);
        return -1;
    }
    char ref[512], range[160];
    if (sscanf(refs, "%511s %159s", ref, range) != 2) {
        *err = xasprintf("cannot read the push '%s'", refs);
        return -1;
    }
    char *dots = strstr(range, "..");
    if (!str_has_prefix(ref, "refs/heads/") || !dots) {
        *err = xasprintf("%s is not a branch; only branches can be brought in", ref);
        return -1;
    }
    *dots = '\0';
    const char *old = range, *new_ = dots + 2, *branch = ref + strlen("refs/heads/");
    if (!is_sha(old) || !is_sha(new_) || !safe_branch(branch)) {
        *err = xasprintf("cannot read the push '%s'", refs);
        return -1;
    }
    if (strspn(new_, "0") == strlen(new_)) {
        *err = xasprintf("%s was deleted by that push", branch);
        return -1;
    }
    struct plan *pl = plan_build(m);
    out->repo = xstrdup(repo);
    out->host_repo = xstrdup(r->path);
    out->bare = xasprintf("%s/gate/%s.git", pl->state_dir, repo);
    out->branch = xstrdup(branch);
    out->target = xasprintf("bottle/%s/%s", m->name, branch);
    out->old = xstrdup(old);
    out->new_ = xstrdup(new_);
    plan_free(pl);
    return 0;
}

void gate_pushed_free(struct gate_pushed *p)
{
    free(p->repo);
    free(p->host_repo);
    free(p->bare);
    free(p->branch);
    free(p->target);
    free(p->old);
    free(p->new_);
    memset(p, 0, sizeof *p);
}

int gate_pushed_log(uv_loop_t *loop, const struct gate_pushed *p, proc_collect_cb cb, void *arg)
{
    /* The event's hashes are cut to 12: git resolves them in the bare copy. */
    bool fresh = strspn(p->old, "0") == strlen(p->old);
    char *range = fresh ? xstrdup(p->new_) : xasprintf("%s..%s", p->old, p->new_);
    const char *argv[] = {
        "git", "--git-dir", p->bare, "log", "-n", "50", "--format=%h %s (%an, %ar)",
        range, "--",        NULL};
    int rc = proc_collect(loop, argv, NULL, BRING_OUTPUT_MAX, cb, arg);
    free(range);
    return rc;
}

int gate_bring_in(uv_loop_t *loop, const struct gate_pushed *p, proc_collect_cb cb, void *arg)
{
    char *spec = xasprintf("+refs/heads/%s:refs/heads/%s", p->branch, p->target);
    const char *argv[] = {"git", "-C", p->host_repo, "fetch", "--no-tags", p->bare, spec, NULL};
    int rc = proc_collect(loop, argv, NULL, BRING_OUTPUT_MAX, cb, arg);
    free(spec);
    return rc;
}
