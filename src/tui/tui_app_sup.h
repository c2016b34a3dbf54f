/* tui_app_sup: the dashboard's operator actions on supervise calls, blocked hosts and gate pushes
 * (the runtime side of the approvals, requests and gate panes). */
#ifndef BOTTLE_TUI_APP_SUP_H
#define BOTTLE_TUI_APP_SUP_H

#include <stdbool.h>

#include <uv.h>

#include "core/bottle.h"
#include "gate/bringin.h"
#include "tui/tui_panel.h"

/* One push of a bottle's gate, while its log is read and it is brought in. */
struct push_req {
    struct tui_app_sup *c;
    struct gate_pushed p;
    struct tui_bottle *mb;
    size_t idx; /* into mb->sup.pushes */
};

struct tui_app_sup {
    uv_loop_t *loop;
    struct tui_view *view;
    /* The screen needs drawing (an answer came back). */
    void (*redraw)(void *data);
    void *data;
    /* The push whose log is on screen, waiting for y to bring it in (or NULL). */
    struct push_req *shown;
    int inflight; /* git commands and allowlist changes still running */
};

/* Perform ACT (one of the approval, allow and gate actions) for bottle MB,
 * whose runtime is B (NULL when it is not running). Results arrive as view
 * messages, push notes and the log overlay. Returns false when ACT is not one
 * of these. */
bool tui_app_sup_perform(struct tui_app_sup *c, enum tui_action act, struct bottle *b,
                         struct tui_bottle *mb);
void tui_app_sup_free(struct tui_app_sup *c);

#endif
