/* tui_panel_help: the help overlay listing every key. */
#include <stdio.h>
#include <string.h>

#include "tui/tui_panel.h"

/* The one list of keys: the overlay shows it, and a unit test checks that
 * every key the dashboard answers is in CODES here. */
static const struct {
    const char *keys, *what;
    int codes[6]; /* 0-terminated */
} keys[] = {
    {"n, Enter", "launch the selected stopped bottle (asks y/N)", {'n', '\r', '\n', KEY_ENTER}},
    {"r", "restart the selected bottle (asks y/N)", {'r'}},
    {"k", "kill the selected bottle (asks y/N)", {'k'}},
    {"q", "quit; running bottles are killed (asks y/N)", {'q', 'Q'}},
    {"Tab, S-Tab", "move focus between panels", {'\t', KEY_BTAB}},
    {"Up, Down", "select a bottle or step; scroll requests", {KEY_UP, KEY_DOWN}},
    {"PgUp, PgDn", "scroll the focused panel", {KEY_PPAGE, KEY_NPAGE}},
    {"Home, End, G", "oldest / newest (End, G resume following)", {KEY_HOME, KEY_END, 'G'}},
    {"Enter, e, Spc", "expand or collapse the selected step", {'\r', '\n', KEY_ENTER, 'e', ' '}},
    {"/", "filter requests (Enter keeps it, Esc clears)", {'/'}},
    {"b", "show blocked requests only (toggle)", {'b'}},
    {"f", "follow the newest requests, or pause", {'f'}},
    {"c", "show the command log instead of requests", {'c'}},
    {"s", "the agent's session, live", {'s'}},
    {"a", "attach; Ctrl-] detaches", {'a'}},
    {"i", "type a line to the agent", {'i'}},
    {"p, g", "approvals (again: with history) / gate pushes", {'p', 'g'}},
    {"y, S, d", "answer (or Enter)/approve, +save, deny; y, S: allow blocked", {'y', 'S', 'd'}},
    {"l, Enter", "gate: the push's log, then bring it in (y/N)", {'l', '\r', '\n', KEY_ENTER}},
    {"Esc", "clear the filter; close this help", {27}},
    {"Ctrl-L", "redraw the screen", {12}},
    {"?, F1", "this help", {'?', KEY_F(1)}},
    {"mouse", "click selects and focuses; the wheel scrolls", {KEY_MOUSE}},
};

bool tui_help_lists_key(int key)
{
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        for (size_t k = 0; k < sizeof keys[i].codes / sizeof *keys[i].codes && keys[i].codes[k];
             k++)
            if (keys[i].codes[k] == key)
                return true;
    return false;
}

static void help_draw(struct tui_panel *p, struct tui_view *v)
{
    const struct tui_screen *s = v->scr;
    int n = (int)(sizeof keys / sizeof *keys);
    int w = 64, h = n + 5;
    if (w > s->cols - 2)
        w = s->cols - 2;
    if (h > s->rows - 2)
        h = s->rows - 2;
    int y = (s->rows - h) / 2, x = (s->cols - w) / 2;
    p->r = (struct tui_rect){y, x, h, w};
    for (int i = 0; i < h; i++)
        tui_fill(s, v->w, y + i, x, w, A_NORMAL, " ");
    tui_box(s, v->w, y, x, h, w, "Help: keys", true);
    /* Two columns when one does not fit the height (80x24 with every key). */
    int avail = h - 4, ncol = avail > 0 && n > avail ? 2 : 1;
    if (ncol == 2) {
        w = s->cols - 2;
        x = 1;
        p->r = (struct tui_rect){y, x, h, w};
        for (int i = 0; i < h; i++)
            tui_fill(s, v->w, y + i, x, w, A_NORMAL, " ");
        tui_box(s, v->w, y, x, h, w, "Help: keys", true);
    }
    int per = (n + ncol - 1) / ncol, cw = (w - 4) / ncol;
    for (int i = 0; i < n; i++) {
        int col = i / per, row = y + 1 + i % per, cx = x + 2 + col * cw;
        if (row >= y + h - 3)
            continue;
        char k[16];
        snprintf(k, sizeof k, "%-14s", keys[i].keys);
        int used = tui_put(s, v->w, row, cx, cw - 1, tui_attr(s, TUI_R_KEY), k);
        tui_put(s, v->w, row, cx + used, cw - 1 - used, A_NORMAL, keys[i].what);
    }
    char legend[128];
    snprintf(legend, sizeof legend, "%s credential rewritten by egress   %s hop up  %s hop down",
             tui_glyph(s, TUI_G_AUTH), tui_glyph(s, TUI_G_UP), tui_glyph(s, TUI_G_DOWN));
    tui_put(s, v->w, y + h - 3, x + 2, w - 4, tui_attr(s, TUI_R_DIM), legend);
    tui_put(s, v->w, y + h - 2, x + 2, w - 4, tui_attr(s, TUI_R_DIM), "any key closes this help");
}

static const struct tui_panel_ops help_ops = {
    .name = "help",
    .draw = help_draw,
    .resize = tui_panel_resize_default,
    .free = tui_panel_free_default,
};

struct tui_panel *tui_panel_help_new(void)
{
    return tui_panel_new(&help_ops);
}
