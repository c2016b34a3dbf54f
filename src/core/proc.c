/* proc: a child process whose stdout and stderr arrive line by line on the libuv loop. */
#include "core/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "core/util.h"

/* How long to wait for a pipe's EOF after the child exited: a grandchild
 * holding the pipe open must not hang the caller forever. */
#define PROC_EOF_GRACE_MS 2000

static void on_handle_closed(uv_handle_t *h)
{
    struct proc *p = h->data;
    if (--p->open_handles == 0) {
        free(p->linebuf[1]);
        free(p->linebuf[2]);
        free(p->stdin_copy);
        free(p);
    }
}

static void close_handle(struct proc *p, uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, on_handle_closed);
    (void)p;
}

static void flush_line(struct proc *p, int stream)
{
    if (p->linelen[stream] == 0)
        return;
    char *l = p->linebuf[stream];
    size_t n = p->linelen[stream];
    if (n && l[n - 1] == '\r')
        n--;
    l[n] = '\0';
    if (p->on_line)
        p->on_line(p, stream, l, n);
    p->linelen[stream] = 0;
}

static void maybe_done(struct proc *p)
{
    if (p->done || !p->exited || !(p->out_eof && p->err_eof))
        return;
    p->done = true;
    flush_line(p, 1);
    flush_line(p, 2);
    uv_timer_stop(&p->grace);
    if (p->on_done)
        p->on_done(p, p->exit_status, p->term_signal);
    close_handle(p, (uv_handle_t *)&p->process);
    close_handle(p, (uv_handle_t *)&p->out);
    close_handle(p, (uv_handle_t *)&p->err);
    if (p->have_stdin)
        close_handle(p, (uv_handle_t *)&p->in);
    close_handle(p, (uv_handle_t *)&p->grace);
    if (p->partial_timer_open)
        close_handle(p, (uv_handle_t *)&p->partial_timer);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char slab[65536]; /* single-threaded loop: one read at a time */
    (void)h;
    (void)suggested;
    *buf = uv_buf_init(slab, sizeof slab);
}

/* A terminal's output as lines: escape sequences (CSI, OSC, two-byte) are
 * dropped, "\r\n" ends a line, a lone '\r' starts it over (progress bars). */
enum { ESC_NONE, ESC_START, ESC_CSI, ESC_OSC, ESC_OSC_ESC };

static void pty_lines(struct proc *p, const char *d, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)d[i];
        switch (p->esc) {
        case ESC_START:
            p->esc = c == '[' ? ESC_CSI : c == ']' ? ESC_OSC : ESC_NONE;
            continue;
        case ESC_CSI:
            if (c >= 0x40 && c <= 0x7e)
                p->esc = ESC_NONE;
            continue;
        case ESC_OSC:
            if (c == 7)
                p->esc = ESC_NONE;
            else if (c == 0x1b)
                p->esc = ESC_OSC_ESC;
            continue;
        case ESC_OSC_ESC:
            p->esc = c == '\\' ? ESC_NONE : ESC_OSC;
            continue;
        default:
            break;
        }
        if (c == 0x1b) {
            p->esc = ESC_START;
            continue;
        }
        if (c == '\n') {
            p->cr = false;
            flush_line(p, 1);
            continue;
        }
        if (c == '\r') {
            p->cr = true;
            continue;
        }
        if (p->cr) {
            p->cr = false;
            p->linelen[1] = 0;
        }
        if (c == '\b') {
            if (p->linelen[1])
                p->linelen[1]--;
            continue;
        }
        if (c < 0x20 && c != '\t')
            continue;
        p->linebuf[1][p->linelen[1]++] = (char)c;
        if (p->linelen[1] == PROC_MAX_LINE)
            flush_line(p, 1);
    }
}

static void on_partial_timer(uv_timer_t *t)
{
    struct proc *p = t->data;
    size_t n = p->linelen[1];
    if (p->done || !n || p->cr)
        return;
    p->linebuf[1][n] = '\0'; /* the buffer has room; the next byte overwrites it */
    p->on_partial(p, p->linebuf[1], n);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct proc *p = s->data;
    int stream = s == (uv_stream_t *)&p->out ? 1 : 2;
    if (nread < 0) {
        uv_read_stop(s);
        if (stream == 1)
            p->out_eof = true;
        else
            p->err_eof = true;
        flush_line(p, stream);
        maybe_done(p);
        return;
    }
    if (p->master >= 0) {
        if (p->on_raw)
            p->on_raw(p, buf->base, (size_t)nread);
        pty_lines(p, buf->base, (size_t)nread);
        /* An unfinished line that then sits is likely a prompt: say so soon. */
        if (p->partial_timer_open) {
            if (p->linelen[1])
                uv_timer_start(&p->partial_timer, on_partial_timer, PROC_PARTIAL_MS, 0);
            else
                uv_timer_stop(&p->partial_timer);
        }
        return;
    }
    for (ssize_t i = 0; i < nread; i++) {
        char c = buf->base[i];
        if (c == '\n') {
            flush_line(p, stream);
            continue;
        }
        p->linebuf[stream][p->linelen[stream]++] = c;
        if (p->linelen[stream] == PROC_MAX_LINE)
            flush_line(p, stream);
    }
}

static void on_grace(uv_timer_t *t)
{
    struct proc *p = t->data;
    /* The child is gone but something still holds its pipes: stop waiting. */
    p->out_eof = p->err_eof = true;
    uv_read_stop((uv_stream_t *)&p->out);
    uv_read_stop((uv_stream_t *)&p->err);
    maybe_done(p);
}

static void on_child_exit(uv_process_t *h, int64_t status, int sig)
{
    struct proc *p = h->data;
    p->exited = true;
    p->exit_status = status;
    p->term_signal = sig;
    if (!(p->out_eof && p->err_eof))
        uv_timer_start(&p->grace, on_grace, PROC_EOF_GRACE_MS, 0);
    maybe_done(p);
}

static void on_stdin_written(uv_write_t *w, int status)
{
    struct proc *p = w->data;
    free(w);
    (void)status;
    /* Close stdin so the child sees EOF; the handle counts as closed then. */
    if (!p->done)
        close_handle(p, (uv_handle_t *)&p->in);
}

static int pty_open(struct proc *p, const struct proc_opts *o, int *slave)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0)
        return -errno;
    const char *name;
    if (grantpt(m) != 0 || unlockpt(m) != 0 || !(name = ptsname(m))) {
        int e = errno;
        close(m);
        return -e;
    }
    int s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (s < 0) {
        int e = errno;
        close(m);
        return -e;
    }
    struct winsize ws = {.ws_row = o->rows ? o->rows : 24, .ws_col = o->cols ? o->cols : 80};
    ioctl(m, TIOCSWINSZ, &ws);
    p->master = m;
    *slave = s;
    return 0;
}

int proc_spawn(uv_loop_t *loop, const struct proc_opts *o, struct proc **out)
{
    struct proc *p = xcalloc(1, sizeof *p);
    p->loop = loop;
    p->data = o->data;
    p->on_line = o->on_line;
    p->on_done = o->on_done;
    p->linebuf[1] = xmalloc(PROC_MAX_LINE + 1);
    p->linebuf[2] = xmalloc(PROC_MAX_LINE + 1);
    p->have_stdin = o->stdin_data != NULL;
    p->master = -1;
    int slave = -1;
    if (o->pty) {
        int rc = pty_open(p, o, &slave);
        if (rc != 0) {
            free(p->linebuf[1]);
            free(p->linebuf[2]);
            free(p);
            return rc;
        }
    }
    uv_pipe_init(loop, &p->out, 0);
    uv_pipe_init(loop, &p->err, 0);
    uv_timer_init(loop, &p->grace);
    p->out.data = p->err.data = p->grace.data = p->process.data = p;
    p->open_handles = 4; /* out, err, grace, process (after a successful spawn) */
    uv_stdio_container_t stdio[3];
    const char **args = (const char **)o->argv;
    if (o->pty) {
        /* util-linux's setsid: a new session whose controlling terminal is the pty. */
        size_t n = 0;
        while (o->argv[n])
            n++;
        args = xcalloc(n + 3, sizeof *args);
        args[0] = "setsid";
        args[1] = "--ctty";
        memcpy(args + 2, o->argv, n * sizeof *args);
        p->have_stdin = false;
        p->err_eof = true;
        p->on_raw = o->on_raw;
        for (int i = 0; i < 3; i++) {
            stdio[i].flags = UV_INHERIT_FD;
            stdio[i].data.fd = slave;
        }
    } else if (p->have_stdin) {
        uv_pipe_init(loop, &p->in, 0);
        p->in.data = p;
        p->open_handles++;
        stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
        stdio[0].data.stream = (uv_stream_t *)&p->in;
    } else {
        stdio[0].flags = UV_IGNORE;
    }
    if (!o->pty) {
        stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
        stdio[1].data.stream = (uv_stream_t *)&p->out;
        stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
        stdio[2].data.stream = (uv_stream_t *)&p->err;
    }
    uv_process_options_t po = {
        .exit_cb = on_child_exit,
        .file = args[0],
        .args = (char **)args,
        .env = (char **)o->env,
        .cwd = o->cwd,
        .stdio_count = 3,
        .stdio = stdio,
    };
    int rc = uv_spawn(loop, &p->process, &po);
    if (o->pty) {
        close(slave); /* the child has it; EOF (EIO) comes when its last holder exits */
        free(args);
        if (rc == 0)
            rc = uv_pipe_open(&p->out, p->master);
        if (rc != 0) {
            close(p->master);
            p->master = -1;
        }
    }
    if (rc != 0 && o->pty && p->process.pid) {
        /* Spawned, but the master cannot be watched: do not leave it running. */
        uv_process_kill(&p->process, SIGKILL);
    }
    if (rc != 0) {
        /* Nothing runs: close what we opened; the process handle too (libuv
         * requires closing it even after a failed spawn). */
        p->done = true;
        uv_close((uv_handle_t *)&p->process, on_handle_closed);
        uv_close((uv_handle_t *)&p->out, on_handle_closed);
        uv_close((uv_handle_t *)&p->err, on_handle_closed);
        uv_close((uv_handle_t *)&p->grace, on_handle_closed);
        if (p->have_stdin)
            uv_close((uv_handle_t *)&p->in, on_handle_closed);
        return rc;
    }
    if (o->pty && o->on_partial) {
        p->on_partial = o->on_partial;
        uv_timer_init(loop, &p->partial_timer);
        p->partial_timer.data = p;
        p->partial_timer_open = true;
        p->open_handles++;
    }
    uv_read_start((uv_stream_t *)&p->out, on_alloc, on_read);
    if (!o->pty)
        uv_read_start((uv_stream_t *)&p->err, on_alloc, on_read);
    if (p->have_stdin) {
        p->stdin_copy = xmalloc(o->stdin_len + 1);
        memcpy(p->stdin_copy, o->stdin_data, o->stdin_len);
        uv_write_t *w = xmalloc(sizeof *w);
        w->data = p;
        uv_buf_t b = uv_buf_init(p->stdin_copy, (unsigned)o->stdin_len);
        if (uv_write(w, (uv_stream_t *)&p->in, &b, 1, on_stdin_written) != 0) {
            free(w);
            close_handle(p, (uv_handle_t *)&p->in);
        }
    }
    *out = p;
    return 0;
}

int proc_kill(struct proc *p, int sig)
{
    if (p->exited)
        return 0;
    return uv_process_kill(&p->process, sig);
}

pid_t proc_pid(const struct proc *p)
{
    return p->process.pid;
}

static void on_pty_written(uv_write_t *w, int status)
{
    (void)status;
    free(w->data);
    free(w);
}

int proc_write(struct proc *p, const char *data, size_t len)
{
    if (p->master < 0 || p->done || p->out_eof)
        return -EPIPE;
    uv_write_t *w = xmalloc(sizeof *w);
    char *copy = xmalloc(len ? len : 1);
    memcpy(copy, data, len);
    w->data = copy;
    uv_buf_t b = uv_buf_init(copy, (unsigned)len);
    int rc = uv_write(w, (uv_stream_t *)&p->out, &b, 1, on_pty_written);
    if (rc != 0) {
        free(copy);
        free(w);
    }
    return rc;
}

int proc_resize(struct proc *p, unsigned short rows, unsigned short cols)
{
    if (p->master < 0 || p->done)
        return -EPIPE;
    struct winsize ws = {.ws_row = rows, .ws_col = cols};
    return ioctl(p->master, TIOCSWINSZ, &ws) == 0 ? 0 : -errno;
}

/* ---- run to the end, output collected ------------------------------------------- */

struct collect {
    struct buf out;
    proc_collect_cb cb;
    void *arg;
};

static void on_collect_line(struct proc *p, int stream, const char *line, size_t len)
{
    struct collect *c = p->data;
    (void)stream;
    if (c->out.len + len + 1 <= c->out.max) {
        buf_append(&c->out, line, len);
        buf_append(&c->out, "\n", 1);
    }
}

static void on_collect_done(struct proc *p, int64_t status, int sig)
{
    struct collect *c = p->data;
    c->cb(c->arg, sig ? 128 + sig : (int)status, c->out.p ? c->out.p : "");
    buf_free(&c->out);
    free(c);
}

int proc_collect(uv_loop_t *loop, const char *const *argv, const char *cwd, size_t max,
                 proc_collect_cb cb, void *arg)
{
    struct collect *c = xcalloc(1, sizeof *c);
    buf_init(&c->out, max + 1);
    c->cb = cb;
    c->arg = arg;
    struct proc_opts o = {.argv = argv,
                          .cwd = cwd,
                          .on_line = on_collect_line,
                          .on_done = on_collect_done,
                          .data = c};
    struct proc *p;
    int rc = proc_spawn(loop, &o, &p);
    if (rc != 0) {
        buf_free(&c->out);
        free(c);
    }
    return rc;
}
