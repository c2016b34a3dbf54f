/* bottle-tui: the supervisor and dashboard's entry point; dispatches the headless subcommands. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/bottle.h"
#include "core/diag.h"
#include "core/manifest.h"
#include "core/plan.h"
#include "core/relay.h"
#include "gate/supervise.h"
#include "tui/tui_app.h"
#include "tui/tui_attach.h"

static const char usage[] =
    "usage: bottle-tui [--detach-key KEY] [PATH...]  open the dashboard\n"
    "       bottle-tui check [--json] PATH...         validate manifests, print launch plans\n"
    "       bottle-tui up [--json] [--operator] MANIFEST\n"
    "                                                 launch one bottle headless, print its "
    "events\n"
    "       bottle-tui --help | --version\n"
    "\n"
    "check: validates each manifest and prints its launch plan: backend, the hop\n"
    "chain with where each hop listens and which CA the agent trusts, the ordered\n"
    "provisioning steps, the agent's variables (placeholders, never tokens), the\n"
    "DLP pattern count, allowlist and denylist. Errors go to stderr as\n"
    "file:line:column: message.\n"
    "  --json   one JSON object per manifest, one per line\n"
    "\n"
    "check exit status: 0 all valid, 1 any invalid, 2 usage error\n"
    "\n"
    "up: launches the bottle (network, proxies, start, ca, prompt, skills, agent),\n"
    "prints every event until the agent exits or SIGINT/SIGTERM, then tears it all\n"
    "down. Exit status: the agent's, or 1 with the failed step named on stderr.\n"
    "  --json      the events as JSON lines (as kept in the state dir's events.jsonl)\n"
    "  --operator  read operator commands on stdin for the agent's supervise calls:\n"
    "              'answer ID TEXT', 'approve ID' (for this run), 'approve-save ID'\n"
    "              (also into the manifest's pipelock.allow), 'deny ID' (ID from the event)\n"
    "\n"
    "dashboard: each manifest file named is launched; each directory named is\n"
    "scanned for *.yaml manifests, listed as stopped until launched (n). With no\n"
    "PATH it scans ./bottles and $XDG_CONFIG_HOME/bottle/bottles. ? lists the keys.\n"
    "NO_COLOR=1 turns colours off; BOTTLE_ASCII=1 forces ASCII drawing.\n"
    "  --detach-key KEY  the key that detaches from an agent's terminal after 'a'\n"
    "                    (default Ctrl-]; e.g. ^B, C-b, Ctrl-B or 0x02; also\n"
    "                    BOTTLE_DETACH_KEY)\n";

static int cmd_check(int argc, char **argv)
{
    bool json = false;
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'j') {
            json = true;
        } else if (c == 'h') {
            fputs(usage, stdout);
            return 0;
        } else {
            fputs(usage, stderr);
            return 2;
        }
    }
    if (optind >= argc) {
        fputs("bottle-tui check: name at least one manifest\n", stderr);
        fputs(usage, stderr);
        return 2;
    }
    int rc = 0;
    for (int i = optind; i < argc; i++) {
        struct diag_list d = {0};
        struct manifest *m = manifest_load(argv[i], &d);
        diag_sort(&d);
        diag_print(&d, stderr);
        if (!m) {
            rc = 1;
            diag_free(&d);
            continue;
        }
        struct plan *p = plan_build(m);
        if (json) {
            cJSON *o = plan_to_json(p);
            char *s = cJSON_PrintUnformatted(o);
            printf("%s\n", s);
            free(s);
            cJSON_Delete(o);
        } else {
            if (i > optind)
                putchar('\n');
            plan_print_text(p, stdout);
        }
        if (!p->dlp_defaults_ok) {
            fprintf(stderr, "%s: error: the default DLP patterns failed to load\n", argv[i]);
            rc = 1;
        }
        plan_free(p);
        manifest_free(m);
        diag_free(&d);
    }
    return rc;
}

/* ---- up ------------------------------------------------------------------------- */

struct up {
    uv_loop_t *loop;
    bool json;
    uv_signal_t sigint, sigterm;
    int status;
    int signum; /* the signal that stopped the bottle, if one did */
    bool done;
    bool operator_in; /* --operator: operator commands on stdin */
    uv_pipe_t in;
    struct buf line;
    struct bottle *b;
};

/* --operator: "answer ID TEXT", "approve ID", "deny ID" on stdin answer the
 * agent's supervise calls (the dashboard does this interactively). */
static void operator_command(struct up *u, char *line)
{
    char *save, *cmd = strtok_r(line, " ", &save), *id = strtok_r(NULL, " ", &save);
    char *rest = save && *save ? save : "";
    int rc = -1;
    if (cmd && id && u->b->supervise) {
        if (strcmp(cmd, "answer") == 0)
            rc = supervise_answer(u->b->supervise, id, rest);
        else if (strcmp(cmd, "approve") == 0 || strcmp(cmd, "deny") == 0 ||
                 strcmp(cmd, "approve-save") == 0)
            rc = supervise_decide(u->b->supervise, id, strcmp(cmd, "deny") != 0,
                                  strcmp(cmd, "approve-save") == 0);
    }
    if (rc != 0)
        fprintf(stderr,
                "bottle-tui: operator: cannot apply '%s %s' (want answer|approve|approve-save|deny "
                "ID for a pending call)\n",
                cmd ? cmd : "", id ? id : "");
}

static void on_in_alloc(uv_handle_t *h, size_t n, uv_buf_t *b)
{
    (void)h;
    b->base = xmalloc(n);
    b->len = n;
}

static void on_in_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    struct up *u = st->data;
    for (ssize_t i = 0; i < n; i++) {
        if (b->base[i] == '\n') {
            if (u->line.len)
                operator_command(u, u->line.p);
            buf_reset(&u->line);
        } else if (buf_append(&u->line, &b->base[i], 1) != 0) {
            buf_reset(&u->line);
        }
    }
    free(b->base);
    if (n < 0) {
        uv_read_stop(st);
        uv_close((uv_handle_t *)st, NULL);
        u->operator_in = false;
    }
}

static const char *jstr(const cJSON *ev, const char *k)
{
    const cJSON *v = cJSON_GetObjectItem(ev, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static double jnum(const cJSON *ev, const char *k)
{
    const cJSON *v = cJSON_GetObjectItem(ev, k);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* One human-readable line per event. */
static void print_human(const cJSON *ev)
{
    const char *ts = jstr(ev, "ts"), *type = jstr(ev, "type"), *name = jstr(ev, "bottle");
    /* An unfinished line (a prompt) is printed once it is whole. */
    if (cJSON_IsTrue(cJSON_GetObjectItem(ev, "partial")))
        return;
    printf("%s %s ", strlen(ts) > 11 ? ts + 11 : ts, name);
    if (strcmp(type, "state") == 0) {
        printf("state %s\n", jstr(ev, "state"));
    } else if (strcmp(type, "step") == 0) {
        const char *st = jstr(ev, "status"), *d = jstr(ev, "detail"), *fp = jstr(ev, "fingerprint");
        double ms = jnum(ev, "ms");
        printf("step %-9s %-5s", jstr(ev, "step"), st);
        if (ms >= 0)
            printf(" %5.0f ms", ms);
        printf("  %s\n", d);
        if (*fp)
            printf("%*s CA fingerprint SHA-256 %s\n", 12, "", fp);
    } else if (strcmp(type, "cmd") == 0) {
        printf("  [%s] $", jstr(ev, "step"));
        const cJSON *a;
        cJSON_ArrayForEach(a, cJSON_GetObjectItem(ev, "argv")) printf(" %s", a->valuestring);
        putchar('\n');
    } else if (strcmp(type, "output") == 0) {
        printf("  [%s] %s %s\n", jstr(ev, "step"),
               strcmp(jstr(ev, "stream"), "stderr") == 0 ? "!" : "|", jstr(ev, "line"));
    } else if (strcmp(type, "hop") == 0) {
        printf("hop %s %s %s pid %.0f\n", jstr(ev, "hop"), jstr(ev, "status"), jstr(ev, "listen"),
               jnum(ev, "pid"));
    } else if (strcmp(type, "request") == 0) {
        const char *verdict = jstr(ev, "verdict"), *reason = jstr(ev, "reason"),
                   *auth = jstr(ev, "auth");
        printf("request %s %s %s://%s%s %.0f %s%s%s %.0f ms%s%s\n", jstr(ev, "hop"),
               jstr(ev, "method"), jstr(ev, "scheme"), jstr(ev, "host"), jstr(ev, "path"),
               jnum(ev, "status"), verdict, *reason ? ": " : "", reason, jnum(ev, "ms"),
               *auth ? " auth=" : "", auth);
    } else if (strcmp(type, "supervise") == 0) {
        printf("supervise %s #%s %s: %s\n", jstr(ev, "tool"), jstr(ev, "id"), jstr(ev, "status"),
               jstr(ev, "summary"));
    } else if (strcmp(type, "gate") == 0) {
        printf("gate %s %s %s\n", jstr(ev, "op"), jstr(ev, "repo"), jstr(ev, "refs"));
    } else {
        char *s = cJSON_PrintUnformatted(ev);
        printf("%s\n", s);
        free(s);
    }
}

static void on_up_event(struct bottle *b, const cJSON *ev)
{
    struct up *u = b->data;
    if (u->json) {
        char *line = event_to_line(ev);
        fputs(line, stdout);
        free(line);
    } else {
        print_human(ev);
    }
    fflush(stdout);
}

static void on_up_done(struct bottle *b, int status)
{
    struct up *u = b->data;
    u->status = status;
    u->done = true;
    if (b->fail_step)
        fprintf(stderr, "bottle-tui: %s: step '%s' failed: %s\n", b->name, b->fail_step,
                b->fail_msg);
    uv_close((uv_handle_t *)&u->sigint, NULL);
    uv_close((uv_handle_t *)&u->sigterm, NULL);
    if (u->operator_in && !uv_is_closing((uv_handle_t *)&u->in)) {
        u->operator_in = false;
        uv_close((uv_handle_t *)&u->in, NULL);
    }
}

static void on_up_signal(uv_signal_t *s, int signum)
{
    struct bottle *b = s->data;
    struct up *u = b->data;
    if (!u->signum)
        u->signum = signum;
    bottle_stop(b);
}

static char *self_exe(const char *argv0)
{
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n > 0) {
        buf[n] = '\0';
        return xstrdup(buf);
    }
    return xstrdup(argv0);
}

static int cmd_up(int argc, char **argv, const char *argv0)
{
    bool json = false, operator_in = false;
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"operator", no_argument, NULL, 'o'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'j') {
            json = true;
        } else if (c == 'o') {
            operator_in = true;
        } else if (c == 'h') {
            fputs(usage, stdout);
            return 0;
        } else {
            fputs(usage, stderr);
            return 2;
        }
    }
    if (optind != argc - 1) {
        fputs("bottle-tui up: name exactly one manifest\n", stderr);
        return 2;
    }
    struct diag_list d = {0};
    struct manifest *m = manifest_load(argv[optind], &d);
    diag_sort(&d);
    diag_print(&d, stderr);
    diag_free(&d);
    if (!m)
        return 1;
    uv_loop_t *loop = uv_default_loop();
    struct up u = {.loop = loop, .json = json};
    char *self = self_exe(argv0);
    char *err = NULL;
    struct bottle *b =
        bottle_new(loop, m, getenv("BOTTLE_PROXY"), self, on_up_event, on_up_done, &err);
    free(self);
    if (!b) {
        fprintf(stderr, "bottle-tui: %s: %s\n", argv[optind], err);
        free(err);
        manifest_free(m);
        return 1;
    }
    b->data = &u;
    u.b = b;
    buf_init(&u.line, 4096);
    if (operator_in && uv_pipe_init(loop, &u.in, 0) == 0) {
        if (uv_pipe_open(&u.in, STDIN_FILENO) == 0) {
            u.in.data = &u;
            u.operator_in = true;
            uv_read_start((uv_stream_t *)&u.in, on_in_alloc, on_in_read);
        } else {
            uv_close((uv_handle_t *)&u.in, NULL);
        }
    }
    signal(SIGPIPE, SIG_IGN);
    /* One event a line, as it happens, also into a pipe or a file. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    uv_signal_init(loop, &u.sigint);
    uv_signal_init(loop, &u.sigterm);
    u.sigint.data = u.sigterm.data = b;
    uv_signal_start(&u.sigint, on_up_signal, SIGINT);
    uv_signal_start(&u.sigterm, on_up_signal, SIGTERM);
    bottle_launch(b);
    uv_run(loop, UV_RUN_DEFAULT);
    int status = u.status;
    buf_free(&u.line);
    bottle_free(b);
    uv_loop_close(loop);
    if (status == BOTTLE_EXIT_STOPPED)
        return 128 + (u.signum ? u.signum : SIGTERM);
    if (status < 0)
        return 1;
    return status > 255 ? 255 : status;
}

/* ---- sandbox-init ------------------------------------------------------------------ */

/* Inside the sandbox, before the agent: `claude mcp add` for the supervise
 * server when claude is on PATH. Its output is the agent's; failure is not fatal. */
static void register_mcp(const char *url)
{
    const char *path = getenv("PATH");
    bool found = false;
    char *copy = xstrdup(path ? path : "/usr/bin:/bin"), *save = NULL;
    for (char *d = strtok_r(copy, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
        char *p = xasprintf("%s/claude", d);
        found = access(p, X_OK) == 0;
        free(p);
    }
    free(copy);
    if (!found)
        return;
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0)
            dup2(null, STDIN_FILENO);
        execlp("claude", "claude", "mcp", "add", "--transport", "http", "supervise", url,
               (char *)NULL);
        _exit(127);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fprintf(stderr,
                "sandbox-init: registering the supervise server with claude failed "
                "(status %d); the agent goes on without it\n",
                WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

/* Runs inside the sandbox: starts the relays (a child process with its own
 * loop, killed with its parent), waits until they listen, then execs the
 * agent's command. Not for direct use. */
static int cmd_sandbox_init(int argc, char **argv)
{
    struct strv listens = {0}, targets = {0};
    const char *mcp = NULL;
    int i = 1;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        if (strcmp(argv[i], "--mcp") == 0 && i + 1 < argc) {
            mcp = argv[++i];
            continue;
        }
        if (strcmp(argv[i], "--relay") == 0 && i + 1 < argc) {
            const char *eq = strchr(argv[++i], '=');
            if (!eq) {
                fprintf(stderr, "sandbox-init: --relay wants LISTEN=TARGET\n");
                return 126;
            }
            strv_push_own(&listens, xstrndup(argv[i], (size_t)(eq - argv[i])));
            strv_push(&targets, eq + 1);
            continue;
        }
        fprintf(stderr, "sandbox-init: unknown argument '%s'\n", argv[i]);
        return 126;
    }
    if (i >= argc) {
        fprintf(stderr, "sandbox-init: no command after --\n");
        return 126;
    }
    int fds[2];
    if (pipe(fds) != 0) {
        perror("sandbox-init: pipe");
        return 126;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        perror("sandbox-init: fork");
        return 126;
    }
    if (pid == 0) {
        close(fds[0]);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(0);
        uv_loop_t *loop = uv_default_loop();
        for (size_t k = 0; k < listens.n; k++) {
            struct relay *r;
            int rc = relay_start(loop, listens.v[k], targets.v[k], &r);
            if (rc != 0) {
                dprintf(fds[1], "relay %s -> %s: %s", listens.v[k], targets.v[k], uv_strerror(rc));
                _exit(1);
            }
        }
        if (write(fds[1], "", 1) != 1)
            _exit(1);
        close(fds[1]);
        uv_run(loop, UV_RUN_DEFAULT);
        _exit(0);
    }
    close(fds[1]);
    char msg[256];
    ssize_t n = read(fds[0], msg, sizeof msg - 1);
    close(fds[0]);
    if (n != 1 || msg[0] != '\0') {
        msg[n > 0 ? n : 0] = '\0';
        fprintf(stderr, "sandbox-init: %s\n", n > 0 ? msg : "the relay did not start");
        return 126;
    }
    strv_free(&listens);
    strv_free(&targets);
    if (mcp)
        register_mcp(mcp);
    execvp(argv[i], argv + i);
    fprintf(stderr, "sandbox-init: cannot run %s: %s\n", argv[i], strerror(errno));
    return 127;
}

/* ---- the dashboard ---------------------------------------------------------------- */

static int cmd_dashboard(int argc, char **argv, const char *argv0)
{
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        fputs("bottle-tui: the dashboard needs a terminal; for scripts use 'bottle-tui up'\n",
              stderr);
        return 2;
    }
    /* The locale decides between UTF-8 and ASCII drawing. */
    setlocale(LC_ALL, "");
    char *self = self_exe(argv0);
    struct tui_app_opts o = {.self_bin = self, .proxy_bin = getenv("BOTTLE_PROXY")};
    const char *hist = getenv("BOTTLE_TUI_HISTORY");
    if (hist && atol(hist) > 0)
        o.req_history = (size_t)atol(hist);
    int rc = tui_app_run(argv, (size_t)argc, &o);
    free(self);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(usage, stdout);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("bottle-tui %s\n", BOTTLE_VERSION);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "check") == 0)
        return cmd_check(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "up") == 0)
        return cmd_up(argc - 1, argv + 1, argv[0]);
    if (argc > 1 && strcmp(argv[1], "sandbox-init") == 0)
        return cmd_sandbox_init(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "--detach-key") == 0) {
        char name[16];
        if (argc < 3 || tui_attach_parse_key(argv[2], name) < 0) {
            fprintf(stderr,
                    "bottle-tui: --detach-key wants a key such as ^], ^B, C-b, Ctrl-B or "
                    "0x02, got '%s'\n",
                    argc < 3 ? "" : argv[2]);
            return 2;
        }
        setenv("BOTTLE_DETACH_KEY", argv[2], 1);
        return cmd_dashboard(argc - 3, argv + 3, argv[0]);
    }
    if (argc > 1 && argv[1][0] == '-') {
        fprintf(stderr, "bottle-tui: unknown option '%s'\n", argv[1]);
        fputs(usage, stderr);
        return 2;
    }
    return cmd_dashboard(argc - 1, argv + 1, argv[0]);
}
