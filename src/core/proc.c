/* proc: a child process whose stdout and stderr arrive line by line on the libuv loop. */
#include "core/proc.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

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
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char slab[65536]; /* single-threaded loop: one read at a time */
    (void)h;
    (void)suggested;
    *buf = uv_buf_init(slab, sizeof slab);
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
    uv_pipe_init(loop, &p->out, 0);
    uv_pipe_init(loop, &p->err, 0);
    uv_timer_init(loop, &p->grace);
    p->out.data = p->err.data = p->grace.data = p->process.data = p;
    p->open_handles = 4; /* out, err, grace, process (after a successful spawn) */
    uv_stdio_container_t stdio[3];
    if (p->have_stdin) {
        uv_pipe_init(loop, &p->in, 0);
        p->in.data = p;
        p->open_handles++;
        stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
        stdio[0].data.stream = (uv_stream_t *)&p->in;
    } else {
        stdio[0].flags = UV_IGNORE;
    }
    stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[1].data.stream = (uv_stream_t *)&p->out;
    stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[2].data.stream = (uv_stream_t *)&p->err;
    uv_process_options_t po = {
        .exit_cb = on_child_exit,
        .file = o->argv[0],
        .args = (char **)o->argv,
        .env = (char **)o->env,
        .cwd = o->cwd,
        .stdio_count = 3,
        .stdio = stdio,
    };
    int rc = uv_spawn(loop, &p->process, &po);
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
    uv_read_start((uv_stream_t *)&p->out, on_alloc, on_read);
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
