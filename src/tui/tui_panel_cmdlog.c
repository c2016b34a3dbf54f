/* tui_panel_cmdlog: the log of every external command the supervisor ran for the selected bottle. */
#include <stdio.h>

#include "tui/tui_panel.h"

static void cmdlog_draw(struct tui_panel *p, struct tui_view *v)
{
    const struct tui_screen *s = v->scr;
    struct tui_rect r = p->r;
    const struct tui_bottle *b = tui_view_bottle(v);
    char title[96];
    snprintf(title, sizeof title, "Commands %s", p->scroll ? "[paused]" : "[following]");
    tui_box(s, v->w, r.y, r.x, r.h, r.w, title, v->focus == TUI_P_CMDLOG);
    int W = r.w - 2, rows = r.h - 2;
    if (!b || W < 8 || rows < 1)
        return;
    int n = (int)b->ncmds;
    if (p->scroll > n - rows)
        p->scroll = n - rows;
    if (p->scroll < 0)
        p->scroll = 0;
    /* p->scroll counts lines up from the newest, so new commands never move a paused view... */
    int last = n - 1 - p->scroll, firstrow = last - rows + 1;
    if (firstrow < 0)
        firstrow = 0;
    for (int i = firstrow, y = r.y + 1; i <= last; i++, y++) {
        const struct tui_cmd *c = tui_bottle_cmd(b, (size_t)i);
        char head[48];
        snprintf(head, sizeof head, "%.8s %-9s ", c->time, c->step);
        int used = tui_put(s, v->w, y, r.x + 1, W, tui_attr(s, TUI_R_DIM), head);
        used += tui_put(s, v->w, y, r.x + 1 + used, W - used, tui_attr(s, TUI_R_KEY), "$ ");
        tui_put(s, v->w, y, r.x + 1 + used, W - used, A_NORMAL, c->argv);
    }
}

static int cmdlog_key(struct tui_panel *p, struct tui_view *v, int key)
{
    int page = p->r.h - 2 > 1 ? p->r.h - 2 : 1;
    switch (key) {
    case KEY_UP:
        p->scroll++;
        break;
    case KEY_DOWN:
        p->scroll--;
        break;
    case KEY_PPAGE:
        p->scroll += page;
        break;
    case KEY_NPAGE:
        p->scroll -= page;
        break;
    case KEY_HOME:
        p->scroll = 1 << 30;
        break;
    case KEY_END:
    case 'G':
        p->scroll = 0;
        break;
    default:
        return 0;
    }
    if (p->scroll < 0)
        p->scroll = 0;
    return TUI_HANDLED | TUI_REDRAW;
}

static int cmdlog_mouse(struct tui_panel *p, struct tui_view *v, int y, int x, unsigned long bstate)
{
    if (bstate & BUTTON4_PRESSED)
        p->scroll += 3;
    else if (bstate & BUTTON5_PRESSED)
        p->scroll = p->scroll > 3 ? p->scroll - 3 : 0;
    return TUI_HANDLED | TUI_REDRAW;
}

static const struct tui_panel_ops cmdlog_ops = {
    .name = "commands",
    .draw = cmdlog_draw,
    .key = cmdlog_key,
    .mouse = cmdlog_mouse,
    .resize = tui_panel_resize_default,
    .free = tui_panel_free_default,
};

struct tui_panel *tui_panel_cmdlog_new(void)
{
    return tui_panel_new(&cmdlog_ops);
}
