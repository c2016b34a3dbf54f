/* bottle: one running bottle: its state machine, provisioning steps, proxy hops, agent and
 * teardown. */
#include "core/bottle.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend/backend.h"
#include "gate/gate.h"
#include "gate/supervise.h"

#define HOP_RESTART_MAX_MS 5000
#define KILL_GRACE_MS 3000
#define RUN_OUTPUT_MAX (1u << 20)

static void teardown_begin(struct bottle *b);
static void run_step(struct bottle *b);
static void hop_spawn(struct bottle_hop *h);

const char *bottle_state_name(enum bottle_state s)
{
    static const char *const names[] = {"stopped", "creating", "provisioning",
                                        "running", "stopping", "failed"};
    return names[s];
}

void bottle_emit(struct bottle *b, cJSON *ev)
{
    if (b->log.fd >= 0)
        event_log_append(&b->log, ev);
    if (b->on_event)
        b->on_event(b, ev);
    cJSON_Delete(ev);
}

static void set_state(struct bottle *b, enum bottle_state s)
{
    if (b->state == s)
        return;
    b->state = s;
    bottle_emit(b, event_state(b->name, bottle_state_name(s)));
}

const char *bottle_step_name(const struct bottle *b)
{
    if (b->tearing_down)
        return "teardown";
    return b->step < b->plan->nsteps ? b->plan->steps[b->step].name : "teardown";
}

void bottle_add_relay(struct bottle *b, struct relay *r)
{
    if (b->nrelays < ARRAY_SIZE(b->relays))
        b->relays[b->nrelays++] = r;
    else
        relay_close(r);
}

struct bottle_hop *bottle_first_hop(struct bottle *b)
{
    return &b->hops[0];
}

/* ---- commands ---------------------------------------------------------------- */

struct run_ctx {
    struct bottle *b;
    char *step;
    bottle_run_cb cb;
    void *arg;
    struct buf out;
};

static void on_run_line(struct proc *p, int stream, const char *line, size_t len)
{
    struct run_ctx *c = p->data;
    if (stream == 1) {
        buf_append(&c->out, line, len); /* past the cap: dropped, still shown below */
        buf_append(&c->out, "\n", 1);
    }
    bottle_emit(c->b, event_output(c->b->name, c->step, stream == 1 ? "stdout" : "stderr", line));
}

static void on_run_done(struct proc *p, int64_t status, int sig)
{
    struct run_ctx *c = p->data;
    struct bottle *b = c->b;
    for (size_t i = 0; i < b->nstep_procs; i++) {
        if (b->step_procs[i] == p) {
            b->step_procs[i] = b->step_procs[--b->nstep_procs];
            break;
        }
    }
    int st = sig ? 128 + sig : (int)status;
    if (c->cb)
        c->cb(c->b, st, c->out.p ? c->out.p : "", c->arg);
    buf_free(&c->out);
    free(c->step);
    free(c);
}

int bottle_run(struct bottle *b, const char *const *argv, const char *stdin_data, bottle_run_cb cb,
               void *arg)
{
    /* A stop was asked for: the step in flight ends at its next command
     * (the teardown's own commands run). */
    if (b->stop_requested && !b->tearing_down)
        return -ECANCELED;
    struct run_ctx *c = xcalloc(1, sizeof *c);
    c->b = b;
    c->step = xstrdup(bottle_step_name(b));
    c->cb = cb;
    c->arg = arg;
    buf_init(&c->out, RUN_OUTPUT_MAX);
    bottle_emit(b, event_cmd(b->name, c->step, argv));
    struct proc_opts o = {.argv = argv,
                          .stdin_data = stdin_data,
                          .stdin_len = stdin_data ? strlen(stdin_data) : 0,
                          .on_line = on_run_line,
                          .on_done = on_run_done,
                          .data = c};
    struct proc *p;
    int rc = proc_spawn(b->loop, &o, &p);
    if (rc != 0) {
        bottle_emit(b, event_output(b->name, c->step, "stderr", uv_strerror(rc)));
        free(c->step);
        free(c);
    } else if (b->nstep_procs < ARRAY_SIZE(b->step_procs)) {
        b->step_procs[b->nstep_procs++] = p;
    }
    return rc;
}

/* ---- steps ------------------------------------------------------------------- */

static void step_start(struct bottle *b)
{
    const struct plan_step *s = &b->plan->steps[b->step];
    b->step_t0 = time_mono_ms();
    b->step_running = true;
    bottle_emit(b, event_step(b->name, s->name, "start", -1, s->detail));
}

void bottle_step_done(struct bottle *b, int rc, const char *detail)
{
    if (!b->step_running)
        return;
    b->step_running = false;
    const char *name = bottle_step_name(b);
    long ms = (long)(time_mono_ms() - b->step_t0);
    const char *status = rc < 0 ? "fail" : rc > 0 ? "skip" : "ok";
    char *why = rc < 0 && b->stop_requested
                    ? xasprintf("stopped before it finished (%s)", detail ? detail : "")
                    : NULL;
    cJSON *ev = event_step(b->name, name, status, ms, why ? why : detail);
    free(why);
    if (rc == 0 && strcmp(name, "ca") == 0 && b->fingerprint)
        cJSON_AddStringToObject(ev, "fingerprint", b->fingerprint);
    bottle_emit(b, ev);
    if (rc < 0 && b->stop_requested) {
        /* Cut short by a stop: the bottle is stopped, not failed. */
        teardown_begin(b);
        return;
    }
    if (rc < 0) {
        free(b->fail_step);
        free(b->fail_msg);
        b->fail_step = xstrdup(name);
        b->fail_msg = xstrdup(detail ? detail : "failed");
        teardown_begin(b);
        return;
    }
    if (b->stop_requested) {
        teardown_begin(b);
        return;
    }
    if (strcmp(name, "agent") == 0) {
        set_state(b, BOTTLE_RUNNING);
        return;
    }
    b->step++;
    run_step(b);
}

static void hops_start(struct bottle *b);

static void on_supervise_event(void *data, cJSON *ev)
{
    bottle_emit(data, ev);
}

/* ---- live allowlist ------------------------------------------------------------ */

#define ALLOW_WAIT_MS 5000

struct allow_wait {
    bottle_allow_cb cb;
    void *arg;
    uint64_t deadline;
    struct allow_wait *next;
};

static struct bottle_hop *pipelock_hop(struct bottle *b)
{
    for (size_t i = 0; i < b->nhops; i++)
        if (strcmp(b->hops[i].name, "pipelock") == 0)
            return &b->hops[i];
    return NULL;
}

/* Pipelock took its config again (RC 0) or refused it: every waiter hears. */
static void allow_finish_all(struct bottle *b, int rc, const char *msg)
{
    struct allow_wait *w = b->allow_waits;
    b->allow_waits = NULL;
    if (b->launched)
        uv_timer_stop(&b->allow_timer);
    while (w) {
        struct allow_wait *next = w->next;
        if (w->cb)
            w->cb(b, rc, msg, w->arg);
        free(w);
        w = next;
    }
}

static void on_allow_timer(uv_timer_t *t)
{
    struct bottle *b = t->data;
    uint64_t now = time_mono_ms();
    for (struct allow_wait **pp = &b->allow_waits; *pp;) {
        struct allow_wait *w = *pp;
        if (w->deadline > now) {
            pp = &w->next;
            continue;
        }
        *pp = w->next;
        if (w->cb)
            w->cb(b, -1, "pipelock did not confirm the reload in time", w->arg);
        free(w);
    }
    if (!b->allow_waits)
        uv_timer_stop(t);
}

int bottle_allow_host(struct bottle *b, const char *host, bool save, bottle_allow_cb cb, void *arg,
                      char **err)
{
    *err = NULL;
    struct bottle_hop *h = pipelock_hop(b);
    if (!b->launched || b->tearing_down || !h || !b->allow_file) {
        *err = xstrdup("the bottle is not running");
        return -1;
    }
    if (!manifest_host_pattern_ok(host)) {
        *err = xasprintf("'%s' is not a host pattern (name, *.name)", host);
        return -1;
    }
    if (save && manifest_add_allow(b->config_path, host, err) != 0)
        return -1;
    int fd = open(b->allow_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    char *line = xasprintf("%s\n", host);
    bool ok = fd >= 0 && write(fd, line, strlen(line)) == (ssize_t)strlen(line);
    int e = errno;
    free(line);
    if (fd >= 0)
        close(fd);
    if (!ok) {
        *err = xasprintf("cannot write %s: %s", b->allow_file, strerror(e));
        return -1;
    }
    struct allow_wait *w = xcalloc(1, sizeof *w);
    w->cb = cb;
    w->arg = arg;
    w->deadline = time_mono_ms() + ALLOW_WAIT_MS;
    w->next = b->allow_waits;
    b->allow_waits = w;
    if (!uv_is_active((uv_handle_t *)&b->allow_timer))
        uv_timer_start(&b->allow_timer, on_allow_timer, 250, 250);
    /* A hop that is down reads the file when it comes back (its `up` ends the wait). */
    if (h->up && h->pid > 0)
        kill((pid_t)h->pid, SIGHUP);
    return 0;
}

static void on_allow_applied(struct bottle *b, int rc, const char *msg, void *arg)
{
    char *id = arg;
    supervise_allow_done(b->supervise, id, rc == 0, msg);
    free(id);
}

static int on_supervise_allow(void *data, const char *host, bool save, const char *call_id,
                              char **err)
{
    struct bottle *b = data;
    char *id = xstrdup(call_id);
    int rc = bottle_allow_host(b, host, save, on_allow_applied, id, err);
    if (rc != 0)
        free(id);
    return rc;
}

/* The supervise server first (synchronous), then the git gate when the
 * manifest names repositories (asynchronous: it ends the step). */
static void step_gate(struct bottle *b)
{
    char *sup = NULL;
    if (b->m->supervise.enabled && b->be->supervise_listen) {
        int port = 0;
        char *host = b->be->supervise_listen(b, &port);
        const char *t = getenv("BOTTLE_SUPERVISE_TIMEOUT_MS");
        uint64_t timeout = t && atol(t) > 0 ? (uint64_t)atol(t) : 600000;
        struct supervise_hooks hooks = {
            .data = b, .emit = on_supervise_event, .allow_host = on_supervise_allow};
        int rc = supervise_start(b->loop, b->name, host, port, timeout, &hooks, &b->supervise);
        if (rc != 0) {
            char *d = xasprintf("cannot start the supervise server on %s:%d: %s", host, port,
                                uv_strerror(rc));
            bottle_step_done(b, -1, d);
            free(d);
            free(host);
            return;
        }
        sup = xasprintf("supervise on %s:%d", host, supervise_port(b->supervise));
        free(host);
    }
    if (!b->be->gate_listen || b->m->git.nrepos == 0) {
        char *d = xasprintf("%s%sno git gate (%s)", sup ? sup : "", sup ? "; " : "",
                            b->be->gate_listen ? "no git.repos" : "not on this backend yet");
        bottle_step_done(b, sup ? 0 : 1, d);
        free(d);
        free(sup);
        return;
    }
    free(sup);
    int port = 0;
    char *host = b->be->gate_listen(b, &port);
    gate_start(b, host, port);
    free(host);
}

static void run_step(struct bottle *b)
{
    if (b->step >= b->plan->nsteps)
        return;
    const struct plan_step *s = &b->plan->steps[b->step];
    step_start(b);
    if (s->skip) {
        bottle_step_done(b, 1, s->detail);
        return;
    }
    const char *n = s->name;
    if (strcmp(n, "network") == 0)
        b->be->network(b);
    else if (strcmp(n, "proxies") == 0)
        hops_start(b);
    else if (strcmp(n, "gate") == 0)
        step_gate(b);
    else if (strcmp(n, "git") == 0 && (!b->be->git || !b->gate))
        bottle_step_done(b, 1, b->gate ? "not available on this backend" : "no git gate");
    else if (strcmp(n, "git") == 0)
        b->be->git(b);
    else if (strcmp(n, "start") == 0)
        b->be->start(b);
    else if (strcmp(n, "ca") == 0)
        b->be->ca(b);
    else if (strcmp(n, "prompt") == 0)
        b->be->prompt(b);
    else if (strcmp(n, "skills") == 0)
        b->be->skills(b);
    else if (strcmp(n, "agent") == 0)
        b->be->agent(b);
    else if (strcmp(n, "supervise") == 0 && b->supervise && b->be->supervise)
        b->be->supervise(b);
    else
        bottle_step_done(b, 1, "not available on this backend");
}

/* ---- hops -------------------------------------------------------------------- */

static void hop_report(struct bottle_hop *h, const char *status)
{
    bottle_emit(h->b, event_hop(h->b->name, h->name, h->listen ? h->listen : h->listen_want, h->pid,
                                status));
}

static void on_hop_line(struct proc *p, int stream, const char *line, size_t len)
{
    struct bottle_hop *h = p->data;
    struct bottle *b = h->b;
    if (stream == 2) {
        snprintf(h->last_err, sizeof h->last_err, "%s", line);
        bottle_emit(b, event_output(b->name, "proxies", "stderr", line));
        if (b->allow_waits && strcmp(h->name, "pipelock") == 0) {
            if (strstr(line, ": config reloaded from "))
                allow_finish_all(b, 0, NULL);
            else if (strstr(line, ": reload failed"))
                allow_finish_all(b, -1,
                                 "pipelock refused the new config (its reasons are in "
                                 "the proxies output)");
        }
        return;
    }
    const char *err;
    cJSON *ev = event_parse_line(line, len, &err);
    if (!ev) {
        bottle_emit(b, event_output(b->name, "proxies", "stdout", line));
        return;
    }
    cJSON_ReplaceItemInObject(ev, "bottle", cJSON_CreateString(b->name));
    const cJSON *type = cJSON_GetObjectItem(ev, "type");
    const cJSON *status = cJSON_GetObjectItem(ev, "status");
    if (strcmp(type->valuestring, "hop") == 0 && cJSON_IsString(status) &&
        strcmp(status->valuestring, "up") == 0) {
        const cJSON *listen = cJSON_GetObjectItem(ev, "listen");
        if (cJSON_IsString(listen)) {
            free(h->listen);
            h->listen = xstrdup(listen->valuestring);
            /* Restarts reuse the address, so the parent link and relays stay valid. */
            free(h->listen_want);
            h->listen_want = xstrdup(listen->valuestring);
        }
        h->pid = proc_pid(p);
        if (!cJSON_IsNumber(cJSON_GetObjectItem(ev, "pid")))
            cJSON_AddNumberToObject(ev, "pid", (double)h->pid);
        bool restarted = h->ever_up;
        h->up = h->ever_up = true;
        if (restarted) {
            cJSON_Delete(ev);
            hop_report(h, "restarted");
            if (b->allow_waits && strcmp(h->name, "pipelock") == 0)
                allow_finish_all(b, 0, NULL);
            return;
        }
        bottle_emit(b, ev);
        if (h->waiting_step) {
            h->waiting_step = false;
            /* Start the next hop down the chain (towards the agent), or finish. */
            size_t idx = (size_t)(h - b->hops);
            if (idx > 0) {
                hop_spawn(&b->hops[idx - 1]);
            } else {
                char *d = xasprintf("first hop %s listening on %s", h->name, h->listen);
                bottle_step_done(b, 0, d);
                free(d);
            }
        }
        return;
    }
    if (strcmp(type->valuestring, "hop") == 0) {
        /* The supervisor reports down and restarted itself, once. */
        cJSON_Delete(ev);
        return;
    }
    bottle_emit(b, ev);
}

static void on_hop_restart_timer(uv_timer_t *t)
{
    struct bottle_hop *h = t->data;
    if (!h->b->tearing_down)
        hop_spawn(h);
}

static void on_hop_done(struct proc *p, int64_t status, int sig)
{
    struct bottle_hop *h = p->data;
    struct bottle *b = h->b;
    h->proc = NULL;
    h->up = false;
    hop_report(h, "down");
    if (b->tearing_down) {
        if (--b->teardown_pending == 0)
            teardown_begin(b); /* continue the teardown */
        return;
    }
    if (h->waiting_step) {
        h->waiting_step = false;
        char *d =
            xasprintf("%s exited (%s %d) before listening%s%s", h->name, sig ? "signal" : "status",
                      sig ? sig : (int)status, h->last_err[0] ? ": " : "", h->last_err);
        bottle_step_done(b, -1, d);
        free(d);
        return;
    }
    /* A hop died under a live bottle: report it and bring it back. */
    uint64_t delay = 250u << (h->restarts < 5 ? h->restarts : 5);
    if (delay > HOP_RESTART_MAX_MS)
        delay = HOP_RESTART_MAX_MS;
    h->restarts++;
    uv_timer_start(&h->restart_timer, on_hop_restart_timer, delay, 0);
}

static void hop_spawn(struct bottle_hop *h)
{
    struct bottle *b = h->b;
    const char *argv[16];
    int n = 0;
    argv[n++] = b->proxy_bin;
    argv[n++] = h->name;
    argv[n++] = "--listen";
    argv[n++] = h->listen_want;
    argv[n++] = "--ca-dir";
    argv[n++] = h->ca_dir;
    argv[n++] = "--config";
    argv[n++] = b->config_path;
    argv[n++] = "--bottle";
    argv[n++] = b->name;
    if (h->parent) {
        struct bottle_hop *parent = &b->hops[1];
        argv[n++] = "--parent";
        argv[n++] = parent->listen;
    }
    if (strcmp(h->name, "pipelock") == 0) {
        argv[n++] = "--allow-file";
        argv[n++] = b->allow_file;
    }
    argv[n] = NULL;
    if (!h->ever_up)
        bottle_emit(b, event_cmd(b->name, "proxies", argv));
    h->last_err[0] = '\0';
    struct proc_opts o = {.argv = argv, .on_line = on_hop_line, .on_done = on_hop_done, .data = h};
    int rc = proc_spawn(b->loop, &o, &h->proc);
    if (rc != 0) {
        h->proc = NULL;
        char *d = xasprintf("cannot start %s (%s): %s", h->name, b->proxy_bin, uv_strerror(rc));
        if (h->waiting_step) {
            h->waiting_step = false;
            bottle_step_done(b, -1, d);
        } else {
            bottle_emit(b, event_output(b->name, "proxies", "stderr", d));
        }
        free(d);
    }
}

/* Start the hops from the far end of the chain (pipelock) to the agent's
 * first hop, each once the one behind it listens. */
static void hops_start(struct bottle *b)
{
    struct bottle_hop *first = &b->hops[0];
    free(first->listen_want);
    first->listen_want = b->be->first_hop_listen(
        b, strcmp(first->name, "egress") == 0 ? PLAN_EGRESS_PORT : PLAN_PIPELOCK_PORT);
    for (size_t i = 0; i < b->nhops; i++)
        b->hops[i].waiting_step = true;
    hop_spawn(&b->hops[b->nhops - 1]);
}

/* ---- agent ------------------------------------------------------------------- */

#define AGENT_KILL_GRACE_MS 3000

/* An agent that floods its terminal must not flood the event stream: past
 * AGENT_LINES_BURST lines at AGENT_LINES_PER_S, lines are counted, not sent,
 * and a note says how many (the transcript keeps them all). */
#define AGENT_LINES_PER_S 2000
#define AGENT_LINES_BURST 4000

static void agent_lines_note(struct bottle *b)
{
    if (!b->agent_lines_dropped)
        return;
    char *note =
        xasprintf("[bottle: %llu lines of agent output not shown; the transcript has them]",
                  (unsigned long long)b->agent_lines_dropped);
    bottle_emit(b, event_output(b->name, "agent", "stdout", note));
    free(note);
    b->agent_lines_dropped = 0;
}

static void on_agent_line(struct proc *p, int stream, const char *line, size_t len)
{
    struct bottle *b = p->data;
    (void)len;
    uint64_t now = time_mono_ms();
    if (now - b->agent_lines_t >= 1000) {
        agent_lines_note(b);
        uint64_t refill = (now - b->agent_lines_t) * AGENT_LINES_PER_S / 1000;
        b->agent_lines_budget = b->agent_lines_budget + refill > AGENT_LINES_BURST
                                    ? AGENT_LINES_BURST
                                    : b->agent_lines_budget + refill;
        b->agent_lines_t = now;
    }
    if (b->agent_lines_budget == 0) {
        b->agent_lines_dropped++;
        return;
    }
    b->agent_lines_budget--;
    bottle_emit(b, event_output(b->name, "agent", stream == 1 ? "stdout" : "stderr", line));
}

/* A line the agent has not finished and that sits (a prompt waiting for an
 * answer): an `output` event marked partial; the whole line follows later. */
static void on_agent_partial(struct proc *p, const char *line, size_t len)
{
    struct bottle *b = p->data;
    (void)len;
    cJSON *ev = event_output(b->name, "agent", "stdout", line);
    cJSON_AddBoolToObject(ev, "partial", 1);
    bottle_emit(b, ev);
}

/* The agent's terminal output as it came: the transcript, and whoever is attached. */
static void on_agent_raw(struct proc *p, const char *data, size_t len)
{
    struct bottle *b = p->data;
    if (b->transcript_fd >= 0 && write(b->transcript_fd, data, len) != (ssize_t)len) {
        close(b->transcript_fd);
        b->transcript_fd = -1;
    }
    if (b->on_agent_raw)
        b->on_agent_raw(b, data, len);
}

int bottle_agent_input(struct bottle *b, const char *data, size_t len)
{
    return b->agent ? proc_write(b->agent, data, len) : -EPIPE;
}

int bottle_agent_resize(struct bottle *b, unsigned short rows, unsigned short cols)
{
    b->agent_rows = rows;
    b->agent_cols = cols;
    return b->agent ? proc_resize(b->agent, rows, cols) : -EPIPE;
}

/* The agent is gone and its timer closed: the teardown goes on, or the
 * agent's own exit starts it. */
static void on_agent_timer_closed(uv_handle_t *h)
{
    struct bottle *b = h->data;
    b->agent_timer_open = false;
    if (b->agent_stop_cb) {
        void (*cb)(struct bottle *) = b->agent_stop_cb;
        b->agent_stop_cb = NULL;
        cb(b);
        return;
    }
    teardown_begin(b);
}

static void on_agent_done(struct proc *p, int64_t status, int sig)
{
    struct bottle *b = p->data;
    b->agent = NULL;
    b->agent_exited = true;
    b->agent_status = sig ? 128 + sig : (int)status;
    agent_lines_note(b);
    if (b->transcript_fd >= 0) {
        close(b->transcript_fd);
        b->transcript_fd = -1;
    }
    uv_timer_stop(&b->agent_timer);
    uv_close((uv_handle_t *)&b->agent_timer, on_agent_timer_closed);
}

int bottle_agent_spawn(struct bottle *b, const char *const *argv)
{
    /* The previous run's transcript stays readable as transcript.1. */
    char *tpath = xasprintf("%s/transcript", b->state_dir);
    char *prev = xasprintf("%s.1", tpath);
    rename(tpath, prev);
    b->transcript_fd = open(tpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    free(prev);
    free(tpath);
    bottle_emit(b, event_cmd(b->name, "agent", argv));
    b->agent_lines_budget = AGENT_LINES_BURST;
    b->agent_lines_t = time_mono_ms();
    b->agent_lines_dropped = 0;
    /* The agent gets a terminal of its own, as in an operator's shell. */
    struct proc_opts o = {.argv = argv,
                          .on_line = on_agent_line,
                          .on_done = on_agent_done,
                          .on_raw = on_agent_raw,
                          .on_partial = on_agent_partial,
                          .data = b,
                          .pty = true,
                          .rows = b->agent_rows ? b->agent_rows : 40,
                          .cols = b->agent_cols ? b->agent_cols : 120};
    int rc = proc_spawn(b->loop, &o, &b->agent);
    if (rc != 0) {
        b->agent = NULL;
        if (b->transcript_fd >= 0)
            close(b->transcript_fd);
        b->transcript_fd = -1;
        char *d = xasprintf("cannot start the agent (%s): %s", argv[0], uv_strerror(rc));
        bottle_step_done(b, -1, d);
        free(d);
        return rc;
    }
    uv_timer_init(b->loop, &b->agent_timer);
    b->agent_timer.data = b;
    b->agent_timer_open = true;
    char *d = xasprintf("pid %ld", (long)proc_pid(b->agent));
    bottle_step_done(b, 0, d);
    free(d);
    return 0;
}

void bottle_agent_started(struct bottle *b, struct proc *p)
{
    b->agent = p;
    char *d = xasprintf("pid %ld", (long)proc_pid(p));
    bottle_step_done(b, 0, d);
    free(d);
}

void bottle_agent_exited(struct bottle *b, int status)
{
    b->agent = NULL;
    b->agent_exited = true;
    b->agent_status = status;
    if (b->step_running) {
        char *d = xasprintf("the agent exited at once with status %d", status);
        bottle_step_done(b, -1, d);
        free(d);
        return;
    }
    teardown_begin(b);
}

static void on_agent_kill(uv_timer_t *t)
{
    struct bottle *b = t->data;
    if (b->agent)
        proc_kill(b->agent, SIGKILL);
}

void bottle_agent_stop(struct bottle *b, void (*cb)(struct bottle *b))
{
    if (!b->agent_timer_open) {
        cb(b);
        return;
    }
    b->agent_stop_cb = cb;
    if (b->agent) {
        proc_kill(b->agent, SIGTERM);
        uv_timer_start(&b->agent_timer, on_agent_kill, AGENT_KILL_GRACE_MS, 0);
    }
    /* else its exit is being handled: on_agent_timer_closed calls CB */
}

/* ---- teardown ---------------------------------------------------------------- */

static void on_kill_timer(uv_timer_t *t)
{
    struct bottle *b = t->data;
    for (size_t i = 0; i < b->nhops; i++)
        if (b->hops[i].proc)
            proc_kill(b->hops[i].proc, SIGKILL);
}

static void rm_rf(const char *path)
{
    /* The run dir holds only our sockets and generated files. */
    const char *argv[] = {"rm", "-rf", "--one-file-system", path, NULL};
    pid_t pid = fork();
    if (pid == 0) {
        execvp(argv[0], (char **)argv);
        _exit(127);
    }
    if (pid > 0) {
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
    }
}

static void on_timer_closed(uv_handle_t *h)
{
    struct bottle *b = h->data;
    if (--b->teardown_pending > 0)
        return;
    set_state(b, b->fail_step ? BOTTLE_FAILED : BOTTLE_STOPPED);
    event_log_close(&b->log);
    b->log.fd = -1;
    b->finished = true;
    if (b->on_done)
        b->on_done(b, b->exit_status);
}

/* The teardown is a sequence of phases; each re-enters teardown_begin when
 * it is done. Phase 1: the backend stops the agent and removes what it
 * created; 2: the hops get SIGTERM (SIGKILL after a grace period); 3: relays
 * and the run dir go, timers close, the final state is reported. */

static void on_gate_stopped(struct bottle *b)
{
    if (--b->teardown_pending == 0)
        teardown_begin(b);
}

void bottle_backend_torn_down(struct bottle *b)
{
    b->teardown_pending = 0;
    teardown_begin(b);
}

static void teardown_begin(struct bottle *b)
{
    if (!b->tearing_down) {
        b->tearing_down = true;
        b->step_running = false;
        if (!b->fail_step)
            set_state(b, BOTTLE_STOPPING);
        /* The agent's status only when it ended on its own; a stop the
         * caller asked for is BOTTLE_EXIT_STOPPED whatever the agent died of. */
        b->exit_status = b->fail_step      ? -1
                         : b->agent_exited ? b->agent_status
                                           : BOTTLE_EXIT_STOPPED;
        b->teardown_pending = 1;
        b->teardown_phase = 1;
        b->be->teardown(b); /* -> bottle_backend_torn_down */
        return;
    }
    if (b->teardown_pending > 0)
        return;
    if (b->teardown_phase == 1) {
        b->teardown_phase = 2;
        if (b->gate) { /* asynchronous: its callback continues the teardown */
            b->teardown_pending++;
            gate_stop(b, on_gate_stopped);
        }
        for (size_t i = 0; i < b->nhops; i++) {
            uv_timer_stop(&b->hops[i].restart_timer);
            if (b->hops[i].proc) {
                b->teardown_pending++;
                proc_kill(b->hops[i].proc, SIGTERM);
            }
        }
        if (b->teardown_pending > 0) {
            uv_timer_start(&b->kill_timer, on_kill_timer, KILL_GRACE_MS, 0);
            return;
        }
    }
    if (b->teardown_phase == 2) {
        b->teardown_phase = 3;
        allow_finish_all(b, -1, "the bottle stopped");
        supervise_close(b->supervise);
        b->supervise = NULL;
        for (size_t i = 0; i < b->nrelays; i++)
            relay_close(b->relays[i]);
        b->nrelays = 0;
        rm_rf(b->run_dir);
        b->teardown_pending = 2 + (int)b->nhops;
        uv_close((uv_handle_t *)&b->kill_timer, on_timer_closed);
        uv_close((uv_handle_t *)&b->allow_timer, on_timer_closed);
        for (size_t i = 0; i < b->nhops; i++) {
            b->hops[i].restart_timer.data = b;
            uv_close((uv_handle_t *)&b->hops[i].restart_timer, on_timer_closed);
        }
    }
}

void bottle_stop(struct bottle *b)
{
    if (!b->launched || b->finished || b->stop_requested)
        return;
    b->stop_requested = true;
    /* A step in flight ends first: its commands get SIGTERM (they are ours
     * to reap), no new one starts, and bottle_step_done starts the teardown. */
    if (!b->step_running) {
        teardown_begin(b);
        return;
    }
    for (size_t i = 0; i < b->nstep_procs; i++)
        proc_kill(b->step_procs[i], SIGTERM);
    /* The proxies step waits for a hop to listen: that hop goes too. */
    for (size_t i = 0; i < b->nhops; i++)
        if (b->hops[i].waiting_step && b->hops[i].proc)
            proc_kill(b->hops[i].proc, SIGTERM);
}

/* ---- life cycle ---------------------------------------------------------------- */

static char *sibling_exe(const char *self, const char *name)
{
    char *dir = path_dirname(self);
    char *p = xasprintf("%s/%s", dir, name);
    free(dir);
    return p;
}

struct bottle *bottle_new(uv_loop_t *loop, struct manifest *m, const char *proxy_bin,
                          const char *self_bin, bottle_event_cb on_event, bottle_done_cb on_done,
                          char **err)
{
    const struct backend_ops *be = backend_for(m->backend);
    if (!be) {
        *err = xasprintf("the %s backend is not available in this version",
                         backend_kind_name(m->backend));
        return NULL;
    }
    struct bottle *b = xcalloc(1, sizeof *b);
    b->loop = loop;
    b->m = m;
    b->name = m->name;
    b->plan = plan_build(m);
    b->state_dir = xstrdup(b->plan->state_dir);
    b->run_dir = xasprintf("%s/run", b->state_dir);
    b->allow_file = xasprintf("%s/allow", b->run_dir);
    b->self_bin = xstrdup(self_bin);
    char abs[PATH_MAX];
    b->config_path = xstrdup(realpath(m->file, abs) ? abs : m->file);
    b->proxy_bin = proxy_bin ? xstrdup(proxy_bin) : sibling_exe(self_bin, "bottle-proxy");
    b->on_event = on_event;
    b->on_done = on_done;
    b->be = be;
    b->log.fd = -1;
    b->transcript_fd = -1;
    b->state = BOTTLE_STOPPED;
    b->nhops = b->plan->nhops;
    for (size_t i = 0; i < b->nhops; i++) {
        struct bottle_hop *h = &b->hops[i];
        const struct plan_hop *ph = &b->plan->hops[i];
        h->b = b;
        h->name = ph->name;
        h->ca_dir = xstrdup(ph->ca_dir);
        h->parent = i + 1 < b->nhops ? b->plan->hops[i + 1].name : NULL;
        /* The first hop's address may depend on the network step (docker's
         * gateway): it is asked of the backend when the hops start. */
        h->listen_want = i == 0 ? NULL : xstrdup("127.0.0.1:0");
    }
    return b;
}

void bottle_launch(struct bottle *b)
{
    if (b->launched)
        return;
    b->launched = true;
    uv_timer_init(b->loop, &b->kill_timer);
    b->kill_timer.data = b;
    uv_timer_init(b->loop, &b->allow_timer);
    b->allow_timer.data = b;
    for (size_t i = 0; i < b->nhops; i++) {
        uv_timer_init(b->loop, &b->hops[i].restart_timer);
        b->hops[i].restart_timer.data = &b->hops[i];
    }
    /* The log opens first so it holds every event, "creating" included. */
    int rc = mkdir_p(b->state_dir, 0700);
    if (rc == 0)
        rc = mkdir_p(b->run_dir, 0700);
    char *logpath = xasprintf("%s/events.jsonl", b->state_dir);
    if (rc == 0)
        rc = event_log_open(&b->log, logpath);
    free(logpath);
    set_state(b, BOTTLE_CREATING);
    set_state(b, BOTTLE_PROVISIONING);
    b->step = 0;
    if (rc != 0) {
        step_start(b);
        char *d = xasprintf("cannot create the state dir %s: %s", b->state_dir, strerror(-rc));
        bottle_step_done(b, -1, d);
        free(d);
        return;
    }
    run_step(b);
}

void bottle_free(struct bottle *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->nhops; i++) {
        free(b->hops[i].listen_want);
        free(b->hops[i].listen);
        free(b->hops[i].ca_dir);
    }
    plan_free(b->plan);
    manifest_free(b->m);
    free(b->state_dir);
    free(b->run_dir);
    free(b->allow_file);
    free(b->proxy_bin);
    free(b->self_bin);
    free(b->config_path);
    free(b->fail_step);
    free(b->fail_msg);
    free(b->fingerprint);
    free(b);
}
