/* gate: a bottle's git gate: bare copies of its repositories served by the real `git daemon`,
 * pushes reported as events. */
#include "gate/gate.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/bottle.h"

#define GATE_READY_TRIES 100 /* x 50 ms */
#define GATE_POLL_MS 250

/* The hook every bare repo gets: one line per updated ref into pushes.log,
 * "repo old new ref subject". The subject is the new commit's, so the
 * dashboard can show what arrived without running git. */
static const char hook[] =
    "#!/bin/sh\n"
    "# bottle git gate: report pushes to the supervisor\n"
    "repo=$(basename \"$PWD\" .git)\n"
    "while read old new ref; do\n"
    "  subj=$(git log -1 --format=%s \"$new\" 2>/dev/null | tr -d '\\n' | cut -c1-200)\n"
    "  printf '%s %s %s %s %s\\n' \"$repo\" \"$old\" \"$new\" \"$ref\" \"$subj\" >>../pushes.log\n"
    "done\n";

static int free_port(const char *host)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET};
    inet_pton(AF_INET, host, &sa.sin_addr);
    socklen_t len = sizeof sa;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

/* ---- pushes.log -> gate events ---------------------------------------------------- */

static void report_pushes(struct gate *g)
{
    FILE *f = fopen(g->pushes, "r");
    if (!f)
        return;
    if (fseek(f, g->log_off, SEEK_SET) != 0) {
        fclose(f);
        return;
    }
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        size_t n = strlen(line);
        if (n == 0 || line[n - 1] != '\n')
            break; /* a line still being written: read it next time */
        g->log_off += (long)n;
        line[n - 1] = '\0';
        char repo[256], old[64], new_[64], ref[512];
        int used = 0;
        if (sscanf(line, "%255s %63s %63s %511s %n", repo, old, new_, ref, &used) < 4)
            continue;
        char *refs = xasprintf("%s %.12s..%.12s %s", ref, old, new_, line + used);
        cJSON *ev = event_gate(g->b->name, "push", repo, refs);
        bottle_emit(g->b, ev);
        free(refs);
    }
    fclose(f);
}

static void on_watch(uv_timer_t *t)
{
    report_pushes(t->data);
}

/* ---- readiness --------------------------------------------------------------------- */

static void probe(struct gate *g);

static void on_probe_timer(uv_timer_t *t)
{
    probe(t->data);
}

static void on_probe_closed(uv_handle_t *h)
{
    struct gate *g = h->data;
    g->probing = false;
    if (g->closing || g->ready)
        return;
    if (++g->tries >= GATE_READY_TRIES) {
        bottle_step_done(g->b, -1, "git daemon did not accept connections within 5 s");
        return;
    }
    uv_timer_start(&g->timer, on_probe_timer, 50, 0);
}

static void on_probe(uv_connect_t *req, int status)
{
    struct gate *g = req->data;
    if (status == 0 && !g->closing) {
        g->ready = true;
        char *d = xasprintf("git daemon on %s:%d serving %zu repo(s) from %s", g->host, g->port,
                            g->b->m->git.nrepos, g->dir);
        bottle_step_done(g->b, 0, d);
        free(d);
        uv_timer_start(&g->timer, on_watch, GATE_POLL_MS, GATE_POLL_MS);
    }
    uv_close((uv_handle_t *)&g->probe, on_probe_closed);
}

static void probe(struct gate *g)
{
    if (g->closing || g->ready)
        return;
    struct sockaddr_in sa;
    uv_ip4_addr(g->host, g->port, &sa);
    uv_tcp_init(g->b->loop, &g->probe);
    g->probe.data = g;
    g->probing = true;
    g->probe_req.data = g;
    if (uv_tcp_connect(&g->probe_req, &g->probe, (struct sockaddr *)&sa, on_probe) != 0)
        uv_close((uv_handle_t *)&g->probe, on_probe_closed);
}

/* ---- the daemon -------------------------------------------------------------------- */

static void on_daemon_line(struct proc *p, int stream, const char *line, size_t len)
{
    struct gate *g = p->data;
    bottle_emit(g->b, event_output(g->b->name, "gate", stream == 1 ? "stdout" : "stderr", line));
}

static void on_daemon_done(struct proc *p, int64_t status, int sig)
{
    struct gate *g = p->data;
    g->daemon = NULL;
    if (!g->ready && !g->closing) {
        g->closing = true; /* stop probing */
        char *d = xasprintf("git daemon exited (%s %d) before accepting connections",
                            sig ? "signal" : "status", sig ? sig : (int)status);
        bottle_step_done(g->b, -1, d);
        free(d);
    }
}

static void on_repos_ready(struct bottle *b, int status, const char *out, void *arg)
{
    struct gate *g = b->gate;
    if (status != 0) {
        bottle_step_done(b, -1,
                         "could not create the gate's bare repositories (see the output "
                         "above)");
        return;
    }
    char *base = xasprintf("--base-path=%s", g->dir);
    char *listen = xasprintf("--listen=%s", g->host);
    char *port = xasprintf("--port=%d", g->port);
    const char *argv[] = {"git",
                          "daemon",
                          "--reuseaddr",
                          "--export-all",
                          "--enable=receive-pack",
                          "--informative-errors",
                          base,
                          listen,
                          port,
                          g->dir,
                          NULL};
    bottle_emit(b, event_cmd(b->name, "gate", argv));
    struct proc_opts o = {
        .argv = argv, .on_line = on_daemon_line, .on_done = on_daemon_done, .data = g};
    int rc = proc_spawn(b->loop, &o, &g->daemon);
    free(base);
    free(listen);
    free(port);
    if (rc != 0) {
        g->daemon = NULL;
        char *d = xasprintf("cannot start git daemon: %s", uv_strerror(rc));
        bottle_step_done(b, -1, d);
        free(d);
        return;
    }
    probe(g);
}

static void sh_quote(struct buf *s, const char *v)
{
    buf_append(s, "'", 1);
    for (; *v; v++) {
        if (*v == '\'')
            buf_appendf(s, "'\\''");
        else
            buf_append(s, v, 1);
    }
    buf_append(s, "'", 1);
}

void gate_start(struct bottle *b, const char *host, int port)
{
    struct gate *g = xcalloc(1, sizeof *g);
    b->gate = g;
    g->b = b;
    g->dir = xasprintf("%s/gate", b->state_dir);
    g->pushes = xasprintf("%s/pushes.log", g->dir);
    g->host = xstrdup(host);
    g->port = port ? port : free_port(host);
    uv_timer_init(b->loop, &g->timer);
    g->timer.data = g;
    g->open_handles = 1;
    if (mkdir_p(g->dir, 0700) != 0 || g->port <= 0) {
        bottle_step_done(b, -1, "cannot prepare the gate directory or port");
        return;
    }
    /* Start from what the pushes log holds now: only new pushes are events. */
    FILE *f = fopen(g->pushes, "a");
    if (f) {
        g->log_off = ftell(f);
        fclose(f);
    }
    /* One script: create or refresh each bare repo (its branches and tags
     * mirror the host's, so the agent starts from the operator's state), put
     * the hook in, and record each remote URL for the gitconfig. */
    struct buf s;
    buf_init(&s, 0);
    buf_appendf(&s, "set -e\n");
    for (size_t i = 0; i < b->m->git.nrepos; i++) {
        const struct mf_repo *r = &b->m->git.repos[i];
        buf_appendf(&s, "src=");
        sh_quote(&s, r->path);
        buf_appendf(&s, "; bare=");
        sh_quote(&s, g->dir);
        buf_appendf(&s, "/'%s.git'\n", r->name);
        buf_appendf(&s,
                    "if [ -d \"$bare\" ]; then git -C \"$bare\" fetch --quiet \"$src\" "
                    "'+refs/heads/*:refs/heads/*' '+refs/tags/*:refs/tags/*';\n"
                    "else git clone --quiet --bare --no-local \"$src\" \"$bare\"; fi\n"
                    "git -C \"$bare\" config receive.denyCurrentBranch ignore\n"
                    "cat >\"$bare/hooks/post-receive\" <<'BOTTLE_HOOK'\n%sBOTTLE_HOOK\n"
                    "chmod 755 \"$bare/hooks/post-receive\"\n"
                    "git -C \"$src\" config --get-regexp '^remote\\..*\\.url$' | "
                    "cut -d' ' -f2- >\"$bare/bottle-remotes\" || true\n"
                    "echo \"gate: $(basename \"$bare\") <- $src\"\n",
                    hook);
    }
    const char *argv[] = {"sh", "-c", s.p, NULL};
    if (bottle_run(b, argv, NULL, on_repos_ready, NULL) != 0)
        bottle_step_done(b, -1, "cannot run sh");
    buf_free(&s);
}

char *gate_gitconfig(struct bottle *b, const char *gate_url)
{
    struct buf s;
    buf_init(&s, 0);
    buf_appendf(&s, "# written by bottle: the repositories' remotes point at the git gate\n"
                    "[safe]\n\tdirectory = *\n"
                    "[user]\n\tname = bottle agent\n\temail = agent@bottle.invalid\n");
    for (size_t i = 0; i < b->m->git.nrepos; i++) {
        const struct mf_repo *r = &b->m->git.repos[i];
        buf_appendf(&s, "[url \"%s%s.git\"]\n", gate_url, r->name);
        char *path = xasprintf("%s/gate/%s.git/bottle-remotes", b->state_dir, r->name);
        FILE *f = fopen(path, "r");
        free(path);
        char line[2048];
        while (f && fgets(line, sizeof line, f)) {
            line[strcspn(line, "\r\n")] = '\0';
            if (!*line || strpbrk(line, "\"\\"))
                continue;
            buf_appendf(&s, "\tinsteadOf = %s\n\tpushInsteadOf = %s\n", line, line);
        }
        if (f)
            fclose(f);
    }
    char *out = xstrdup(s.p);
    buf_free(&s);
    return out;
}

static void on_gate_closed(uv_handle_t *h)
{
    struct gate *g = h->data;
    if (--g->open_handles > 0)
        return;
    struct bottle *b = g->b;
    void (*cb)(struct bottle *) = b->gate_stopped_cb;
    free(g->dir);
    free(g->pushes);
    free(g->host);
    free(g);
    b->gate = NULL;
    if (cb)
        cb(b);
}

static void on_daemon_stop_timer(uv_timer_t *t)
{
    struct gate *g = t->data;
    if (g->daemon) {
        /* still up after SIGTERM: force it, and check again */
        proc_kill(g->daemon, SIGKILL);
        return;
    }
    if (g->probing)
        return; /* its close callback still needs g */
    report_pushes(g);
    uv_timer_stop(t);
    uv_close((uv_handle_t *)t, on_gate_closed);
}

void gate_stop(struct bottle *b, void (*cb)(struct bottle *b))
{
    struct gate *g = b->gate;
    b->gate_stopped_cb = cb;
    if (!g) {
        if (cb)
            cb(b);
        return;
    }
    g->closing = true;
    if (g->daemon)
        proc_kill(g->daemon, SIGTERM);
    /* Poll until the daemon is reaped, then close (the probe closes itself). */
    uv_timer_stop(&g->timer);
    uv_timer_start(&g->timer, on_daemon_stop_timer, 20, 100);
}
