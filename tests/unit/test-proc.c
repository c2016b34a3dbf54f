/* test-proc: child processes with line-by-line output, exit and EOF both awaited. */
#include "test.h"

#include "core/proc.h"
#include "core/util.h"

struct result {
    struct buf out, err;
    int64_t status;
    int sig;
    int done;
    size_t longest;
};

static void on_line(struct proc *p, int stream, const char *line, size_t len)
{
    struct result *r = p->data;
    struct buf *b = stream == 1 ? &r->out : &r->err;
    buf_append(b, line, len);
    buf_append(b, "|", 1);
    if (len > r->longest)
        r->longest = len;
}

static void on_done(struct proc *p, int64_t status, int sig)
{
    struct result *r = p->data;
    r->status = status;
    r->sig = sig;
    r->done++;
}

static void run(const char *const *argv, const char *in, struct result *r)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    memset(r, 0, sizeof *r);
    struct proc_opts o = {.argv = argv,
                          .on_line = on_line,
                          .on_done = on_done,
                          .data = r,
                          .stdin_data = in,
                          .stdin_len = in ? strlen(in) : 0};
    struct proc *p;
    CHECK_INT(proc_spawn(&loop, &o, &p), 0);
    CHECK(proc_pid(p) > 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_INT(uv_loop_close(&loop), 0); /* every handle closed */
}

static void lines_and_status(void)
{
    struct result r;
    const char *argv[] = {"sh", "-c", "echo one; echo two >&2; echo three; printf last; exit 3",
                          NULL};
    run(argv, NULL, &r);
    CHECK_INT(r.done, 1);
    CHECK_INT(r.status, 3);
    CHECK_STR(r.out.p, "one|three|last|");
    CHECK_STR(r.err.p, "two|");
    buf_free(&r.out);
    buf_free(&r.err);
}

static void stdin_fed(void)
{
    struct result r;
    const char *argv[] = {"cat", NULL};
    run(argv, "a\r\nb\n", &r);
    CHECK_STR(r.out.p, "a|b|");
    CHECK_INT(r.status, 0);
    buf_free(&r.out);
}

static void grandchild_holding_pipe(void)
{
    struct result r;
    const char *argv[] = {"sh", "-c", "sleep 30.123 & echo started", NULL};
    uint64_t t0 = time_mono_ms();
    run(argv, NULL, &r);
    CHECK_INT(r.done, 1);
    CHECK_STR(r.out.p, "started|");
    CHECK(time_mono_ms() - t0 < 10000); /* the grace period, not the sleep */
    buf_free(&r.out);
    CHECK(system("pkill -f 'sleep 30.123' >/dev/null 2>&1 || true") >= 0);
}

static void long_line_split(void)
{
    struct result r;
    const char *argv[] = {"sh", "-c", "head -c 200000 /dev/zero | tr '\\0' x; echo", NULL};
    run(argv, NULL, &r);
    CHECK_INT(r.longest, PROC_MAX_LINE);
    CHECK_INT(r.out.len, 200000 + 4); /* four pieces, each with its '|' */
    buf_free(&r.out);
}

static void killed(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct result r = {0};
    const char *argv[] = {"sleep", "30", NULL};
    struct proc_opts o = {.argv = argv, .on_line = on_line, .on_done = on_done, .data = &r};
    struct proc *p;
    CHECK_INT(proc_spawn(&loop, &o, &p), 0);
    CHECK_INT(proc_kill(p, SIGTERM), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_INT(r.done, 1);
    CHECK_INT(r.sig, SIGTERM);
    CHECK_INT(uv_loop_close(&loop), 0);
}

static void spawn_failure(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct result r = {0};
    const char *argv[] = {"/nonexistent/program", NULL};
    struct proc_opts o = {.argv = argv, .on_done = on_done, .data = &r};
    struct proc *p = NULL;
    CHECK(proc_spawn(&loop, &o, &p) < 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_INT(r.done, 0); /* an error return never calls back */
    CHECK_INT(uv_loop_close(&loop), 0);
}

/* Under a pty: a terminal for stdin and stdout, escapes gone from the lines,
 * raw bytes kept, typed input and a resize reach the child. */
struct ptyres {
    struct result r;
    struct buf raw;
    struct proc *p;
    bool typed;
};

static void on_pty_raw(struct proc *p, const char *d, size_t n)
{
    struct ptyres *x = p->data;
    buf_append(&x->raw, d, n);
    if (!x->typed && strstr(x->raw.p, "ready")) {
        x->typed = true;
        CHECK_INT(proc_resize(p, 33, 99), 0);
        CHECK_INT(proc_write(p, "hello\n", 6), 0);
    }
}

static void on_pty_line(struct proc *p, int stream, const char *line, size_t len)
{
    struct ptyres *x = p->data;
    CHECK_INT(stream, 1);
    buf_append(&x->r.out, line, len);
    buf_append(&x->r.out, "|", 1);
}

static void on_pty_done(struct proc *p, int64_t status, int sig)
{
    struct ptyres *x = p->data;
    x->r.status = status;
    x->r.sig = sig;
    x->r.done++;
}

static void pty_child(void)
{
    struct ptyres x;
    memset(&x, 0, sizeof x);
    buf_init(&x.raw, 0);
    uv_loop_t loop;
    uv_loop_init(&loop);
    const char *argv[] = {"sh", "-c",
                          "[ -t 0 ] && [ -t 1 ] && echo tty; stty size; "
                          "printf 'a\\033[1mb\\033[0m\\033]0;title\\007c\\r\\n'; "
                          "printf '10%%\\r20%%\\r\\n'; echo ready; read x; stty size; echo got $x; "
                          "echo err >&2; exit 4",
                          NULL};
    struct proc_opts o = {.argv = argv,
                          .on_line = on_pty_line,
                          .on_done = on_pty_done,
                          .on_raw = on_pty_raw,
                          .data = &x,
                          .pty = true,
                          .rows = 30,
                          .cols = 100};
    CHECK_INT(proc_spawn(&loop, &o, &x.p), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_INT(uv_loop_close(&loop), 0);
    CHECK_INT(x.r.done, 1);
    CHECK_INT(x.r.status, 4);
    /* the echo of the typed line comes from the terminal itself */
    CHECK_STR(x.r.out.p, "tty|30 100|abc|20%|ready|hello|33 99|got hello|err|");
    CHECK(strstr(x.raw.p, "\033[1m")); /* the raw stream keeps the escapes */
    CHECK(strstr(x.raw.p, "\r\n"));
    buf_free(&x.raw);
    buf_free(&x.r.out);
}

/* A prompt without a newline is reported as a partial line once it sits;
 * answered, the whole line comes as usual. */
struct promptres {
    struct buf lines, partials;
    int done;
};

static void on_prompt_partial(struct proc *p, const char *line, size_t len)
{
    struct promptres *x = p->data;
    buf_append(&x->partials, line, len);
    buf_append(&x->partials, "|", 1);
    CHECK_INT(proc_write(p, "y\n", 2), 0);
}

static void on_prompt_line(struct proc *p, int stream, const char *line, size_t len)
{
    struct promptres *x = p->data;
    (void)stream;
    buf_append(&x->lines, line, len);
    buf_append(&x->lines, "|", 1);
}

static void on_prompt_done(struct proc *p, int64_t status, int sig)
{
    struct promptres *x = p->data;
    (void)status;
    (void)sig;
    x->done++;
}

static void pty_prompt(void)
{
    struct promptres x;
    memset(&x, 0, sizeof x);
    uv_loop_t loop;
    uv_loop_init(&loop);
    const char *argv[] = {"sh", "-c", "printf 'Continue? [y/N] '; read a; echo answer=$a", NULL};
    struct proc_opts o = {.argv = argv,
                          .on_line = on_prompt_line,
                          .on_done = on_prompt_done,
                          .on_partial = on_prompt_partial,
                          .data = &x,
                          .pty = true};
    struct proc *p;
    CHECK_INT(proc_spawn(&loop, &o, &p), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_INT(uv_loop_close(&loop), 0);
    CHECK_INT(x.done, 1);
    CHECK_STR(x.partials.p, "Continue? [y/N] |");
    CHECK_STR(x.lines.p, "Continue? [y/N] y|answer=y|");
    buf_free(&x.lines);
    buf_free(&x.partials);
}

TEST_MAIN(T(pty_prompt), T(pty_child), T(lines_and_status), T(stdin_fed),
          T(grandchild_holding_pipe), T(long_line_split), T(killed), T(spawn_failure))
