/* tui_view: the dashboard's layout, whole-screen drawing, key and mouse dispatch and y/N prompts. */
#ifndef BOTTLE_TUI_VIEW_H
#define BOTTLE_TUI_VIEW_H

#include "tui/tui_panel.h"

void tui_view_init(struct tui_view *v, struct tui_screen *s, struct tui_model *m);
void tui_view_free(struct tui_view *v);
/* Place the panels for the screen's current size. */
void tui_view_layout(struct tui_view *v);
/* Draw everything into stdscr from the model (nothing is written to the
 * terminal; the caller refreshes). NOW_MS is the monotonic clock. */
void tui_view_draw(struct tui_view *v, uint64_t now_ms);
/* One key. Returns TUI_* flags; when the operator confirmed an action,
 * *ACT and *IDX (the bottle) say which, else *ACT is TUI_ACT_NONE. */
int tui_view_key(struct tui_view *v, int key, enum tui_action *act, size_t *idx);
/* One mouse event at screen Y, X. */
int tui_view_mouse(struct tui_view *v, int y, int x, unsigned long bstate);
/* A one-line message in the status bar until the next key. */
void tui_view_message(struct tui_view *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
