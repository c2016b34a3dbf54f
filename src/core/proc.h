/* proc: a child process whose stdout and stderr arrive line by line on the libuv loop. */
#ifndef BOTTLE_CORE_PROC_H
#define BOTTLE_CORE_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <uv.h>

#define PROC_MAX_LINE 65536 /* a longer line is delivered in pieces of this size */
#define PROC_PARTIAL_MS 250 /* pty: an unfinished line this old is reported */

struct proc;

/* STREAM is 1 (stdout) or 2 (stderr); LINE has no newline and is NUL-terminated. */
typedef void (*proc_line_cb)(struct proc *p, int stream, const char *line, size_t len);
/* Called once, after the exit and both streams' EOF (or a grace period after
 * the exit, when a grandchild keeps a pipe open). After it returns, P is
 * released; do not touch it again. */
typedef void (*proc_done_cb)(struct proc *p, int64_t exit_status, int term_signal);

struct proc_opts {
    const char *const *argv; /* argv[0] is looked up in PATH */
    const char *const *env;  /* NULL: inherit */
    const char *cwd;         /* NULL: inherit */
    const char *stdin_data;  /* written then closed; NULL: /dev/null */
    size_t stdin_len;
    proc_line_cb on_line;
    proc_done_cb on_done;
    void *data;
    /* Run under a new pseudo-terminal (its controlling terminal, in a new
     * session) of ROWS x COLS: stdin, stdout and stderr are the pty; output
     * arrives as stream 1, with terminal escapes removed from the lines and
     * raw through ON_RAW; proc_write types into it. STDIN_DATA is ignored. */
    bool pty;
    unsigned short rows, cols;
    void (*on_raw)(struct proc *p, const char *data, size_t len);
    /* pty: an unfinished last line (a prompt) that has sat for
     * PROC_PARTIAL_MS; it comes again whole, through on_line, when it ends. */
    void (*on_partial)(struct proc *p, const char *line, size_t len);
};

struct proc {
    void *data; /* the caller's, from opts.data */
    /* private */
    uv_loop_t *loop;
    uv_process_t process;
    uv_pipe_t out, err, in;
    uv_timer_t grace;
    char *linebuf[3];
    size_t linelen[3];
    int open_handles;
    bool exited, out_eof, err_eof, done, have_stdin;
    int64_t exit_status;
    int term_signal;
    proc_line_cb on_line;
    proc_done_cb on_done;
    char *stdin_copy;
    int master; /* the pty's master side, or -1 */
    int esc;    /* pty: where in a terminal escape sequence the output is */
    bool cr;    /* pty: a '\r' not yet followed by '\n' */
    void (*on_raw)(struct proc *p, const char *data, size_t len);
    void (*on_partial)(struct proc *p, const char *line, size_t len);
    uv_timer_t partial_timer;
    bool partial_timer_open;
};

/* Spawn. Returns 0 and sets *OUT, or a negative libuv error (nothing left
 * running, no callback will come). */
int proc_spawn(uv_loop_t *loop, const struct proc_opts *o, struct proc **out);
/* Send SIG to the child (no-op once it has exited). */
int proc_kill(struct proc *p, int sig);
pid_t proc_pid(const struct proc *p);
/* A pty child: type DATA into its terminal (copied). Returns 0 or a negative error. */
int proc_write(struct proc *p, const char *data, size_t len);
/* A pty child: its terminal's new size (the child gets SIGWINCH). */
int proc_resize(struct proc *p, unsigned short rows, unsigned short cols);

/* Run ARGV (in CWD, NULL: ours) to its end and hand CB the exit status
 * (128+signal when killed) and its stdout and stderr interleaved as lines
 * (bounded to MAX bytes; the rest is dropped). Returns 0, or a negative libuv
 * error (then CB never runs). */
typedef void (*proc_collect_cb)(void *arg, int status, const char *output);
int proc_collect(uv_loop_t *loop, const char *const *argv, const char *cwd, size_t max,
                 proc_collect_cb cb, void *arg);

#endif
