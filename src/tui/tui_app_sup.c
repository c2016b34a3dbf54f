/* tui_app_sup: answers and decisions for supervise calls, allowing a blocked host, and a pushed
 * branch's log and bring-in, each reported back on the dashboard. */
#include "tui/tui_app_sup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/diag.h"
#include "core/manifest.h"
#include "core/util.h"
#include "gate/supervise.h"
#include "tui/tui_view.h"

/* What a declined question tells the agent. */
#define DECLINED_ANSWER "The operator declined to answer."

static void redraw(struct tui_app_sup *c)
{
    if (c->redraw)
        c->redraw(c->data);
}

/* The first line of git's output, for a one-line message. */
static void first_line(char *out, size_t n, const char *text)
{
    const char *t = text ? text : "";
    while (*t == '\n')
        t++;
    const char *e = strchr(t, '\n');
    size_t len = e ? (size_t)(e - t) : strlen(t);
    snprintf(out, n, "%.*s", (int)len, t);
}

/* ---- supervise calls ------------------------------------------------------------------------ */

static void supervise_act(struct tui_app_sup *c, enum tui_action act, struct bottle *b,
                          struct tui_bottle *mb)
{
    struct tui_view *v = c->view;
    if (!b || !b->supervise) {
        tui_view_message(v, "%s is not running: its calls cannot be answered", mb->name);
        return;
    }
    const struct tui_sv *sv = tui_sup_find_pending(&mb->sup, v->act_id);
    if (!sv) {
        tui_view_message(v, "#%s is no longer pending", v->act_id);
        return;
    }
    bool ask = strcmp(sv->tool, "ask_operator") == 0;
    char host[256];
    snprintf(host, sizeof host, "%s", sv->host);
    int rc;
    if (act == TUI_ACT_ANSWER || (ask && act == TUI_ACT_DENY)) {
        const char *text = act == TUI_ACT_ANSWER ? v->input : DECLINED_ANSWER;
        rc = supervise_answer(b->supervise, v->act_id, text);
        if (rc == 0)
            tui_view_message(v, "#%s %s", v->act_id,
                             act == TUI_ACT_ANSWER ? "answered" : "declined");
    } else if (ask) {
        tui_view_message(v, "#%s is a question: Enter answers it", v->act_id);
        return;
    } else {
        bool approve = act != TUI_ACT_DENY, save = act == TUI_ACT_APPROVE_SAVE;
        rc = supervise_decide(b->supervise, v->act_id, approve, save);
        if (rc == 0 && approve)
            tui_view_message(v, "approving %s %s...", host,
                             save ? "and saving it to the manifest" : "for this run");
        else if (rc == 0)
            tui_view_message(v, "denied %s", host);
    }
    if (rc != 0)
        tui_view_message(v, "#%s is no longer pending", v->act_id);
    v->input[0] = '\0';
}

/* ---- a blocked host joins the allowlist ----------------------------------------------------- */

struct allow_req {
    struct tui_app_sup *c;
    char host[256];
    bool save;
};

static void on_allowed(struct bottle *b, int rc, const char *msg, void *arg)
{
    struct allow_req *r = arg;
    struct tui_app_sup *c = r->c;
    c->inflight--;
    if (rc == 0)
        tui_view_message(c->view, "%s allowed %s: pipelock reloaded", r->host,
                         r->save ? "and saved to the manifest" : "for this run");
    else
        tui_view_message(c->view, "allowing %s failed: %s", r->host, msg ? msg : "unknown error");
    free(r);
    redraw(c);
}

static void allow_host(struct tui_app_sup *c, struct bottle *b, struct tui_bottle *mb, bool save)
{
    struct tui_view *v = c->view;
    if (!b) {
        tui_view_message(v, "%s is not running: nothing to allow", mb->name);
        return;
    }
    struct allow_req *r = xcalloc(1, sizeof *r);
    r->c = c;
    snprintf(r->host, sizeof r->host, "%s", v->act_arg);
    r->save = save;
    char *err = NULL;
    if (bottle_allow_host(b, r->host, save, on_allowed, r, &err) != 0) {
        tui_view_message(v, "allowing %s failed: %s", r->host, err ? err : "unknown error");
        free(err);
        free(r);
        return;
    }
    c->inflight++;
    tui_view_message(v, "allowing %s...", r->host);
}

/* ---- gate: a push's log, then bring it in ---------------------------------------------- */

static void push_req_free(struct push_req *r)
{
    if (!r)
        return;
    gate_pushed_free(&r->p);
    free(r);
}

static void on_log(void *arg, int status, const char *output)
{
    struct push_req *r = arg;
    struct tui_app_sup *c = r->c;
    struct tui_view *v = c->view;
    c->inflight--;
    if (status != 0) {
        char line[256];
        first_line(line, sizeof line, output);
        tui_view_message(v, "git log failed (%d): %s", status, line);
        push_req_free(r);
        redraw(c);
        return;
    }
    if (v->prompt != TUI_PROMPT_NONE) {
        /* The operator is typing something else: do not take the prompt from under them. */
        tui_view_message(v, "the log of %s is ready: l shows it", r->p.branch);
        push_req_free(r);
        redraw(c);
        return;
    }
    push_req_free(c->shown);
    c->shown = r;
    char title[256];
    snprintf(title, sizeof title, "Pushed to %s: %s (%s..%.12s)", r->p.repo, r->p.branch,
             strspn(r->p.old, "0") == strlen(r->p.old) ? "new" : r->p.old, r->p.new_);
    tui_view_overlay(v, title, xstrdup(output && *output ? output : "(no commits)\n"));
    tui_view_confirm(v, TUI_ACT_BRING_IN, "Bring %s into %s as %s?", r->p.branch, r->p.host_repo,
                     r->p.target);
    redraw(c);
}

static void gate_log(struct tui_app_sup *c, struct bottle *b, struct tui_bottle *mb)
{
    struct tui_view *v = c->view;
    size_t idx = v->act_idx;
    if (idx >= mb->sup.npushes)
        return;
    const struct tui_push *ps = &mb->sup.pushes[idx];
    /* The running bottle's manifest, else the file (the gate's copy outlives the run). */
    struct manifest *own = NULL;
    const struct manifest *m = b ? b->m : NULL;
    if (!m && mb->path) {
        struct diag_list d = {0};
        own = manifest_load(mb->path, &d);
        diag_free(&d);
        m = own;
    }
    if (!m) {
        tui_view_message(v, "%s: the manifest does not load", mb->name);
        return;
    }
    struct push_req *r = xcalloc(1, sizeof *r);
    r->c = c;
    r->mb = mb;
    r->idx = idx;
    char *err = NULL;
    int rc = gate_pushed_parse(m, ps->repo, ps->refs, &r->p, &err);
    manifest_free(own);
    if (rc != 0) {
        tui_view_message(v, "%s", err ? err : "cannot read the push");
        free(err);
        free(r);
        return;
    }
    if (gate_pushed_log(c->loop, &r->p, on_log, r) != 0) {
        tui_view_message(v, "cannot run git log");
        push_req_free(r);
        return;
    }
    c->inflight++;
    tui_view_message(v, "reading the log of %s...", r->p.branch);
}

static void on_brought(void *arg, int status, const char *output)
{
    struct push_req *r = arg;
    struct tui_app_sup *c = r->c;
    c->inflight--;
    char note[512];
    if (status == 0) {
        snprintf(note, sizeof note, "brought in as %s", r->p.target);
        tui_view_message(c->view, "%s: %s in %s", r->p.branch, note, r->p.host_repo);
        tui_sup_push_note(&r->mb->sup, r->idx, note, false);
    } else {
        char line[400];
        first_line(line, sizeof line, output);
        snprintf(note, sizeof note, "bring-in failed: %s", line);
        tui_view_message(c->view, "git fetch failed (%d): %s", status, line);
        tui_sup_push_note(&r->mb->sup, r->idx, note, true);
    }
    push_req_free(r);
    redraw(c);
}

static void bring_in(struct tui_app_sup *c)
{
    struct push_req *r = c->shown;
    if (!r) {
        tui_view_message(c->view, "no push to bring in: l shows a push's log first");
        return;
    }
    c->shown = NULL;
    if (gate_bring_in(c->loop, &r->p, on_brought, r) != 0) {
        tui_view_message(c->view, "cannot run git fetch");
        push_req_free(r);
        return;
    }
    c->inflight++;
    tui_view_message(c->view, "bringing %s in as %s...", r->p.branch, r->p.target);
}

bool tui_app_sup_perform(struct tui_app_sup *c, enum tui_action act, struct bottle *b,
                         struct tui_bottle *mb)
{
    switch (act) {
    case TUI_ACT_ANSWER:
    case TUI_ACT_APPROVE:
    case TUI_ACT_APPROVE_SAVE:
    case TUI_ACT_DENY:
        if (mb)
            supervise_act(c, act, b, mb);
        return true;
    case TUI_ACT_ALLOW_HOST:
    case TUI_ACT_ALLOW_HOST_SAVE:
        if (mb)
            allow_host(c, b, mb, act == TUI_ACT_ALLOW_HOST_SAVE);
        return true;
    case TUI_ACT_GATE_LOG:
        if (mb)
            gate_log(c, b, mb);
        return true;
    case TUI_ACT_BRING_IN:
        bring_in(c);
        return true;
    default:
        return false;
    }
}

void tui_app_sup_free(struct tui_app_sup *c)
{
    push_req_free(c->shown);
    c->shown = NULL;
}
