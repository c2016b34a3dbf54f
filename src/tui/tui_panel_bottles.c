/* tui_panel_bottles: the list of bottles with backend, colour-coded state, uptime, requests and
 * blocks. */
#include <stdio.h>
#include <string.h>

#include "tui/tui_panel.h"

static void bottles_draw(struct tui_panel *p, struct tui_view *v)
{
    const struct tui_screen *s = v->scr;
    struct tui_rect r = p->r;
    tui_box(s, v->w, r.y, r.x, r.h, r.w, "Bottles", v->focus == TUI_P_BOTTLES);
    int W = r.w - 2, rows = r.h - 3;
    if (W < 4 || rows < 1)
        return;
    /* Columns as wide as their widest value, so a narrow pane still shows them all;
     * the backend goes first when there is no room. */
    int namew = 4, bew = 7, stw = 5, reqw = 3, blkw = 3;
    char num[32];
    for (size_t i = 0; i < v->m->n; i++) {
        const struct tui_bottle *b = v->m->b[i];
        int n = (int)strlen(b->name);
        namew = n > namew ? n : namew;
        n = (int)strlen(b->backend);
        bew = n > bew ? n : bew;
        n = (int)strlen(tui_state_name(b->state));
        stw = n > stw ? n : stw;
        n = snprintf(num, sizeof num, "%llu", (unsigned long long)b->requests);
        reqw = n > reqw ? n : reqw;
        n = snprintf(num, sizeof num, "%llu", (unsigned long long)b->blocks);
        blkw = n > blkw ? n : blkw;
    }
    if (namew > 16)
        namew = 16;
    int fixed = 1 + stw + 1 + 5 + 1 + reqw + 1 + blkw;
    bool backend = namew + fixed + bew + 1 <= W;
    if (!backend && namew > W - fixed)
        namew = W - fixed > 4 ? W - fixed : 4;
    char line[512];
    if (backend)
        snprintf(line, sizeof line, "%-*s %-*s %-*s %5s %*s %*s", namew, "NAME", bew, "BACKEND",
                 stw, "STATE", "UP", reqw, "REQ", blkw, "BLK");
    else
        snprintf(line, sizeof line, "%-*s %-*s %5s %*s %*s", namew, "NAME", stw, "STATE", "UP",
                 reqw, "REQ", blkw, "BLK");
    tui_put(s, v->w, r.y + 1, r.x + 1, W, tui_attr(s, TUI_R_DIM), line);
    if (v->m->n == 0) {
        tui_put(s, v->w, r.y + 2, r.x + 1, W, tui_attr(s, TUI_R_DIM),
                "no bottles: bottle-tui PATH...");
        return;
    }
    if ((int)v->sel < p->scroll)
        p->scroll = (int)v->sel;
    if ((int)v->sel >= p->scroll + rows)
        p->scroll = (int)v->sel - rows + 1;
    for (int i = 0; i < rows && (size_t)(p->scroll + i) < v->m->n; i++) {
        size_t bi = (size_t)(p->scroll + i);
        const struct tui_bottle *b = v->m->b[bi];
        char up[16] = "-";
        if (b->up_since_ms)
            tui_fmt_uptime(up, sizeof up, tui_bottle_uptime(b, v->now_ms));
        bool sel = bi == v->sel;
        attr_t base = sel ? tui_attr(s, TUI_R_SELECT) : A_NORMAL;
        int y = r.y + 2 + i, x = r.x + 1;
        tui_fill(s, v->w, y, x, W, base, " ");
        if (backend)
            snprintf(line, sizeof line, "%-*.*s %-*s ", namew, namew, b->name, bew, b->backend);
        else
            snprintf(line, sizeof line, "%-*.*s ", namew, namew, b->name);
        int used = tui_put(s, v->w, y, x, W, base, line);
        /* The state keeps its colour on the selected row too. */
        snprintf(line, sizeof line, "%-*s", stw, tui_state_name(b->state));
        used += tui_put(s, v->w, y, x + used, W - used,
                        base | tui_attr(s, tui_state_role(b->state)), line);
        snprintf(line, sizeof line, " %5s %*llu ", up, reqw, (unsigned long long)b->requests);
        used += tui_put(s, v->w, y, x + used, W - used, base, line);
        snprintf(line, sizeof line, "%*llu", blkw, (unsigned long long)b->blocks);
        used += tui_put(s, v->w, y, x + used, W - used,
                        base | (b->blocks ? tui_attr(s, TUI_R_WARN) : A_NORMAL), line);
        /* Calls waiting for the operator: "!2" at the row's end (the last columns if tight). */
        if (b->sup.npending) {
            snprintf(line, sizeof line, "!%zu", b->sup.npending);
            int mw = (int)strlen(line), mx = used + 1 + mw <= W ? used + 1 : W - mw;
            tui_put(s, v->w, y, x + mx, mw, base | tui_attr(s, TUI_R_WARN) | A_BOLD, line);
        }
    }
}

static int bottles_key(struct tui_panel *p, struct tui_view *v, int key)
{
    size_t n = v->m->n;
    if (n == 0)
        return 0;
    switch (key) {
    case KEY_UP:
        if (v->sel > 0)
            v->sel--;
        return TUI_HANDLED | TUI_REDRAW;
    case KEY_DOWN:
        if (v->sel + 1 < n)
            v->sel++;
        return TUI_HANDLED | TUI_REDRAW;
    case KEY_HOME:
        v->sel = 0;
        return TUI_HANDLED | TUI_REDRAW;
    case KEY_END:
        v->sel = n - 1;
        return TUI_HANDLED | TUI_REDRAW;
    default:
        return 0;
    }
}

static int bottles_mouse(struct tui_panel *p, struct tui_view *v, int y, int x,
                         unsigned long bstate)
{
    int ret;
    long row = tui_panel_list_mouse(p, v, y, bstate, 2, v->m->n, &ret);
    if (row >= 0)
        v->sel = (size_t)row;
    return ret;
}

static const struct tui_panel_ops bottles_ops = {
    .name = "bottles",
    .draw = bottles_draw,
    .key = bottles_key,
    .mouse = bottles_mouse,
    .resize = tui_panel_resize_default,
    .free = tui_panel_free_default,
};

struct tui_panel *tui_panel_bottles_new(void)
{
    return tui_panel_new(&bottles_ops);
}
