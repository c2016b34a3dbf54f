/* tui_panel: the panel interface (a vtable, as htop's panels) and the view state the panels read.
 */
#ifndef BOTTLE_TUI_PANEL_H
#define BOTTLE_TUI_PANEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tui/tui_model.h"
#include "tui/tui_screen.h"

/* What a key or mouse handler did. */
enum { TUI_HANDLED = 1, TUI_REDRAW = 2, TUI_QUIT = 4 };

struct tui_rect {
    int y, x, h, w;
};

struct tui_view;
struct tui_panel;

struct tui_panel_ops {
    const char *name;
    /* Draw into the panel's rect of the view's window, reading the model only. */
    void (*draw)(struct tui_panel *p, struct tui_view *v);
    /* Returns TUI_* flags; 0 when the key is not the panel's. */
    int (*key)(struct tui_panel *p, struct tui_view *v, int key);
    /* Y, X relative to the panel's rect. */
    int (*mouse)(struct tui_panel *p, struct tui_view *v, int y, int x, unsigned long bstate);
    void (*resize)(struct tui_panel *p, struct tui_rect r);
    void (*free)(struct tui_panel *p);
};

struct tui_panel {
    const struct tui_panel_ops *ops;
    struct tui_rect r;
    int scroll;       /* first line shown (lists), or lines up from the end (logs) */
    int cursor;       /* the selected item */
    bool follow;      /* logs: stay at the newest entry */
    uint64_t anchor;  /* requests while paused: the sequence number of the last row shown */
    const void *seen; /* steps: the failure last jumped to */
};

enum tui_panel_id {
    TUI_P_BOTTLES,
    TUI_P_STEPS,
    TUI_P_CHAIN,
    TUI_P_REQUESTS,
    TUI_P_CMDLOG,
    TUI_P_HELP,
    TUI_P_APPROVALS, /* pending supervise calls; a strip over the lower right while any wait */
    TUI_P_GATE,      /* pushed refs (g) */
    TUI_P_GATELOG,   /* overlay: a push's commits before bringing it in */
    TUI_P_SESSION,   /* the agent's output for the selected bottle (s) */
    TUI_P_COUNT
};

enum tui_action {
    TUI_ACT_NONE,
    TUI_ACT_LAUNCH,
    TUI_ACT_RESTART,
    TUI_ACT_KILL,
    TUI_ACT_QUIT,
    /* supervise calls: the view's act_id names the call; ANSWER sends v->input */
    TUI_ACT_ANSWER,
    TUI_ACT_APPROVE,
    TUI_ACT_APPROVE_SAVE,
    TUI_ACT_DENY,
    /* a blocked request's host (v->act_arg) joins the live allowlist */
    TUI_ACT_ALLOW_HOST,
    TUI_ACT_ALLOW_HOST_SAVE,
    /* gate: show push v->act_idx's log, then bring it in */
    TUI_ACT_GATE_LOG,
    TUI_ACT_BRING_IN,
    /* the agent's terminal (tui_attach.c): take it over (a), or type v->input plus CR (i) */
    TUI_ACT_ATTACH,
    TUI_ACT_SEND,
};
enum tui_prompt { TUI_PROMPT_NONE, TUI_PROMPT_CONFIRM, TUI_PROMPT_FILTER, TUI_PROMPT_INPUT };

/* Everything the panels share: the model (read-only to them), the screen,
 * which bottle is selected, and the requests filter. */
struct tui_view {
    struct tui_screen *scr;
    struct tui_model *m;
    WINDOW *w;
    struct tui_panel *p[TUI_P_COUNT];
    enum tui_panel_id focus;
    size_t sel;
    bool show_cmdlog, show_help;
    char filter[128];
    bool blocked_only;
    enum tui_prompt prompt;
    enum tui_action pending;
    size_t pending_bottle;
    char prompt_text[256];
    char msg[256];
    uint64_t now_ms;
    /* Approvals and gate (tui_panel_approvals.c, tui_panel_gate.c). */
    bool show_approvals, show_gate;
    bool show_session; /* the session pane holds the lower area (tui_panel_session.c) */
    char act_id[32];   /* the supervise call an action is for */
    char act_arg[256]; /* the host an allow action is for */
    size_t act_idx;    /* the push a gate action is for */
    char input[512];   /* TUI_PROMPT_INPUT: the typed answer */
    char input_label[96];
    char *overlay_title, *overlay_text; /* TUI_P_GATELOG's content (owned; NULL: hidden) */
    /* a panel's key asks for an action with no y/N (tui_view_key returns it) */
    enum tui_action fire;
    struct tui_rect lower; /* the lower right area (requests, commands, gate, approvals) */
};

/* The selected bottle, or NULL when there is none. */
struct tui_bottle *tui_view_bottle(const struct tui_view *v);

/* Generic panel helpers. */
struct tui_panel *tui_panel_new(const struct tui_panel_ops *ops);
void tui_panel_resize_default(struct tui_panel *p, struct tui_rect r);
void tui_panel_free_default(struct tui_panel *p);
bool tui_panel_contains(const struct tui_panel *p, int y, int x);
/* A list panel's mouse: the wheel acts as Up/Down through the panel's key
 * handler (*RET gets its result); a click on panel row Y, with HEADER rows
 * above the first of N items, returns that item's index (*RET: handled,
 * redraw). Returns -1 when no item was clicked. */
long tui_panel_list_mouse(struct tui_panel *p, struct tui_view *v, int y, unsigned long bstate,
                          int header, size_t n, int *ret);
/* "12ms", "1.2s", "3m04s" */
void tui_fmt_ms(char *out, size_t n, long ms);
/* "12s", "3m04s", "1h02m", "2d03h" */
void tui_fmt_uptime(char *out, size_t n, uint64_t ms);
enum tui_role tui_state_role(enum tui_state s);
/* Whether request Q passes the view's filter and blocked-only toggle. */
bool tui_req_visible(const struct tui_view *v, const struct tui_req *q);

struct tui_panel *tui_panel_bottles_new(void);
struct tui_panel *tui_panel_steps_new(void);
struct tui_panel *tui_panel_chain_new(void);
struct tui_panel *tui_panel_requests_new(void);
struct tui_panel *tui_panel_cmdlog_new(void);
struct tui_panel *tui_panel_help_new(void);
/* The session pane, and its keys for tui_view_key: tui_session_key before
 * the view's own (f while the session shows; c, g, / make it give way),
 * tui_session_key_top when no pane had a use for the key (s shows the
 * session, a attaches, i types a line). Each returns TUI_* flags and may
 * set *ACT and *IDX. */
struct tui_panel *tui_panel_session_new(void);
int tui_session_key(struct tui_view *v, int key, enum tui_action *act, size_t *idx);
int tui_session_key_top(struct tui_view *v, int key, enum tui_action *act, size_t *idx);
struct tui_panel *tui_panel_approvals_new(void);
struct tui_panel *tui_panel_gate_new(void);
struct tui_panel *tui_panel_gatelog_new(void);
/* Approvals and gate glue for the view (tui_panel_approvals.c).
 * Pending calls in the whole model. */
size_t tui_approvals_pending_total(const struct tui_view *v);
/* Whether the approvals pane is on screen (something pending, or shown with p). */
bool tui_approvals_visible(const struct tui_view *v);
/* The requests pane's selected request (paused: the last row shown; following: the newest
 * blocked one), or NULL. */
const struct tui_req *tui_requests_selected(const struct tui_view *v);
/* Ask y/N for ACT (the view's confirm prompt). */
void tui_view_confirm(struct tui_view *v, enum tui_action act, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Start a typed-line prompt (Enter: ACT, Esc: cancel). */
void tui_view_input(struct tui_view *v, enum tui_action act, const char *label);
/* Show (takes TEXT) or hide (NULL) the log overlay. */
void tui_view_overlay(struct tui_view *v, const char *title, char *text);
/* Whether the help overlay lists KEY (a curses key code). */
bool tui_help_lists_key(int key);

#endif
