/* tui_panel_gate: the branches the selected bottle's agent pushed to its git gate, and the overlay
 * with a push's commits that the operator reads before bringing it into the host repository. */
#include <stdio.h>
#include <string.h>

#include "tui/tui_panel.h"
#include "tui/tui_view.h"

/* "abcdef012345..0f1e2d3c4b5a" -> "abcdef0..0f1e2d3" (the event's hashes are cut to 12 already). */
static const char *short_range(const char *rng, char *out, size_t n)
{
    const char *dots = strstr(rng, "..");
    if (!dots)
        return rng;
    snprintf(out, n, "%.*s..%.7s", (int)((dots - rng) < 7 ? (dots - rng) : 7), rng, dots + 2);
    return out;
}

static void gate_draw(struct tui_panel *p, struct tui_view *v)
{
    const struct tui_screen *s = v->scr;
    struct tui_rect r = p->r;
    const struct tui_bottle *b = tui_view_bottle(v);
    char title[96];
    snprintf(title, sizeof title, "Gate %s: %zu push%s", b ? b->name : "", b ? b->sup.npushes : 0,
             b && b->sup.npushes == 1 ? "" : "es");
    tui_box(s, v->w, r.y, r.x, r.h, r.w, title, v->focus == TUI_P_GATE);
    int W = r.w - 2, rows = r.h - 3, x = r.x + 1;
    if (W < 8 || rows < 1)
        return;
    /* Narrow panes drop the time, then the range. */
    bool time = W >= 70, range = W >= 50;
    char hdr[256];
    snprintf(hdr, sizeof hdr, "%s%-10s %-18s %s%s", time ? "TIME     " : "", "REPO", "BRANCH",
             range ? "COMMITS          " : "", "SUBJECT");
    tui_put(s, v->w, r.y + 1, x, W, tui_attr(s, TUI_R_DIM), hdr);
    size_t n = b ? b->sup.npushes : 0;
    if (n == 0) {
        tui_put(s, v->w, r.y + 2, x, W, tui_attr(s, TUI_R_DIM),
                "no pushes yet: the agent's git push lands here");
        return;
    }
    if (p->cursor >= (int)n)
        p->cursor = (int)n - 1;
    if (p->cursor < 0)
        p->cursor = 0;
    if (p->cursor < p->scroll)
        p->scroll = p->cursor;
    if (p->cursor >= p->scroll + rows)
        p->scroll = p->cursor - rows + 1;
    bool focused = v->focus == TUI_P_GATE;
    /* Newest first: row 0 is the last push. */
    for (int i = 0; i < rows && (size_t)(p->scroll + i) < n; i++) {
        int k = p->scroll + i;
        const struct tui_push *ps = &b->sup.pushes[n - 1 - (size_t)k];
        char branch[128], rng[64], sr[64], line[512];
        const char *subject;
        tui_push_split(ps, branch, sizeof branch, rng, sizeof rng, &subject);
        int y = r.y + 2 + i;
        attr_t base = focused && k == p->cursor ? tui_attr(s, TUI_R_SELECT) : A_NORMAL;
        tui_fill(s, v->w, y, x, W, base, " ");
        int used = 0;
        if (time) {
            snprintf(line, sizeof line, "%.8s ", ps->time);
            used += tui_put(s, v->w, y, x, W, base | tui_attr(s, TUI_R_DIM), line);
        }
        snprintf(line, sizeof line, "%-10.10s %-18.18s ", ps->repo, branch);
        used += tui_put(s, v->w, y, x + used, W - used, base, line);
        /* Once brought in (or failed), what happened takes the range's place. */
        if (range && !ps->note) {
            snprintf(line, sizeof line, "%-16.16s ", short_range(rng, sr, sizeof sr));
            used += tui_put(s, v->w, y, x + used, W - used, base | tui_attr(s, TUI_R_DIM), line);
        }
        if (ps->note) {
            snprintf(line, sizeof line, "%s ", ps->note);
            used += tui_put(s, v->w, y, x + used, W - used,
                            base | tui_attr(s, ps->failed ? TUI_R_FAIL : TUI_R_OK), line);
        }
        tui_put(s, v->w, y, x + used, W - used, base, subject);
    }
}

static int gate_key(struct tui_panel *p, struct tui_view *v, int key)
{
    const struct tui_bottle *b = tui_view_bottle(v);
    int n = b ? (int)b->sup.npushes : 0;
    switch (key) {
    case KEY_UP:
        if (p->cursor > 0) {
            p->cursor--;
            return TUI_HANDLED | TUI_REDRAW;
        }
        return 0;
    case KEY_DOWN:
        if (p->cursor + 1 < n) {
            p->cursor++;
            return TUI_HANDLED | TUI_REDRAW;
        }
        return 0;
    case KEY_HOME:
        p->cursor = 0;
        return TUI_HANDLED | TUI_REDRAW;
    case KEY_END:
        p->cursor = n ? n - 1 : 0;
        return TUI_HANDLED | TUI_REDRAW;
    case 'l':
    case '\r':
    case '\n':
    case KEY_ENTER:
        if (n == 0) {
            tui_view_message(v, "no pushes to bring in");
            return TUI_HANDLED | TUI_REDRAW;
        }
        if (p->cursor >= n)
            p->cursor = n - 1;
        v->act_idx = (size_t)(n - 1 - p->cursor);
        v->fire = TUI_ACT_GATE_LOG;
        return TUI_HANDLED | TUI_REDRAW;
    default:
        return 0;
    }
}

static int gate_mouse(struct tui_panel *p, struct tui_view *v, int y, int x, unsigned long bstate)
{
    const struct tui_bottle *b = tui_view_bottle(v);
    int ret;
    long row = tui_panel_list_mouse(p, v, y, bstate, 2, b ? b->sup.npushes : 0, &ret);
    if (row >= 0)
        p->cursor = (int)row;
    return ret;
}

static const struct tui_panel_ops gate_ops = {
    .name = "gate",
    .draw = gate_draw,
    .key = gate_key,
    .mouse = gate_mouse,
    .resize = tui_panel_resize_default,
    .free = tui_panel_free_default,
};

struct tui_panel *tui_panel_gate_new(void)
{
    return tui_panel_new(&gate_ops);
}

/* ---- the log overlay ------------------------------------------------------------------------ */

static void gatelog_draw(struct tui_panel *p, struct tui_view *v)
{
    const struct tui_screen *s = v->scr;
    if (!v->overlay_text)
        return;
    int nl = 0;
    for (const char *c = v->overlay_text; *c; c++)
        nl += *c == '\n';
    if (*v->overlay_text && v->overlay_text[strlen(v->overlay_text) - 1] != '\n')
        nl++;
    int w = s->cols - 8, h = nl + 3;
    if (w > 100)
        w = 100;
    if (h < 5)
        h = 5;
    /* The status bar below stays free for the question. */
    if (h > s->rows - 4)
        h = s->rows - 4;
    int y = (s->rows - 1 - h) / 2, x = (s->cols - w) / 2;
    p->r = (struct tui_rect){y, x, h, w};
    for (int i = 0; i < h; i++)
        tui_fill(s, v->w, y + i, x, w, A_NORMAL, " ");
    tui_box(s, v->w, y, x, h, w, v->overlay_title ? v->overlay_title : "", true);
    int row = y + 1, last = y + h - 2;
    const char *c = v->overlay_text;
    while (*c && row < last) {
        const char *e = strchr(c, '\n');
        size_t n = e ? (size_t)(e - c) : strlen(c);
        char line[512];
        snprintf(line, sizeof line, "%.*s", (int)(n < sizeof line - 1 ? n : sizeof line - 1), c);
        tui_put(s, v->w, row++, x + 2, w - 4, A_NORMAL, line);
        c += n + (e ? 1 : 0);
    }
    if (*c)
        tui_put(s, v->w, last, x + 2, w - 4, tui_attr(s, TUI_R_DIM), "... (more)");
    else
        tui_put(s, v->w, last, x + 2, w - 4, tui_attr(s, TUI_R_DIM),
                "y brings it in; any other key closes");
}

static const struct tui_panel_ops gatelog_ops = {
    .name = "gatelog",
    .draw = gatelog_draw,
    .resize = tui_panel_resize_default,
    .free = tui_panel_free_default,
};

struct tui_panel *tui_panel_gatelog_new(void)
{
    return tui_panel_new(&gatelog_ops);
}
