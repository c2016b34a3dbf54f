/* tui_model: the dashboard's model of many bottles, changed only by events (DESIGN section 7). */
#include "tui/tui_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "tui/tui_session.h"

static const char *const state_names[] = {"stopped",  "creating", "provisioning", "running",
                                          "stopping", "failed",   "invalid"};

const char *tui_state_name(enum tui_state s)
{
    return (size_t)s < sizeof state_names / sizeof *state_names ? state_names[s] : "?";
}

bool tui_state_live(enum tui_state s)
{
    return s == TUI_ST_CREATING || s == TUI_ST_PROVISIONING || s == TUI_ST_RUNNING ||
           s == TUI_ST_STOPPING;
}

/* ---- bounded rings ----------------------------------------------------------------- */

void tui_lines_push(struct tui_lines *l, char *s)
{
    if (l->cap == 0) {
        free(s);
        return;
    }
    if (!l->v)
        l->v = xcalloc(l->cap, sizeof *l->v);
    if (l->n == l->cap) {
        free(l->v[l->start]);
        l->v[l->start] = s;
        l->start = (l->start + 1) % l->cap;
        l->dropped++;
        return;
    }
    l->v[(l->start + l->n++) % l->cap] = s;
}

const char *tui_lines_get(const struct tui_lines *l, size_t i)
{
    return i < l->n ? l->v[(l->start + i) % l->cap] : NULL;
}

void tui_lines_clear(struct tui_lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[(l->start + i) % l->cap]);
    free(l->v);
    l->v = NULL;
    l->start = l->n = 0;
    l->dropped = 0;
}

const struct tui_req *tui_reqs_at(const struct tui_reqs *r, uint64_t seq)
{
    uint64_t first = r->next_seq - r->n;
    if (seq < first || seq >= r->next_seq)
        return NULL;
    return &r->v[(r->start + (seq - first)) % r->cap];
}

static struct tui_req *reqs_push(struct tui_reqs *r)
{
    if (!r->v)
        r->v = xcalloc(r->cap, sizeof *r->v);
    struct tui_req *q;
    if (r->n == r->cap) {
        q = &r->v[r->start];
        free(q->host);
        r->start = (r->start + 1) % r->cap;
    } else {
        q = &r->v[(r->start + r->n++) % r->cap];
    }
    memset(q, 0, sizeof *q);
    q->seq = r->next_seq++;
    return q;
}

/* ---- model ------------------------------------------------------------------------- */

void tui_model_init(struct tui_model *m, size_t req_cap)
{
    memset(m, 0, sizeof *m);
    m->req_cap = req_cap ? req_cap : TUI_REQ_HISTORY;
    m->cmd_cap = TUI_CMD_HISTORY;
    m->line_cap = TUI_STEP_LINES;
}

static void step_clear(struct tui_step *s)
{
    free(s->detail);
    s->detail = NULL;
    tui_lines_clear(&s->out);
}

static void bottle_free(struct tui_bottle *b)
{
    free(b->name);
    free(b->backend);
    free(b->path);
    free(b->error);
    for (size_t i = 0; i < b->nsteps; i++)
        step_clear(&b->steps[i]);
    for (size_t i = 0; i < b->nhops; i++) {
        free(b->hops[i].listen);
        free(b->hops[i].agent_addr);
    }
    free(b->fingerprint);
    free(b->fail_step);
    free(b->fail_msg);
    for (size_t i = 0; i < b->reqs.n; i++)
        free(b->reqs.v[(b->reqs.start + i) % b->reqs.cap].host);
    free(b->reqs.v);
    for (size_t i = 0; i < b->ncmds; i++)
        free(b->cmds[(b->cmd_start + i) % b->cmd_cap].argv);
    free(b->cmds);
    tui_sup_free(&b->sup);
    tui_session_free(b->session);
    free(b);
}

void tui_model_free(struct tui_model *m)
{
    for (size_t i = 0; i < m->n; i++)
        bottle_free(m->b[i]);
    free(m->b);
    memset(m, 0, sizeof *m);
}

struct tui_bottle *tui_model_add(struct tui_model *m, const char *name, const char *backend,
                                 const char *path)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 8;
        m->b = xrealloc(m->b, m->cap * sizeof *m->b);
    }
    struct tui_bottle *b = xcalloc(1, sizeof *b);
    b->name = xstrdup(name ? name : "?");
    b->backend = xstrdup(backend ? backend : "?");
    b->path = path ? xstrdup(path) : NULL;
    b->reqs.cap = m->req_cap;
    b->cmd_cap = m->cmd_cap;
    m->b[m->n++] = b;
    return b;
}

void tui_bottle_set_steps(struct tui_bottle *b, const char *const *names, const bool *skip,
                          size_t n)
{
    for (size_t i = 0; i < b->nsteps; i++)
        step_clear(&b->steps[i]);
    if (n > sizeof b->steps / sizeof *b->steps)
        n = sizeof b->steps / sizeof *b->steps;
    memset(b->steps, 0, sizeof b->steps);
    for (size_t i = 0; i < n; i++) {
        snprintf(b->steps[i].name, sizeof b->steps[i].name, "%s", names[i]);
        b->steps[i].status = skip && skip[i] ? TUI_STEP_SKIPPED : TUI_STEP_PENDING;
        b->steps[i].ms = -1;
        b->steps[i].out.cap = TUI_STEP_LINES;
    }
    b->nsteps = n;
}

void tui_bottle_set_hop(struct tui_bottle *b, size_t i, const char *name, const char *agent_addr)
{
    if (i >= sizeof b->hops / sizeof *b->hops)
        return;
    struct tui_hop *h = &b->hops[i];
    snprintf(h->name, sizeof h->name, "%s", name);
    free(h->agent_addr);
    h->agent_addr = agent_addr ? xstrdup(agent_addr) : NULL;
    if (i >= b->nhops)
        b->nhops = i + 1;
}

uint64_t tui_bottle_uptime(const struct tui_bottle *b, uint64_t now_ms)
{
    if (!b->up_since_ms)
        return 0;
    uint64_t end = b->state == TUI_ST_RUNNING ? now_ms : b->up_until_ms;
    return end > b->up_since_ms ? end - b->up_since_ms : 0;
}

const struct tui_cmd *tui_bottle_cmd(const struct tui_bottle *b, size_t i)
{
    return i < b->ncmds ? &b->cmds[(b->cmd_start + i) % b->cmd_cap] : NULL;
}

static const char *jstr(const cJSON *ev, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(ev, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double jnum(const cJSON *ev, const char *k, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(ev, k);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

static void set_str(char **dst, const char *src)
{
    free(*dst);
    *dst = src ? xstrdup(src) : NULL;
}

/* "2026-11-29T06:13:33.204Z" -> "06:13:33.204" (times are shown as they were logged). */
static void copy_time(char out[13], const char *ts)
{
    size_t n = ts ? strlen(ts) : 0;
    snprintf(out, 13, "%s", n >= 23 ? ts + 11 : (ts ? ts : ""));
}

static struct tui_step *find_step(struct tui_bottle *b, const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < b->nsteps; i++)
        if (strcmp(b->steps[i].name, name) == 0)
            return &b->steps[i];
    if (b->nsteps == sizeof b->steps / sizeof *b->steps)
        return NULL;
    struct tui_step *s = &b->steps[b->nsteps++];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    s->ms = -1;
    s->out.cap = TUI_STEP_LINES;
    return s;
}

static struct tui_hop *find_hop(struct tui_bottle *b, const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < b->nhops; i++)
        if (strcmp(b->hops[i].name, name) == 0)
            return &b->hops[i];
    if (b->nhops == sizeof b->hops / sizeof *b->hops)
        return NULL;
    struct tui_hop *h = &b->hops[b->nhops++];
    memset(h, 0, sizeof *h);
    snprintf(h->name, sizeof h->name, "%s", name);
    return h;
}

/* A new run starts from the plan again: statuses, outputs and hops reset;
 * the request history and command log are kept across restarts. */
static void reset_run(struct tui_bottle *b)
{
    for (size_t i = 0; i < b->nsteps; i++) {
        struct tui_step *s = &b->steps[i];
        if (s->status != TUI_STEP_SKIPPED || s->ms >= 0)
            s->status = TUI_STEP_PENDING;
        s->ms = -1;
        free(s->detail);
        s->detail = NULL;
        tui_lines_clear(&s->out);
        s->expanded = false;
    }
    for (size_t i = 0; i < b->nhops; i++) {
        free(b->hops[i].listen);
        b->hops[i].listen = NULL;
        b->hops[i].pid = 0;
        b->hops[i].status = TUI_HOP_UNKNOWN;
        b->hops[i].restarts = 0;
    }
    set_str(&b->fingerprint, NULL);
    set_str(&b->fail_step, NULL);
    set_str(&b->fail_msg, NULL);
    b->up_since_ms = b->up_until_ms = 0;
    if (b->session)
        tui_session_new_run(b->session);
}

static void apply_state(struct tui_bottle *b, const char *st, uint64_t now_ms)
{
    if (!st)
        return;
    enum tui_state old = b->state;
    for (size_t i = 0; i < TUI_ST_INVALID; i++)
        if (strcmp(st, state_names[i]) == 0)
            b->state = (enum tui_state)i;
    if (b->state == TUI_ST_CREATING && old != TUI_ST_CREATING)
        reset_run(b);
    if (b->state == TUI_ST_RUNNING && old != TUI_ST_RUNNING) {
        b->up_since_ms = now_ms ? now_ms : 1;
        b->up_until_ms = 0;
    }
    if (old == TUI_ST_RUNNING && b->state != TUI_ST_RUNNING)
        b->up_until_ms = now_ms;
    /* A call left pending by an ended run can no longer be answered. */
    if (b->state != old && (!tui_state_live(b->state) || b->state == TUI_ST_CREATING))
        tui_sup_end_run(&b->sup, now_ms);
}

static void apply_step(struct tui_bottle *b, const cJSON *ev)
{
    struct tui_step *s = find_step(b, jstr(ev, "step"));
    if (!s)
        return;
    const char *st = jstr(ev, "status"), *detail = jstr(ev, "detail"),
               *fp = jstr(ev, "fingerprint");
    if (!st)
        return;
    if (strcmp(st, "start") == 0) {
        s->status = TUI_STEP_RUNNING;
    } else if (strcmp(st, "ok") == 0) {
        s->status = TUI_STEP_OK;
    } else if (strcmp(st, "skip") == 0) {
        s->status = TUI_STEP_SKIPPED;
    } else if (strcmp(st, "fail") == 0) {
        s->status = TUI_STEP_FAILED;
        /* The output that explains a failure is shown without being asked for. */
        s->expanded = true;
        set_str(&b->fail_step, s->name);
        set_str(&b->fail_msg, detail);
    }
    s->ms = (long)jnum(ev, "ms", (double)s->ms);
    if (detail)
        set_str(&s->detail, detail);
    if (fp)
        set_str(&b->fingerprint, fp);
}

static char *join_argv(const cJSON *argv)
{
    struct buf out;
    buf_init(&out, 4096);
    const cJSON *a;
    cJSON_ArrayForEach(a, argv)
    {
        if (!cJSON_IsString(a))
            continue;
        if (out.len)
            buf_append(&out, " ", 1);
        buf_append(&out, a->valuestring, strlen(a->valuestring));
    }
    char *s = xstrndup(out.p ? out.p : "", out.len);
    buf_free(&out);
    return s;
}

static void apply_cmd(struct tui_model *m, struct tui_bottle *b, const cJSON *ev)
{
    char *argv = join_argv(cJSON_GetObjectItemCaseSensitive(ev, "argv"));
    struct tui_step *s = find_step(b, jstr(ev, "step"));
    if (s)
        tui_lines_push(&s->out, xasprintf("$ %s", argv));
    if (b->cmd_cap == 0) {
        free(argv);
        return;
    }
    if (!b->cmds)
        b->cmds = xcalloc(b->cmd_cap, sizeof *b->cmds);
    struct tui_cmd *c;
    if (b->ncmds == b->cmd_cap) {
        c = &b->cmds[b->cmd_start];
        free(c->argv);
        b->cmd_start = (b->cmd_start + 1) % b->cmd_cap;
    } else {
        c = &b->cmds[(b->cmd_start + b->ncmds++) % b->cmd_cap];
    }
    copy_time(c->time, jstr(ev, "ts"));
    snprintf(c->step, sizeof c->step, "%s", jstr(ev, "step") ? jstr(ev, "step") : "");
    c->argv = argv;
    (void)m;
}

static void apply_output(struct tui_bottle *b, const cJSON *ev)
{
    struct tui_step *s = find_step(b, jstr(ev, "step"));
    const char *line = jstr(ev, "line"), *stream = jstr(ev, "stream");
    if (!s || !line)
        return;
    /* An unfinished line (a prompt): the session shows it until the line is whole. */
    if (cJSON_IsTrue(cJSON_GetObjectItem(ev, "partial"))) {
        if (strcmp(s->name, "agent") == 0) {
            if (!b->session)
                b->session = tui_session_new(0);
            tui_session_push_partial(b->session, line, strlen(line));
        }
        return;
    }
    bool err = stream && strcmp(stream, "stderr") == 0;
    tui_lines_push(&s->out, xasprintf("%c %s", err ? '!' : '|', line));
    /* The agent's own output is also its session (the session pane). */
    if (strcmp(s->name, "agent") == 0) {
        if (!b->session)
            b->session = tui_session_new(0);
        tui_session_push(b->session, line, strlen(line));
    }
}

static void apply_hop(struct tui_bottle *b, const cJSON *ev)
{
    struct tui_hop *h = find_hop(b, jstr(ev, "hop"));
    const char *st = jstr(ev, "status"), *listen = jstr(ev, "listen");
    if (!h || !st)
        return;
    if (listen && *listen)
        set_str(&h->listen, listen);
    double pid = jnum(ev, "pid", -1);
    if (pid > 0)
        h->pid = (long)pid;
    if (strcmp(st, "down") == 0) {
        h->status = TUI_HOP_DOWN;
    } else {
        if (strcmp(st, "restarted") == 0)
            h->restarts++;
        h->status = TUI_HOP_UP;
    }
}

static void apply_request(struct tui_bottle *b, const cJSON *ev)
{
    const char *hop = jstr(ev, "hop"), *host = jstr(ev, "host"), *path = jstr(ev, "path"),
               *reason = jstr(ev, "reason"), *auth = jstr(ev, "auth"),
               *verdict = jstr(ev, "verdict"), *method = jstr(ev, "method");
    struct tui_req *q = reqs_push(&b->reqs);
    copy_time(q->time, jstr(ev, "ts"));
    snprintf(q->hop, sizeof q->hop, "%s", hop ? hop : "");
    snprintf(q->method, sizeof q->method, "%s", method ? method : "");
    q->status = (int)jnum(ev, "status", 0);
    q->ms = (long)jnum(ev, "ms", -1);
    q->bytes_up = (long long)jnum(ev, "bytes_up", -1);
    q->bytes_down = (long long)jnum(ev, "bytes_down", -1);
    q->blocked = verdict && strcmp(verdict, "block") == 0;
    q->rewritten = auth && str_has_prefix(auth, "rewritten");
    /* One allocation per request keeps the history's memory predictable. */
    size_t lh = host ? strlen(host) : 0, lp = path ? strlen(path) : 0,
           lr = reason ? strlen(reason) : 0, la = auth ? strlen(auth) : 0;
    char *blk = xmalloc(lh + lp + lr + la + 4);
    char *p = blk;
    memcpy(p, host ? host : "", lh + 1);
    q->host = p;
    p += lh + 1;
    memcpy(p, path ? path : "", lp + 1);
    q->path = p;
    p += lp + 1;
    memcpy(p, reason ? reason : "", lr + 1);
    q->reason = p;
    p += lr + 1;
    memcpy(p, auth ? auth : "", la + 1);
    q->auth = p;

    struct tui_hop *h = find_hop(b, hop);
    if (h) {
        h->requests++;
        if (q->blocked)
            h->blocks++;
    }
    /* Every request passes the first hop; counting there counts each once. */
    if (b->nhops == 0 || (hop && strcmp(hop, b->hops[0].name) == 0)) {
        b->requests++;
        if (q->blocked)
            b->blocks++;
    }
}

bool tui_model_apply(struct tui_model *m, struct tui_bottle *b, const cJSON *ev, uint64_t now_ms)
{
    const char *type = jstr(ev, "type");
    if (!type)
        return false;
    b->events++;
    if (strcmp(type, "state") == 0)
        apply_state(b, jstr(ev, "state"), now_ms);
    else if (strcmp(type, "step") == 0)
        apply_step(b, ev);
    else if (strcmp(type, "cmd") == 0)
        apply_cmd(m, b, ev);
    else if (strcmp(type, "output") == 0)
        apply_output(b, ev);
    else if (strcmp(type, "hop") == 0)
        apply_hop(b, ev);
    else if (strcmp(type, "request") == 0)
        apply_request(b, ev);
    else if (strcmp(type, "supervise") == 0 || strcmp(type, "gate") == 0)
        return tui_sup_apply(&b->sup, type, ev, now_ms);
    else
        return false;
    return true;
}
