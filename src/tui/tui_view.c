/* tui_view: the dashboard's layout, whole-screen drawing, key and mouse dispatch and y/N prompts.
 */
#include "tui/tui_view.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void tui_view_init(struct tui_view *v, struct tui_screen *s, struct tui_model *m)
{
    memset(v, 0, sizeof *v);
    v->scr = s;
    v->m = m;
    v->w = stdscr;
    v->p[TUI_P_BOTTLES] = tui_panel_bottles_new();
    v->p[TUI_P_STEPS] = tui_panel_steps_new();
    v->p[TUI_P_CHAIN] = tui_panel_chain_new();
    v->p[TUI_P_REQUESTS] = tui_panel_requests_new();
    v->p[TUI_P_CMDLOG] = tui_panel_cmdlog_new();
    v->p[TUI_P_HELP] = tui_panel_help_new();
    v->p[TUI_P_CMDLOG]->follow = true;
    v->focus = TUI_P_BOTTLES;
    tui_view_layout(v);
}

void tui_view_free(struct tui_view *v)
{
    for (int i = 0; i < TUI_P_COUNT; i++)
        if (v->p[i])
            v->p[i]->ops->free(v->p[i]);
    memset(v->p, 0, sizeof v->p);
}

void tui_view_layout(struct tui_view *v)
{
    v->w = stdscr;
    int H = v->scr->rows, W = v->scr->cols;
    int BH = H - 2 > 0 ? H - 2 : 0;
    /* The right column gets the most: request rows are the widest content. */
    int LW = W / 3;
    if (LW < 34)
        LW = 34 < W / 2 ? 34 : W / 2;
    if (LW > 56)
        LW = 56;
    size_t nb = v->m ? v->m->n : 0;
    int TH = (int)(nb > 6 ? 6 : nb) + 3;
    if (TH < 7)
        TH = 7;
    if (TH > BH / 2)
        TH = BH / 2;
    struct tui_rect top_l = {1, 0, TH, LW}, top_r = {1, LW, TH, W - LW},
                    bot_l = {1 + TH, 0, BH - TH, LW}, bot_r = {1 + TH, LW, BH - TH, W - LW};
    v->p[TUI_P_BOTTLES]->ops->resize(v->p[TUI_P_BOTTLES], top_l);
    v->p[TUI_P_CHAIN]->ops->resize(v->p[TUI_P_CHAIN], top_r);
    v->p[TUI_P_STEPS]->ops->resize(v->p[TUI_P_STEPS], bot_l);
    v->p[TUI_P_REQUESTS]->ops->resize(v->p[TUI_P_REQUESTS], bot_r);
    v->p[TUI_P_CMDLOG]->ops->resize(v->p[TUI_P_CMDLOG], bot_r);
}

void tui_view_message(struct tui_view *v, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->msg, sizeof v->msg, fmt, ap);
    va_end(ap);
}

static void draw_header(struct tui_view *v)
{
    const struct tui_screen *s = v->scr;
    attr_t h = tui_attr(s, TUI_R_HEADER);
    tui_fill(s, v->w, 0, 0, s->cols, h, " ");
    int used = tui_put(s, v->w, 0, 0, s->cols, h | A_BOLD, " bottle-tui ");
    const struct tui_bottle *b = tui_view_bottle(v);
    char line[256];
    if (b) {
        char up[16] = "-";
        if (b->up_since_ms)
            tui_fmt_uptime(up, sizeof up, tui_bottle_uptime(b, v->now_ms));
        snprintf(line, sizeof line, " %s  %s  up %s  req %llu  blk %llu", b->name,
                 tui_state_name(b->state), up, (unsigned long long)b->requests,
                 (unsigned long long)b->blocks);
        used += tui_put(s, v->w, 0, used, s->cols - used, h, line);
    }
    const char *right = "? help ";
    int rw = (int)strlen(right);
    if (s->cols - rw > used)
        tui_put(s, v->w, 0, s->cols - rw, rw, h, right);
}

static const char *const hints[][2] = {
    {"n", "launch"}, {"r", "restart"},  {"k", "kill"},    {"/", "filter"}, {"b", "blocked"},
    {"f", "follow"}, {"c", "commands"}, {"Tab", "focus"}, {"?", "help"},   {"q", "quit"},
};

static void draw_status(struct tui_view *v)
{
    const struct tui_screen *s = v->scr;
    int y = s->rows - 1, W = s->cols;
    tui_fill(s, v->w, y, 0, W, A_NORMAL, " ");
    if (v->prompt == TUI_PROMPT_CONFIRM) {
        int used = tui_put(s, v->w, y, 0, W, tui_attr(s, TUI_R_WARN) | A_BOLD, v->prompt_text);
        tui_put(s, v->w, y, used, W - used, tui_attr(s, TUI_R_KEY), " [y/N]");
        return;
    }
    if (v->prompt == TUI_PROMPT_FILTER) {
        int used = tui_put(s, v->w, y, 0, W, tui_attr(s, TUI_R_KEY), "filter: /");
        used += tui_put(s, v->w, y, used, W - used, A_NORMAL, v->filter);
        tui_put(s, v->w, y, used, W - used, A_REVERSE, " ");
        return;
    }
    if (v->msg[0]) {
        tui_put(s, v->w, y, 0, W, tui_attr(s, TUI_R_TITLE), v->msg);
        return;
    }
    int used = 0;
    for (size_t i = 0; i < sizeof hints / sizeof *hints && used < W; i++) {
        used += tui_put(s, v->w, y, used, W - used, tui_attr(s, TUI_R_KEY), hints[i][0]);
        used += tui_put(s, v->w, y, used, W - used, A_NORMAL, " ");
        used += tui_put(s, v->w, y, used, W - used, tui_attr(s, TUI_R_DIM), hints[i][1]);
        used += tui_put(s, v->w, y, used, W - used, A_NORMAL, "  ");
    }
}

void tui_view_draw(struct tui_view *v, uint64_t now_ms)
{
    v->now_ms = now_ms;
    v->w = stdscr;
    werase(v->w);
    if (v->scr->rows < 10 || v->scr->cols < 40) {
        tui_put(v->scr, v->w, 0, 0, v->scr->cols, A_BOLD, "too small: need 40x10");
        return;
    }
    draw_header(v);
    v->p[TUI_P_BOTTLES]->ops->draw(v->p[TUI_P_BOTTLES], v);
    v->p[TUI_P_CHAIN]->ops->draw(v->p[TUI_P_CHAIN], v);
    v->p[TUI_P_STEPS]->ops->draw(v->p[TUI_P_STEPS], v);
    enum tui_panel_id low = v->show_cmdlog ? TUI_P_CMDLOG : TUI_P_REQUESTS;
    v->p[low]->ops->draw(v->p[low], v);
    draw_status(v);
    if (v->show_help)
        v->p[TUI_P_HELP]->ops->draw(v->p[TUI_P_HELP], v);
}

static void confirm(struct tui_view *v, enum tui_action act, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void confirm(struct tui_view *v, enum tui_action act, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->prompt_text, sizeof v->prompt_text, fmt, ap);
    va_end(ap);
    v->prompt = TUI_PROMPT_CONFIRM;
    v->pending = act;
    v->pending_bottle = v->sel;
}

static size_t live_count(const struct tui_view *v)
{
    size_t n = 0;
    for (size_t i = 0; i < v->m->n; i++)
        n += tui_state_live(v->m->b[i]->state);
    return n;
}

static void ask_launch(struct tui_view *v)
{
    const struct tui_bottle *b = tui_view_bottle(v);
    if (!b)
        return;
    if (b->state == TUI_ST_INVALID)
        tui_view_message(v, "%s: the manifest does not load: %s", b->name,
                         b->error ? b->error : "");
    else if (tui_state_live(b->state))
        tui_view_message(v, "%s is %s; r restarts it", b->name, tui_state_name(b->state));
    else
        confirm(v, TUI_ACT_LAUNCH, "Launch bottle '%s'?", b->name);
}

static void focus_next(struct tui_view *v, int dir)
{
    enum tui_panel_id low = v->show_cmdlog ? TUI_P_CMDLOG : TUI_P_REQUESTS;
    enum tui_panel_id order[] = {TUI_P_BOTTLES, TUI_P_STEPS, low};
    int n = 3, cur = 0;
    for (int i = 0; i < n; i++)
        if (order[i] == v->focus)
            cur = i;
    v->focus = order[(cur + dir + n) % n];
}

static int filter_key(struct tui_view *v, int key)
{
    size_t n = strlen(v->filter);
    if (key == '\r' || key == '\n' || key == KEY_ENTER) {
        v->prompt = TUI_PROMPT_NONE;
    } else if (key == 27) {
        v->filter[0] = '\0';
        v->prompt = TUI_PROMPT_NONE;
    } else if (key == KEY_BACKSPACE || key == 127 || key == 8) {
        if (n)
            v->filter[n - 1] = '\0';
    } else if (key >= 0x20 && key < 0x7f && n + 1 < sizeof v->filter) {
        v->filter[n] = (char)key;
        v->filter[n + 1] = '\0';
    }
    return TUI_HANDLED | TUI_REDRAW;
}

int tui_view_key(struct tui_view *v, int key, enum tui_action *act, size_t *idx)
{
    *act = TUI_ACT_NONE;
    if (key == KEY_RESIZE)
        return TUI_HANDLED | TUI_REDRAW;
    if (v->show_help) {
        v->show_help = false;
        return TUI_HANDLED | TUI_REDRAW;
    }
    if (v->prompt == TUI_PROMPT_CONFIRM) {
        v->prompt = TUI_PROMPT_NONE;
        if (key == 'y' || key == 'Y') {
            *act = v->pending;
            *idx = v->pending_bottle;
        } else {
            tui_view_message(v, "cancelled");
        }
        return TUI_HANDLED | TUI_REDRAW;
    }
    if (v->prompt == TUI_PROMPT_FILTER)
        return filter_key(v, key);
    v->msg[0] = '\0';
    struct tui_bottle *b = tui_view_bottle(v);
    struct tui_panel *rp = v->p[TUI_P_REQUESTS];
    switch (key) {
    case 'q':
    case 'Q': {
        size_t live = live_count(v);
        if (live)
            confirm(v, TUI_ACT_QUIT, "Quit? %zu running bottle%s will be killed", live,
                    live == 1 ? "" : "s");
        else
            confirm(v, TUI_ACT_QUIT, "Quit bottle-tui?");
        return TUI_HANDLED | TUI_REDRAW;
    }
    case 'n':
        ask_launch(v);
        return TUI_HANDLED | TUI_REDRAW;
    case 'r':
        if (b && b->state == TUI_ST_INVALID)
            tui_view_message(v, "%s: the manifest does not load", b->name);
        else if (b)
            confirm(v, TUI_ACT_RESTART, "Restart bottle '%s'?", b->name);
        return TUI_HANDLED | TUI_REDRAW;
    case 'k':
        if (b && tui_state_live(b->state))
            confirm(v, TUI_ACT_KILL, "Kill bottle '%s'? The agent and its proxies stop", b->name);
        else if (b)
            tui_view_message(v, "%s is not running", b->name);
        return TUI_HANDLED | TUI_REDRAW;
    case '/':
        v->prompt = TUI_PROMPT_FILTER;
        if (v->show_cmdlog) {
            v->show_cmdlog = false;
            if (v->focus == TUI_P_CMDLOG)
                v->focus = TUI_P_REQUESTS;
        }
        return TUI_HANDLED | TUI_REDRAW;
    case 'b':
        v->blocked_only = !v->blocked_only;
        return TUI_HANDLED | TUI_REDRAW;
    case 'f':
        if (rp->follow && b && b->reqs.n) {
            rp->follow = false;
            rp->anchor = b->reqs.next_seq - 1;
        } else {
            rp->follow = true;
        }
        return TUI_HANDLED | TUI_REDRAW;
    case 'c':
        v->show_cmdlog = !v->show_cmdlog;
        if (v->focus == TUI_P_REQUESTS && v->show_cmdlog)
            v->focus = TUI_P_CMDLOG;
        else if (v->focus == TUI_P_CMDLOG && !v->show_cmdlog)
            v->focus = TUI_P_REQUESTS;
        return TUI_HANDLED | TUI_REDRAW;
    case '?':
    case KEY_F(1):
        v->show_help = true;
        return TUI_HANDLED | TUI_REDRAW;
    case '\t':
        focus_next(v, 1);
        return TUI_HANDLED | TUI_REDRAW;
    case KEY_BTAB:
        focus_next(v, -1);
        return TUI_HANDLED | TUI_REDRAW;
    case 27:
        v->filter[0] = '\0';
        return TUI_HANDLED | TUI_REDRAW;
    case 12: /* Ctrl-L */
        clearok(curscr, TRUE);
        return TUI_HANDLED | TUI_REDRAW;
    case '\r':
    case '\n':
    case KEY_ENTER:
        if (v->focus == TUI_P_BOTTLES) {
            ask_launch(v);
            return TUI_HANDLED | TUI_REDRAW;
        }
        break;
    default:
        break;
    }
    struct tui_panel *p = v->p[v->focus];
    int fl = p->ops->key ? p->ops->key(p, v, key) : 0;
    /* Up/Down always mean something: outside a list they move between bottles. */
    if (!fl && v->focus != TUI_P_BOTTLES && (key == KEY_UP || key == KEY_DOWN))
        fl = v->p[TUI_P_BOTTLES]->ops->key(v->p[TUI_P_BOTTLES], v, key);
    return fl;
}

int tui_view_mouse(struct tui_view *v, int y, int x, unsigned long bstate)
{
    if (v->show_help) {
        v->show_help = false;
        return TUI_HANDLED | TUI_REDRAW;
    }
    enum tui_panel_id low = v->show_cmdlog ? TUI_P_CMDLOG : TUI_P_REQUESTS;
    enum tui_panel_id order[] = {TUI_P_BOTTLES, TUI_P_STEPS, TUI_P_CHAIN, low};
    for (size_t i = 0; i < sizeof order / sizeof *order; i++) {
        struct tui_panel *p = v->p[order[i]];
        if (!tui_panel_contains(p, y, x))
            continue;
        if (!p->ops->mouse)
            return 0;
        if (bstate & (BUTTON1_PRESSED | BUTTON1_CLICKED))
            v->focus = order[i];
        return p->ops->mouse(p, v, y - p->r.y, x - p->r.x, bstate) | TUI_REDRAW;
    }
    return 0;
}
