/* tui_app: the dashboard's runtime: bottles on the libuv loop, their events into the model, input
 * and throttled redraw. */
#include "tui/tui_app.h"
#include "tui/tui_app_sup.h"
#include "tui/tui_attach.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "core/bottle.h"
#include "core/diag.h"
#include "core/event.h"
#include "core/manifest.h"
#include "core/plan.h"
#include "core/util.h"
#include "tui/tui_model.h"
#include "tui/tui_screen.h"
#include "tui/tui_view.h"

/* At most ~30 frames a second, however fast events arrive. */
#define FRAME_MS 33
/* Quitting waits this long for bottles to tear down before leaving anyway. */
#define QUIT_GRACE_MS 30000
/* Feed reads land here; one read is at most this much work between key checks. */
#define FEED_CHUNK 65536

struct tui_app;

/* One bottle the dashboard knows: its model entry and, while launched, its runtime. */
struct slot {
    struct tui_app *app;
    struct tui_bottle *mb;
    struct bottle *b;
    bool autolaunch;
    bool restart; /* launch again once the teardown is done */
    struct tui_tail tail; /* the agent's last raw output, to repaint on attach */
};

/* Counters for developers (BOTTLE_TUI_STATS) and the benchmark. */
struct stats {
    uint64_t draws, key_draws, keys, events, state, step, request, bad;
    uint64_t draw_us_max;
    FILE *f;
    uv_timer_t timer;
};

struct tui_app {
    uv_loop_t *loop;
    const struct tui_app_opts *o;
    struct tui_screen scr;
    struct tui_model model;
    struct tui_view view;
    struct slot **slots;
    size_t nslots;
    size_t live; /* slots with a runtime */
    uv_poll_t input;
    uv_timer_t redraw, tick, quit_timer;
    uv_signal_t winch, sigint, sigterm, sighup;
    bool dirty, quitting, closing;
    uint64_t last_draw;
    int idle_reads; /* readable-but-empty stdin wakeups in a row: the terminal went away */
    /* BOTTLE_TUI_FEED: event lines from a FIFO (developers, the benchmark). */
    bool feeding;
    uv_pipe_t feed;
    struct buf feed_line;
    char *feed_buf;
    struct slot *feed_last;
    struct stats st;
    struct tui_app_sup sup; /* approvals, allowing hosts, gate bring-in */
    struct tui_attach att;  /* the operator's terminal lent to an agent (a) */
};

static void launch(struct slot *s);
static void detach(struct tui_app *a, const char *why);
static void on_agent_raw(struct bottle *b, const char *data, size_t len);

/* ---- drawing ------------------------------------------------------------------------- */

static void draw_now(struct tui_app *a)
{
    if (a->closing || !a->scr.active || a->scr.suspended)
        return;
    uint64_t t0 = uv_hrtime();
    tui_view_draw(&a->view, time_mono_ms());
    wnoutrefresh(stdscr);
    doupdate();
    a->dirty = false;
    uv_update_time(a->loop);
    a->last_draw = uv_now(a->loop);
    uint64_t us = (uv_hrtime() - t0) / 1000;
    a->st.draws++;
    if (us > a->st.draw_us_max)
        a->st.draw_us_max = us;
}

static void on_redraw(uv_timer_t *t)
{
    struct tui_app *a = t->data;
    if (a->dirty)
        draw_now(a);
}

/* State changes only mark the screen dirty; one timer draws at most once per frame. */
static void schedule_draw(struct tui_app *a)
{
    a->dirty = true;
    if (a->closing || uv_is_active((uv_handle_t *)&a->redraw))
        return;
    uint64_t now = uv_now(a->loop), due = a->last_draw + FRAME_MS;
    uv_timer_start(&a->redraw, on_redraw, due > now ? due - now : 0, 0);
}

static void on_tick(uv_timer_t *t)
{
    /* Uptimes move even when nothing else does. */
    schedule_draw(t->data);
}

/* ---- bottles ------------------------------------------------------------------------- */

static void plan_into_model(struct tui_bottle *mb, const struct manifest *m)
{
    struct plan *p = plan_build(m);
    const char *names[12];
    bool skip[12];
    size_t n = p->nsteps < 12 ? p->nsteps : 12;
    for (size_t i = 0; i < n; i++) {
        names[i] = p->steps[i].name;
        skip[i] = p->steps[i].skip;
    }
    tui_bottle_set_steps(mb, names, skip, n);
    for (size_t i = 0; i < p->nhops && i < 2; i++)
        tui_bottle_set_hop(mb, i, p->hops[i].name, p->hops[i].agent_addr);
    mb->upstream[0] = '\0';
    if (m->upstream.nresolve)
        snprintf(mb->upstream, sizeof mb->upstream, "%s at %s%s%s", m->upstream.resolve[0].host,
                 m->upstream.resolve[0].address, m->upstream.nresolve > 1 ? " (+more)" : "",
                 m->upstream.ca_file ? ", own CA file" : "");
    else
        snprintf(mb->upstream, sizeof mb->upstream, "verified against the system trust store");
    plan_free(p);
}

static char *first_error(const struct diag_list *d)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->v[i].level == DIAG_ERROR)
            return xasprintf("%d:%d: %s", d->v[i].line, d->v[i].col, d->v[i].msg);
    return xstrdup("the manifest does not load");
}

static char *name_from_path(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    return dot ? xstrndup(base, (size_t)(dot - base)) : xstrdup(base);
}

static void add_manifest(struct tui_app *a, const char *path, bool autolaunch)
{
    struct diag_list d = {0};
    struct manifest *m = manifest_load(path, &d);
    struct slot *s = xcalloc(1, sizeof *s);
    s->app = a;
    s->autolaunch = autolaunch;
    if (m) {
        s->mb = tui_model_add(&a->model, m->name, backend_kind_name(m->backend), path);
        plan_into_model(s->mb, m);
        manifest_free(m);
    } else {
        char *name = name_from_path(path);
        s->mb = tui_model_add(&a->model, name, "?", path);
        free(name);
        s->mb->state = TUI_ST_INVALID;
        s->mb->error = first_error(&d);
        s->autolaunch = false;
    }
    diag_free(&d);
    a->slots = xrealloc(a->slots, (a->nslots + 1) * sizeof *a->slots);
    a->slots[a->nslots++] = s;
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

static void scan_dir(struct tui_app *a, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct strv names = {0};
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' &&
            (str_has_suffix(e->d_name, ".yaml") || str_has_suffix(e->d_name, ".yml")))
            strv_push_own(&names, xasprintf("%s/%s", dir, e->d_name));
    closedir(d);
    if (names.n)
        qsort(names.v, names.n, sizeof *names.v, cmp_str);
    for (size_t i = 0; i < names.n; i++)
        add_manifest(a, names.v[i], false);
    strv_free(&names);
}

static void finish(struct tui_app *a);

/* Every event, from a bottle or the feed, enters the model here. */
static void apply_event(struct tui_app *a, struct slot *s, const cJSON *ev)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(ev, "type");
    const char *type = cJSON_IsString(t) ? t->valuestring : "";
    a->st.events++;
    if (strcmp(type, "request") == 0)
        a->st.request++;
    else if (strcmp(type, "state") == 0)
        a->st.state++;
    else if (strcmp(type, "step") == 0)
        a->st.step++;
    if (tui_model_apply(&a->model, s->mb, ev, time_mono_ms()))
        schedule_draw(a);
}

static void on_bottle_event(struct bottle *b, const cJSON *ev)
{
    struct slot *s = b->data;
    apply_event(s->app, s, ev);
    /* The agent the operator is attached to is gone: the dashboard comes back. */
    if (s->app->att.b == b && !b->agent)
        detach(s->app, "the agent exited");
}

static void on_bottle_done(struct bottle *b, int status)
{
    struct slot *s = b->data;
    struct tui_app *a = s->app;
    if (a->att.b == b)
        detach(a, "the bottle stopped");
    if (b->fail_step)
        tui_view_message(&a->view, "%s: step '%s' failed: %s", b->name, b->fail_step,
                         b->fail_msg ? b->fail_msg : "");
    else if (!s->restart && !a->quitting)
        tui_view_message(&a->view, "%s stopped (status %d)", b->name, status);
    /* Nothing touches the bottle after on_done returns: it is ours to free. */
    bottle_free(b);
    s->b = NULL;
    a->live--;
    if (a->quitting) {
        if (a->live == 0)
            finish(a);
    } else if (s->restart) {
        s->restart = false;
        launch(s);
    }
    schedule_draw(a);
}

static void launch(struct slot *s)
{
    struct tui_app *a = s->app;
    if (s->b || a->quitting)
        return;
    if (!s->mb->path) {
        tui_view_message(&a->view, "%s is fed by BOTTLE_TUI_FEED: nothing to launch", s->mb->name);
        return;
    }
    struct diag_list d = {0};
    struct manifest *m = manifest_load(s->mb->path, &d);
    if (!m) {
        free(s->mb->error);
        s->mb->error = first_error(&d);
        s->mb->state = TUI_ST_INVALID;
        tui_view_message(&a->view, "%s: %s", s->mb->path, s->mb->error);
        diag_free(&d);
        return;
    }
    diag_free(&d);
    if (s->mb->state == TUI_ST_INVALID)
        s->mb->state = TUI_ST_STOPPED;
    free(s->mb->error);
    s->mb->error = NULL;
    /* The manifest may have changed since it was listed. */
    plan_into_model(s->mb, m);
    char *err = NULL;
    struct bottle *b = bottle_new(a->loop, m, a->o->proxy_bin, a->o->self_bin, on_bottle_event,
                                  on_bottle_done, &err);
    if (!b) {
        tui_view_message(&a->view, "%s: %s", s->mb->name, err);
        free(err);
        manifest_free(m);
        return;
    }
    b->data = s;
    b->on_agent_raw = on_agent_raw;
    tui_tail_clear(&s->tail);
    s->b = b;
    a->live++;
    bottle_launch(b);
    schedule_draw(a);
}

/* ---- the agent's terminal: attach (a) and a typed line (i) ------------------------------- */

static void on_input(uv_poll_t *h, int status, int events);

static void on_agent_raw(struct bottle *b, const char *data, size_t len)
{
    struct slot *s = b->data;
    tui_tail_append(&s->tail, data, len);
    tui_attach_output(&s->app->att, b, data, len);
}

/* The terminal comes back to the dashboard, redrawn in full. */
static void detach(struct tui_app *a, const char *why)
{
    if (!a->att.b)
        return;
    if (why)
        tui_view_message(&a->view, "detached from %s: %s", a->att.b->name, why);
    else
        tui_view_message(&a->view, "detached from %s", a->att.b->name);
    tui_attach_stop(&a->att);
    tui_screen_resume(&a->scr);
    uv_poll_start(&a->input, UV_READABLE | UV_DISCONNECT, on_input);
    tui_view_layout(&a->view);
    a->dirty = true;
    draw_now(a);
}

static void on_detach(struct tui_attach *t, const char *why)
{
    detach(t->data, why);
}

/* The loop goes on while attached: other bottles run, events reach the
 * model; only drawing and curses input pause. */
static void attach(struct tui_app *a, struct slot *s)
{
    if (!s || !s->b || !s->b->agent || a->quitting) {
        tui_view_message(&a->view, "%s: no agent running to attach to", s ? s->mb->name : "?");
        return;
    }
    uv_poll_stop(&a->input);
    tui_screen_suspend(&a->scr);
    int rc = tui_attach_start(&a->att, s->b, &s->tail);
    if (rc != 0) {
        tui_screen_resume(&a->scr);
        uv_poll_start(&a->input, UV_READABLE | UV_DISCONNECT, on_input);
        tui_view_message(&a->view, "cannot attach to %s: %s", s->mb->name, uv_strerror(rc));
    }
}

static void send_line(struct tui_app *a, struct slot *s)
{
    struct tui_view *v = &a->view;
    if (!s || !s->b || !s->b->agent) {
        tui_view_message(v, "%s: no agent running to type to", s ? s->mb->name : "?");
        return;
    }
    /* CR, as the Enter key sends it: the agent's terminal turns it into what it expects. */
    char *line = xasprintf("%s\r", v->input);
    int rc = bottle_agent_input(s->b, line, strlen(line));
    free(line);
    v->input[0] = '\0';
    if (rc == 0)
        tui_view_message(v, "sent a line to %s", s->mb->name);
    else
        tui_view_message(v, "cannot type to %s: %s", s->mb->name, uv_strerror(rc));
}

static void perform(struct tui_app *a, enum tui_action act, size_t idx)
{
    struct slot *s = idx < a->nslots ? a->slots[idx] : NULL;
    switch (act) {
    case TUI_ACT_LAUNCH:
        if (s)
            launch(s);
        break;
    case TUI_ACT_RESTART:
        if (!s)
            break;
        if (s->b) {
            s->restart = true;
            bottle_stop(s->b);
        } else {
            launch(s);
        }
        break;
    case TUI_ACT_KILL:
        if (s && s->b) {
            s->restart = false;
            bottle_stop(s->b);
            /* The supervisor cuts a step in flight short, then tears down. */
            tui_view_message(&a->view, "stopping %s...", s->mb->name);
        } else if (s) {
            tui_view_message(&a->view, "%s has no processes here", s->mb->name);
        }
        break;
    case TUI_ACT_QUIT:
        finish(a);
        break;
    case TUI_ACT_ANSWER:
    case TUI_ACT_APPROVE:
    case TUI_ACT_APPROVE_SAVE:
    case TUI_ACT_DENY:
    case TUI_ACT_ALLOW_HOST:
    case TUI_ACT_ALLOW_HOST_SAVE:
    case TUI_ACT_GATE_LOG:
    case TUI_ACT_BRING_IN:
        tui_app_sup_perform(&a->sup, act, s ? s->b : NULL, s ? s->mb : NULL);
        break;
    case TUI_ACT_ATTACH:
        attach(a, s);
        break;
    case TUI_ACT_SEND:
        send_line(a, s);
        break;
    case TUI_ACT_NONE:
        break;
    }
}

static void on_sup_redraw(void *data)
{
    schedule_draw(data);
}

/* ---- what outlives a crash ------------------------------------------------------------- */

/* The loop cannot stop the bottles once the process is dying, so the crash
 * path (and a quit that timed out) kills every child we started: hops, git
 * gate, sandboxes. Async-signal-safe: only open, read, kill, close. */
static void kill_children(void)
{
    char path[64] = "/proc/", num[24];
    long pid = (long)getpid();
    int k = 0;
    do
        num[k++] = (char)('0' + pid % 10);
    while ((pid /= 10) > 0);
    size_t n = strlen(path);
    for (int rep = 0; rep < 2; rep++) {
        for (int j = k - 1; j >= 0; j--)
            path[n++] = num[j];
        const char *mid = rep == 0 ? "/task/" : "/children";
        for (const char *c = mid; *c; c++)
            path[n++] = *c;
    }
    path[n] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    char buf[4096];
    long child = 0;
    ssize_t got;
    while ((got = read(fd, buf, sizeof buf)) > 0 || (got < 0 && errno == EINTR))
        for (ssize_t i = 0; i < got; i++) {
            if (buf[i] >= '0' && buf[i] <= '9') {
                child = child * 10 + (buf[i] - '0');
            } else if (child > 0) {
                kill((pid_t)child, SIGKILL);
                child = 0;
            }
        }
    if (child > 0)
        kill((pid_t)child, SIGKILL);
    close(fd);
}

/* The crash path while attached: the terminal may be raw (libuv's reset is
 * async-signal-safe), then the children go. */
static void crash_restore(void)
{
    uv_tty_reset_mode();
    kill_children();
}

/* ---- developer hooks: an event feed and counters ------------------------------------------ */

/* BOTTLE_TUI_FEED=FIFO: JSON event lines (DESIGN section 7) read from a FIFO
 * and applied as if a bottle had produced them. An event naming a bottle
 * that is not listed adds one (backend "feed") that cannot be launched or
 * killed. For the benchmark (bench/tui) and tests; not a user feature. */
static struct slot *feed_slot(struct tui_app *a, const char *name)
{
    if (a->feed_last && strcmp(a->feed_last->mb->name, name) == 0)
        return a->feed_last;
    for (size_t i = 0; i < a->nslots; i++)
        if (strcmp(a->slots[i]->mb->name, name) == 0)
            return a->feed_last = a->slots[i];
    struct slot *s = xcalloc(1, sizeof *s);
    s->app = a;
    s->mb = tui_model_add(&a->model, name, "feed", NULL);
    a->slots = xrealloc(a->slots, (a->nslots + 1) * sizeof *a->slots);
    a->slots[a->nslots++] = s;
    tui_view_layout(&a->view);
    return a->feed_last = s;
}

static void feed_line(struct tui_app *a, const char *line, size_t len)
{
    if (len == 0)
        return;
    const char *err = NULL;
    cJSON *ev = event_parse_line(line, len, &err);
    if (!ev) {
        a->st.bad++;
        return;
    }
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(ev, "bottle");
    apply_event(a, feed_slot(a, name->valuestring), ev);
    cJSON_Delete(ev);
}

static void on_feed_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    struct tui_app *a = h->data;
    b->base = a->feed_buf;
    b->len = FEED_CHUNK;
}

static void on_feed_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    struct tui_app *a = st->data;
    if (n < 0) {
        uv_read_stop(st);
        return;
    }
    const char *p = b->base, *end = b->base + n;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) {
            if (buf_append(&a->feed_line, p, (size_t)(end - p)) != 0) {
                buf_reset(&a->feed_line); /* past EVENT_LINE_MAX: not an event */
                a->st.bad++;
            }
            break;
        }
        if (a->feed_line.len) {
            if (buf_append(&a->feed_line, p, (size_t)(nl - p)) == 0)
                feed_line(a, a->feed_line.p, a->feed_line.len);
            buf_reset(&a->feed_line);
        } else {
            feed_line(a, p, (size_t)(nl - p));
        }
        p = nl + 1;
    }
}

static void feed_open(struct tui_app *a, const char *path)
{
    /* Read-write, so the FIFO has a writer and never reports EOF between writers. */
    int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode)) {
        tui_view_message(&a->view, "BOTTLE_TUI_FEED=%s: not a FIFO", path);
        if (fd >= 0)
            close(fd);
        return;
    }
    uv_pipe_init(a->loop, &a->feed, 0);
    if (uv_pipe_open(&a->feed, fd) != 0) {
        close(fd);
        uv_close((uv_handle_t *)&a->feed, NULL);
        return;
    }
    a->feed.data = a;
    a->feed_buf = xmalloc(FEED_CHUNK);
    buf_init(&a->feed_line, EVENT_LINE_MAX);
    a->feeding = true;
    uv_read_start((uv_stream_t *)&a->feed, on_feed_alloc, on_feed_read);
}

/* BOTTLE_TUI_STATS=FILE: one JSON line a second (and one at the end) with
 * the dashboard's counters: frames drawn (all, and those drawn at once for a key), keys read,
 * events applied by type, requests kept, the slowest frame. */
static void write_stats(struct tui_app *a)
{
    size_t kept = 0;
    for (size_t i = 0; i < a->model.n; i++)
        kept += a->model.b[i]->reqs.n;
    fprintf(a->st.f,
            "{\"ms\":%llu,\"draws\":%llu,\"key_draws\":%llu,\"keys\":%llu,\"events\":%llu,"
            "\"state\":%llu,"
            "\"step\":%llu,\"request\":%llu,\"bad\":%llu,\"kept\":%zu,\"draw_us_max\":%llu}\n",
            (unsigned long long)time_mono_ms(), (unsigned long long)a->st.draws,
            (unsigned long long)a->st.key_draws, (unsigned long long)a->st.keys,
            (unsigned long long)a->st.events, (unsigned long long)a->st.state,
            (unsigned long long)a->st.step, (unsigned long long)a->st.request,
            (unsigned long long)a->st.bad, kept, (unsigned long long)a->st.draw_us_max);
    fflush(a->st.f);
}

static void on_stats(uv_timer_t *t)
{
    write_stats(t->data);
}

static void stats_open(struct tui_app *a, const char *path)
{
    a->st.f = fopen(path, "a");
    if (!a->st.f)
        return;
    uv_timer_init(a->loop, &a->st.timer);
    a->st.timer.data = a;
    uv_timer_start(&a->st.timer, on_stats, 1000, 1000);
}

/* ---- shutdown -------------------------------------------------------------------------- */

static void on_quit_timeout(uv_timer_t *t)
{
    struct tui_app *a = t->data;
    /* Teardown took too long: leave anyway, and take what we started with us. */
    kill_children();
    a->live = 0;
    finish(a);
    uv_stop(a->loop);
}

static void close_handles(struct tui_app *a)
{
    if (a->closing)
        return;
    a->closing = true;
    uv_close((uv_handle_t *)&a->input, NULL);
    uv_close((uv_handle_t *)&a->redraw, NULL);
    uv_close((uv_handle_t *)&a->tick, NULL);
    uv_close((uv_handle_t *)&a->quit_timer, NULL);
    uv_close((uv_handle_t *)&a->winch, NULL);
    uv_close((uv_handle_t *)&a->sigint, NULL);
    uv_close((uv_handle_t *)&a->sigterm, NULL);
    uv_close((uv_handle_t *)&a->sighup, NULL);
    if (a->feeding)
        uv_close((uv_handle_t *)&a->feed, NULL);
    if (a->st.f) {
        write_stats(a);
        uv_close((uv_handle_t *)&a->st.timer, NULL);
    }
}

/* Stop every bottle; once all are torn down, close the dashboard's handles
 * so the loop ends. */
static void finish(struct tui_app *a)
{
    detach(a, NULL);
    if (!a->quitting) {
        a->quitting = true;
        for (size_t i = 0; i < a->nslots; i++) {
            a->slots[i]->restart = false;
            if (a->slots[i]->b)
                bottle_stop(a->slots[i]->b);
        }
        if (a->live) {
            tui_view_message(&a->view, "stopping %zu bottle%s...", a->live,
                             a->live == 1 ? "" : "s");
            draw_now(a);
            uv_timer_start(&a->quit_timer, on_quit_timeout, QUIT_GRACE_MS, 0);
        }
    }
    if (a->live == 0)
        close_handles(a);
}

/* ---- input ------------------------------------------------------------------------------ */

/* QUERY: ask the terminal (SIGWINCH); else curses already resized (KEY_RESIZE),
 * and resizing again would queue yet another KEY_RESIZE. */
static void on_resize(struct tui_app *a, bool query)
{
    if (query)
        tui_screen_resize(&a->scr);
    else
        getmaxyx(stdscr, a->scr.rows, a->scr.cols);
    tui_view_layout(&a->view);
    clearok(curscr, TRUE);
    schedule_draw(a);
}

static void on_input(uv_poll_t *h, int status, int events)
{
    struct tui_app *a = h->data;
    if (status < 0 || (events & UV_DISCONNECT)) {
        finish(a);
        return;
    }
    int got = 0;
    bool redraw = false;
    for (int ch; !a->closing && !a->scr.suspended && (ch = wgetch(stdscr)) != ERR; got++) {
        a->st.keys++;
        int fl = 0;
        enum tui_action act = TUI_ACT_NONE;
        size_t idx = 0;
        if (ch == KEY_MOUSE) {
            MEVENT me;
            if (getmouse(&me) == OK)
                fl = tui_view_mouse(&a->view, me.y, me.x, (unsigned long)me.bstate);
        } else if (ch == KEY_RESIZE) {
            on_resize(a, false);
        } else if (a->quitting) {
            continue; /* keys mean nothing while bottles stop */
        } else {
            fl = tui_view_key(&a->view, ch, &act, &idx);
        }
        if (act != TUI_ACT_NONE)
            perform(a, act, idx);
        if (fl & TUI_REDRAW)
            redraw = true;
    }
    /* The operator is answered at once: the frame throttle is for events,
     * and keys come at human rates (a paste is one read, one frame). */
    if (redraw && !a->closing) {
        a->dirty = true;
        draw_now(a);
        a->st.key_draws++;
    }
    /* A terminal that hung up stays readable with nothing to read. */
    a->idle_reads = got ? 0 : a->idle_reads + 1;
    if (a->idle_reads > 50)
        finish(a);
}

static void on_winch(uv_signal_t *h, int signum)
{
    struct tui_app *a = h->data;
    /* Attached: the agent's terminal follows; curses asks again on detach. */
    if (a->att.b)
        tui_attach_winch(&a->att);
    else
        on_resize(a, true);
}

static void on_quit_signal(uv_signal_t *h, int signum)
{
    finish(h->data);
}

/* ---- run --------------------------------------------------------------------------------- */

static void close_walk(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

int tui_app_run(char **paths, size_t npaths, const struct tui_app_opts *o)
{
    struct tui_app app, *a = &app;
    memset(a, 0, sizeof *a);
    a->o = o;
    a->loop = uv_default_loop();
    tui_model_init(&a->model, o->req_history);
    for (size_t i = 0; i < npaths; i++) {
        struct stat st;
        if (stat(paths[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            scan_dir(a, paths[i]);
        } else if (stat(paths[i], &st) == 0) {
            add_manifest(a, paths[i], true);
        } else {
            fprintf(stderr, "bottle-tui: %s: no such file or directory\n", paths[i]);
            tui_model_free(&a->model);
            for (size_t k = 0; k < a->nslots; k++)
                free(a->slots[k]);
            free(a->slots);
            return 2;
        }
    }
    if (npaths == 0) {
        scan_dir(a, "bottles");
        const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
        char *dir = xdg && *xdg ? xasprintf("%s/bottle/bottles", xdg)
                                : xasprintf("%s/.config/bottle/bottles", home ? home : ".");
        scan_dir(a, dir);
        free(dir);
    }
    signal(SIGPIPE, SIG_IGN);
    /* SIGWINCH is ours before curses starts, so resizes come through the loop. */
    uv_signal_init(a->loop, &a->winch);
    a->winch.data = a;
    uv_signal_start(&a->winch, on_winch, SIGWINCH);
    if (tui_screen_open(&a->scr) != 0) {
        fprintf(stderr, "bottle-tui: cannot open the terminal (TERM=%s)\n",
                getenv("TERM") ? getenv("TERM") : "");
        uv_close((uv_handle_t *)&a->winch, NULL);
        uv_run(a->loop, UV_RUN_DEFAULT);
        tui_model_free(&a->model);
        for (size_t k = 0; k < a->nslots; k++)
            free(a->slots[k]);
        free(a->slots);
        return 1;
    }
    tui_view_init(&a->view, &a->scr, &a->model);
    a->sup = (struct tui_app_sup){.loop = a->loop, .view = &a->view, .redraw = on_sup_redraw, .data = a};
    uv_timer_init(a->loop, &a->redraw);
    uv_timer_init(a->loop, &a->tick);
    uv_timer_init(a->loop, &a->quit_timer);
    a->redraw.data = a->tick.data = a->quit_timer.data = a;
    uv_signal_init(a->loop, &a->sigint);
    uv_signal_init(a->loop, &a->sigterm);
    uv_signal_init(a->loop, &a->sighup);
    a->sigint.data = a->sigterm.data = a->sighup.data = a;
    uv_signal_start(&a->sigint, on_quit_signal, SIGINT);
    uv_signal_start(&a->sigterm, on_quit_signal, SIGTERM);
    uv_signal_start(&a->sighup, on_quit_signal, SIGHUP);
    uv_poll_init(a->loop, &a->input, STDIN_FILENO);
    a->input.data = a;
    uv_poll_start(&a->input, UV_READABLE | UV_DISCONNECT, on_input);
    uv_timer_start(&a->tick, on_tick, 1000, 1000);
    tui_screen_set_crash_hook(crash_restore);
    if (tui_attach_init(&a->att, a->loop, on_detach) != 0)
        tui_view_message(&a->view, "BOTTLE_DETACH_KEY names no key (use e.g. ^] or C-b): "
                                   "%s detaches",
                         a->att.key_name);
    a->att.data = a;
    const char *feed = getenv("BOTTLE_TUI_FEED"), *stats = getenv("BOTTLE_TUI_STATS");
    if (feed && *feed)
        feed_open(a, feed);
    if (stats && *stats)
        stats_open(a, stats);
    if (a->nslots == 0)
        tui_view_message(&a->view, "no manifests: run bottle-tui PATH... (files launch, "
                                   "directories list)");
    for (size_t i = 0; i < a->nslots; i++)
        if (a->slots[i]->autolaunch)
            launch(a->slots[i]);
    draw_now(a);
    uv_run(a->loop, UV_RUN_DEFAULT);
    /* Only a forced quit leaves handles open (bottles that would not stop). */
    uv_walk(a->loop, close_walk, NULL);
    uv_run(a->loop, UV_RUN_NOWAIT);
    tui_app_sup_free(&a->sup);
    tui_view_free(&a->view);
    tui_screen_set_crash_hook(NULL);
    tui_screen_close(&a->scr);
    if (a->st.f)
        fclose(a->st.f);
    if (a->feeding) {
        free(a->feed_buf);
        buf_free(&a->feed_line);
    }
    for (size_t i = 0; i < a->nslots; i++) {
        tui_tail_clear(&a->slots[i]->tail);
        free(a->slots[i]);
    }
    free(a->slots);
    tui_model_free(&a->model);
    uv_loop_close(a->loop);
    return 0;
}
