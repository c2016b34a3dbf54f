/* tui_attach: the operator's terminal handed to an agent's pty and back: raw keys in, the
 * agent's output out, resizes passed through, a detach key. */
#ifndef BOTTLE_TUI_ATTACH_H
#define BOTTLE_TUI_ATTACH_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

struct bottle;

/* The detach key when BOTTLE_DETACH_KEY does not name another: Ctrl-]. */
#define TUI_ATTACH_KEY_DEFAULT 0x1d
/* How much of an agent's recent raw output is kept to repaint on attach. */
#define TUI_TAIL_MAX 16384

/* The last TUI_TAIL_MAX bytes of an agent's terminal output. */
struct tui_tail {
    char *p;
    size_t len;
    bool cut; /* older output was dropped: the tail may start mid-line */
};
void tui_tail_append(struct tui_tail *t, const char *data, size_t len);
void tui_tail_clear(struct tui_tail *t);

struct tui_attach;
/* The operator pressed the detach key, or the terminal closed (WHY says
 * which). The callee calls tui_attach_stop. */
typedef void (*tui_attach_detach_cb)(struct tui_attach *t, const char *why);

struct tui_attach {
    void *data; /* the caller's */
    uv_loop_t *loop;
    struct bottle *b; /* attached to, or NULL */
    uv_tty_t *in;     /* the operator's keys, raw; freed in its close callback */
    int key;          /* the detach key (one byte) */
    char key_name[16];
    tui_attach_detach_cb on_detach;
    unsigned long long bytes_in, bytes_out;
    char buf[4096]; /* one read of keys, consumed before the next */
};

/* Parses a key name: "^]", "C-]", "Ctrl-]" (any letter or @[\]^_), or
 * "0x1d". Returns the byte, or -1. NAME gets its display form ("Ctrl-]"). */
int tui_attach_parse_key(const char *spec, char name[16]);

/* Reads BOTTLE_DETACH_KEY (unset or empty: Ctrl-]). Returns 0, or -1 when
 * the variable does not name a key (the default is used). */
int tui_attach_init(struct tui_attach *t, uv_loop_t *loop, tui_attach_detach_cb on_detach);

/* Hand the terminal to B's agent. Curses must be suspended already. Puts
 * stdin in raw mode on the loop, clears the screen, prints a one-line
 * banner, replays TAIL (terminal queries removed) and resizes the agent's
 * pty to the terminal, which prompts a full-screen agent to redraw.
 * Returns 0 or a negative error (nothing changed). */
int tui_attach_start(struct tui_attach *t, struct bottle *b, const struct tui_tail *tail);
/* Give the terminal back: stdin leaves raw mode, the modes an agent may
 * have set (mouse, bracketed paste, alternate screen, hidden cursor) are
 * reset. The caller resumes curses. Idempotent. */
void tui_attach_stop(struct tui_attach *t);
/* Raw output of bottle B: written to the terminal when attached to B. */
void tui_attach_output(struct tui_attach *t, struct bottle *b, const char *data, size_t len);
/* The terminal changed size: the agent's pty follows. */
void tui_attach_winch(struct tui_attach *t);

#endif
