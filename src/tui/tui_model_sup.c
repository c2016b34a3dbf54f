/* tui_model_sup: a bottle's supervise calls (pending and resolved) and gate pushes, from events. */
#include "tui/tui_model_sup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

static const char *const sv_names[] = {"pending", "delivered", "answered", "approved",
                                       "denied",  "failed",    "timeout",  "cancelled"};

const char *tui_sv_status_name(enum tui_sv_status s)
{
    return (size_t)s < sizeof sv_names / sizeof *sv_names ? sv_names[s] : "?";
}

static const char *jstr(const cJSON *ev, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(ev, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void copy_time(char out[13], const char *ts)
{
    size_t n = ts ? strlen(ts) : 0;
    snprintf(out, 13, "%s", n >= 23 ? ts + 11 : (ts ? ts : ""));
}

static void sv_clear(struct tui_sv *v)
{
    free(v->summary);
    free(v->outcome);
    memset(v, 0, sizeof *v);
}

/* Room for one more: the oldest resolved call goes first, so a flood of
 * notifications never pushes out a question still waiting. */
static struct tui_sv *sv_push(struct tui_sup *s)
{
    if (s->n == TUI_SV_HISTORY) {
        size_t drop = 0;
        for (size_t i = 0; i < s->n; i++)
            if (s->v[i].status != TUI_SV_PENDING) {
                drop = i;
                break;
            }
        if (s->v[drop].status == TUI_SV_PENDING && s->npending)
            s->npending--;
        sv_clear(&s->v[drop]);
        memmove(&s->v[drop], &s->v[drop + 1], (s->n - drop - 1) * sizeof *s->v);
        s->n--;
    }
    struct tui_sv *v = &s->v[s->n++];
    memset(v, 0, sizeof *v);
    return v;
}

static struct tui_sv *find_pending(struct tui_sup *s, const char *id)
{
    for (size_t i = s->n; i-- > 0;)
        if (s->v[i].status == TUI_SV_PENDING && strcmp(s->v[i].id, id) == 0)
            return &s->v[i];
    return NULL;
}

static bool apply_supervise(struct tui_sup *s, const cJSON *ev, uint64_t now_ms)
{
    const char *tool = jstr(ev, "tool"), *id = jstr(ev, "id"), *st = jstr(ev, "status"),
               *sum = jstr(ev, "summary");
    if (!tool || !id || !st)
        return false;
    enum tui_sv_status status = TUI_SV_PENDING;
    bool known = false;
    for (size_t i = 0; i < sizeof sv_names / sizeof *sv_names; i++)
        if (strcmp(st, sv_names[i]) == 0) {
            status = (enum tui_sv_status)i;
            known = true;
        }
    if (!known)
        return false;
    struct tui_sv *v = status == TUI_SV_PENDING ? NULL : find_pending(s, id);
    if (v) {
        /* The call is resolved: it leaves the pending list, its outcome stays in the history. */
        v->status = status;
        v->done_ms = now_ms;
        free(v->outcome);
        v->outcome = xstrdup(sum ? sum : "");
        s->npending--;
        return true;
    }
    v = sv_push(s);
    snprintf(v->tool, sizeof v->tool, "%s", tool);
    snprintf(v->id, sizeof v->id, "%s", id);
    copy_time(v->time, jstr(ev, "ts"));
    v->status = status;
    v->since_ms = now_ms;
    v->done_ms = status == TUI_SV_PENDING ? 0 : now_ms;
    v->summary = xstrdup(sum ? sum : "");
    if (status != TUI_SV_PENDING && status != TUI_SV_DELIVERED)
        v->outcome = xstrdup(sum ? sum : "");
    if (strcmp(tool, "request_egress") == 0 && sum) {
        /* "host: reason" */
        const char *colon = strstr(sum, ": ");
        size_t n = colon ? (size_t)(colon - sum) : strlen(sum);
        snprintf(v->host, sizeof v->host, "%.*s", (int)n, sum);
    }
    if (status == TUI_SV_PENDING)
        s->npending++;
    return true;
}

static bool apply_gate(struct tui_sup *s, const cJSON *ev)
{
    const char *op = jstr(ev, "op"), *repo = jstr(ev, "repo"), *refs = jstr(ev, "refs");
    if (!op || strcmp(op, "push") != 0 || !repo || !refs)
        return false;
    if (s->npushes == TUI_PUSH_HISTORY) {
        free(s->pushes[0].repo);
        free(s->pushes[0].refs);
        free(s->pushes[0].note);
        memmove(&s->pushes[0], &s->pushes[1], (s->npushes - 1) * sizeof *s->pushes);
        s->npushes--;
    }
    struct tui_push *p = &s->pushes[s->npushes++];
    memset(p, 0, sizeof *p);
    copy_time(p->time, jstr(ev, "ts"));
    p->repo = xstrdup(repo);
    p->refs = xstrdup(refs);
    s->push_seq++;
    return true;
}

bool tui_sup_apply(struct tui_sup *s, const char *type, const cJSON *ev, uint64_t now_ms)
{
    if (strcmp(type, "supervise") == 0)
        return apply_supervise(s, ev, now_ms);
    if (strcmp(type, "gate") == 0)
        return apply_gate(s, ev);
    return false;
}

void tui_sup_end_run(struct tui_sup *s, uint64_t now_ms)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].status == TUI_SV_PENDING) {
            s->v[i].status = TUI_SV_CANCELLED;
            s->v[i].done_ms = now_ms;
            free(s->v[i].outcome);
            s->v[i].outcome = xstrdup("the bottle stopped");
        }
    s->npending = 0;
}

void tui_sup_free(struct tui_sup *s)
{
    for (size_t i = 0; i < s->n; i++)
        sv_clear(&s->v[i]);
    for (size_t i = 0; i < s->npushes; i++) {
        free(s->pushes[i].repo);
        free(s->pushes[i].refs);
        free(s->pushes[i].note);
    }
    s->n = s->npending = s->npushes = 0;
}

const struct tui_sv *tui_sup_pending(const struct tui_sup *s, size_t i)
{
    for (size_t k = 0; k < s->n; k++)
        if (s->v[k].status == TUI_SV_PENDING && i-- == 0)
            return &s->v[k];
    return NULL;
}

const struct tui_sv *tui_sup_find_pending(const struct tui_sup *s, const char *id)
{
    return find_pending((struct tui_sup *)s, id);
}

void tui_sup_push_note(struct tui_sup *s, size_t i, const char *note, bool failed)
{
    if (i >= s->npushes)
        return;
    free(s->pushes[i].note);
    s->pushes[i].note = note ? xstrdup(note) : NULL;
    s->pushes[i].failed = failed;
}

void tui_push_split(const struct tui_push *p, char *branch, size_t nb, char *range, size_t nr,
                    const char **subject)
{
    const char *r = p->refs;
    const char *sp = strchr(r, ' ');
    size_t n = sp ? (size_t)(sp - r) : strlen(r);
    const char *b = r;
    if (n > 11 && strncmp(r, "refs/heads/", 11) == 0) {
        b += 11;
        n -= 11;
    }
    snprintf(branch, nb, "%.*s", (int)n, b);
    const char *rs = sp ? sp + 1 : "";
    const char *sp2 = strchr(rs, ' ');
    size_t rn = sp2 ? (size_t)(sp2 - rs) : strlen(rs);
    snprintf(range, nr, "%.*s", (int)rn, rs);
    *subject = sp2 ? sp2 + 1 : "";
}
