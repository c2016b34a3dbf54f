/* tui_panel_approvals: the selected bottle's supervise calls: pending questions and egress requests
 * to answer, approve or deny, recent notifications, and a history of what was resolved. */
#include <stdio.h>
#include <string.h>

#include "tui/tui_panel.h"
#include "tui/tui_view.h"

size_t tui_approvals_pending_total(const struct tui_view *v)
{
    size_t n = 0;
    for (size_t i = 0; v->m && i < v->m->n; i++)
        n += v->m->b[i]->sup.npending;
    return n;
}

bool tui_approvals_visible(const struct tui_view *v)
{
    const struct tui_bottle *b = tui_view_bottle(v);
    return v->show_approvals || (b && b->sup.npending);
}

static const char *tool_short(const char *tool)
{
    if (strcmp(tool, "ask_operator") == 0)
        return "ask";
    if (strcmp(tool, "request_egress") == 0)
        return "egress";
    if (strcmp(tool, "notify_operator") == 0)
        return "note";
    return tool;
}

static enum tui_role status_role(enum tui_sv_status s)
{
    switch (s) {
    case TUI_SV_PENDING:
        return TUI_R_WARN;
    case TUI_SV_ANSWERED:
    case TUI_SV_APPROVED:
    case TUI_SV_DELIVERED:
        return TUI_R_OK;
    case TUI_SV_DENIED:
    case TUI_SV_FAILED:
        return TUI_R_FAIL;
    case TUI_SV_TIMEOUT:
    case TUI_SV_CANCELLED:
        break;
    }
    return TUI_R_DIM;
}

/* "#3 ask     12s " then the summary. */
static void draw_pending(const struct tui_view *v, const struct tui_sv *c, int y, int x, int W,
                         bool sel)
{
    const struct tui_screen *s = v->scr;
    attr_t base = sel ? tui_attr(s, TUI_R_SELECT) : A_NORMAL;
    tui_fill(s, v->w, y, x, W, base, " ");
    char age[16], head[160];
    tui_fmt_uptime(age, sizeof age, v->now_ms > c->since_ms ? v->now_ms - c->since_ms : 0);
    snprintf(head, sizeof head, "#%-3s %-6s %5s ", c->id, tool_short(c->tool), age);
    int used = tui_put(s, v->w, y, x, W, base | tui_attr(s, TUI_R_WARN), head);
    tui_put(s, v->w, y, x + used, W - used, base, c->summary);
}

/* "06:13:33 #2 egress denied  pypi.org: pip install" */
static void draw_resolved(const struct tui_view *v, const struct tui_sv *c, int y, int x, int W)
{
    const struct tui_screen *s = v->scr;
    char head[64];
    snprintf(head, sizeof head, "%.8s #%-3s %-6s ", c->time, c->id, tool_short(c->tool));
    int used = tui_put(s, v->w, y, x, W, tui_attr(s, TUI_R_DIM), head);
    char st[16];
    snprintf(st, sizeof st, "%-9s ",
             c->status == TUI_SV_DELIVERED ? "" : tui_sv_status_name(c->status));
    used += tui_put(s, v->w, y, x + used, W - used, tui_attr(s, status_role(c->status)), st);
    char line[512];
    if (c->status == TUI_SV_ANSWERED)
        snprintf(line, sizeof line, "%s -> %s", c->summary, c->outcome ? c->outcome : "");
    else if (c->status == TUI_SV_FAILED || c->status == TUI_SV_TIMEOUT ||
             c->status == TUI_SV_CANCELLED)
        snprintf(line, sizeof line, "%s (%s)", c->summary, c->outcome ? c->outcome : "");
    else
        snprintf(line, sizeof line, "%s", c->summary);
    tui_put(s, v->w, y, x + used, W - used, A_NORMAL, line);
}

static void approvals_draw(struct tui_panel *p, struct tui_view *v)
{
    const struct tui_screen *s = v->scr;
    struct tui_rect r = p->r;
    if (r.h < 3)
        return;
    const struct tui_bottle *b = tui_view_bottle(v);
    size_t np = b ? b->sup.npending : 0;
    char title[96];
    if (np)
        snprintf(title, sizeof title, "Approvals %s: %zu pending", b->name, np);
    else
        snprintf(title, sizeof title, "Approvals %s", b ? b->name : "");
    bool focused = v->focus == TUI_P_APPROVALS;
    tui_box(s, v->w, r.y, r.x, r.h, r.w, title, focused);
    int W = r.w - 2, rows = r.h - 2, y = r.y + 1, x = r.x + 1;
    if (!b || W < 8 || rows < 1)
        return;
    if (p->cursor >= (int)np)
        p->cursor = np ? (int)np - 1 : 0;
    if (p->cursor < 0)
        p->cursor = 0;
    /* The keys, on the last row, whenever something waits and there is room for it. */
    bool hint = np && rows >= 2;
    int listrows = rows - (hint ? 1 : 0);
    if (p->cursor < p->scroll)
        p->scroll = p->cursor;
    if (p->cursor >= p->scroll + listrows)
        p->scroll = p->cursor - listrows + 1;
    int row = 0;
    for (size_t i = (size_t)p->scroll; i < np && row < listrows; i++, row++)
        draw_pending(v, tui_sup_pending(&b->sup, i), y + row, x, W, focused && (int)i == p->cursor);
    if (np == 0 && row < listrows) {
        tui_put(s, v->w, y + row++, x, W, tui_attr(s, TUI_R_DIM), "nothing waits for the operator");
    }
    /* Then what was resolved and what the agent said, newest first. */
    for (size_t i = b->sup.n; i-- > 0 && row < listrows;) {
        const struct tui_sv *c = &b->sup.v[i];
        if (c->status != TUI_SV_PENDING)
            draw_resolved(v, c, y + row++, x, W);
    }
    if (hint) {
        int hy = r.y + r.h - 2, used = 0;
        static const char *const h[][2] = {
            {"Enter/y", "answer or approve"}, {"S", "approve+save"}, {"d", "deny"}, {"p", "focus"}};
        for (size_t i = 0; i < sizeof h / sizeof *h && used < W; i++) {
            used += tui_put(s, v->w, hy, x + used, W - used, tui_attr(s, TUI_R_KEY), h[i][0]);
            used += tui_put(s, v->w, hy, x + used, W - used, tui_attr(s, TUI_R_DIM), " ");
            used += tui_put(s, v->w, hy, x + used, W - used, tui_attr(s, TUI_R_DIM), h[i][1]);
            used += tui_put(s, v->w, hy, x + used, W - used, A_NORMAL, "  ");
        }
    }
}

static int approvals_key(struct tui_panel *p, struct tui_view *v, int key)
{
    const struct tui_bottle *b = tui_view_bottle(v);
    size_t np = b ? b->sup.npending : 0;
    const struct tui_sv *c =
        np ? tui_sup_pending(&b->sup, (size_t)p->cursor < np ? (size_t)p->cursor : np - 1) : NULL;
    switch (key) {
    case KEY_UP:
        if (p->cursor > 0) {
            p->cursor--;
            return TUI_HANDLED | TUI_REDRAW;
        }
        return 0;
    case KEY_DOWN:
        if ((size_t)p->cursor + 1 < np) {
            p->cursor++;
            return TUI_HANDLED | TUI_REDRAW;
        }
        return 0;
    case 'y':
    case '\r':
    case '\n':
    case KEY_ENTER:
    case 'S':
    case 'd':
        break;
    default:
        return 0;
    }
    if (!c) {
        tui_view_message(v, "nothing waits for the operator");
        return TUI_HANDLED | TUI_REDRAW;
    }
    snprintf(v->act_id, sizeof v->act_id, "%s", c->id);
    bool ask = strcmp(c->tool, "ask_operator") == 0;
    if (ask && key == 'S') {
        tui_view_message(v, "#%s is a question: Enter answers it", c->id);
    } else if (ask && key == 'd') {
        /* A question is declined with an answer that says so. */
        tui_view_confirm(v, TUI_ACT_DENY, "Decline question #%s (the agent is told no answer)?",
                         c->id);
    } else if (ask) {
        char label[96];
        snprintf(label, sizeof label, "answer #%s: ", c->id);
        tui_view_input(v, TUI_ACT_ANSWER, label);
    } else if (key == 'd') {
        v->fire = TUI_ACT_DENY;
    } else if (key == 'S') {
        tui_view_confirm(v, TUI_ACT_APPROVE_SAVE, "Allow %s and save it to the manifest?", c->host);
    } else {
        v->fire = TUI_ACT_APPROVE;
    }
    return TUI_HANDLED | TUI_REDRAW;
}

static int approvals_mouse(struct tui_panel *p, struct tui_view *v, int y, int x,
                           unsigned long bstate)
{
    const struct tui_bottle *b = tui_view_bottle(v);
    int ret;
    long row = tui_panel_list_mouse(p, v, y, bstate, 1, b ? b->sup.npending : 0, &ret);
    if (row >= 0)
        p->cursor = (int)row;
    return ret;
}

static const struct tui_panel_ops approvals_ops = {
    .name = "approvals",
    .draw = approvals_draw,
    .key = approvals_key,
    .mouse = approvals_mouse,
    .resize = tui_panel_resize_default,
    .free = tui_panel_free_default,
};

struct tui_panel *tui_panel_approvals_new(void)
{
    return tui_panel_new(&approvals_ops);
}
