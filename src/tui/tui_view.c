/* tui_view: the dashboard's layout, whole-screen drawing, key and mouse dispatch and y/N prompts.
 */
#include "tui/tui_view.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

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
    v->p[TUI_P_APPROVALS] = tui_panel_approvals_new();
    v->p[TUI_P_GATE] = tui_panel_gate_new();
    v->p[TUI_P_GATELOG] = tui_panel_gatelog_new();
    v->p[TUI_P_SESSION] = tui_panel_session_new();
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
    tui_view_overlay(v, NULL, NULL);
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
    if (v->show_session) {
        /* The session reads like a terminal: it gets the whole width; the steps make way. */
        bot_r = (struct tui_rect){1 + TH, 0, BH - TH, W};
        bot_l = (struct tui_rect){0, 0, 0, 0};
    }
    v->p[TUI_P_SESSION]->ops->resize(v->p[TUI_P_SESSION], bot_r);
    v->p[TUI_P_BOTTLES]->ops->resize(v->p[TUI_P_BOTTLES], top_l);
    v->p[TUI_P_CHAIN]->ops->resize(v->p[TUI_P_CHAIN], top_r);
    v->p[TUI_P_STEPS]->ops->resize(v->p[TUI_P_STEPS], bot_l);
    v->p[TUI_P_REQUESTS]->ops->resize(v->p[TUI_P_REQUESTS], bot_r);
    v->p[TUI_P_CMDLOG]->ops->resize(v->p[TUI_P_CMDLOG], bot_r);
    v->p[TUI_P_GATE]->ops->resize(v->p[TUI_P_GATE], bot_r);
    v->p[TUI_P_APPROVALS]->ops->resize(v->p[TUI_P_APPROVALS], bot_r);
    v->lower = bot_r;
}

/* The panel in the lower right: requests, the command log or the gate. */
static enum tui_panel_id lower_panel(const struct tui_view *v)
{
    if (v->show_session)
        return TUI_P_SESSION;
    return v->show_cmdlog ? TUI_P_CMDLOG : v->show_gate ? TUI_P_GATE : TUI_P_REQUESTS;
}

/* The approvals pane shares the lower right: all of it when shown with p,
 * else a strip on top while calls wait, so a pending one is on screen
 * without a key. Called before drawing and input, as the model moves. */
static void place_lower(struct tui_view *v)
{
    struct tui_rect r = v->lower, ap = {0, 0, 0, 0};
    enum tui_panel_id low = lower_panel(v);
    const struct tui_bottle *b = tui_view_bottle(v);
    if (v->show_approvals) {
        ap = r;
        r.h = 0;
    } else if (b && b->sup.npending) {
        int h = (int)b->sup.npending + 3;
        if (h > r.h / 2)
            h = r.h / 2;
        if (h < 3)
            h = 3;
        ap = (struct tui_rect){r.y, r.x, h, r.w};
        r.y += h;
        r.h -= h;
    }
    v->p[TUI_P_APPROVALS]->ops->resize(v->p[TUI_P_APPROVALS], ap);
    v->p[low]->ops->resize(v->p[low], r);
    /* Focus never rests on a pane that is not on screen. */
    bool lowish = v->focus == TUI_P_CMDLOG || v->focus == TUI_P_REQUESTS ||
                  v->focus == TUI_P_GATE || v->focus == TUI_P_SESSION;
    if (v->focus == TUI_P_APPROVALS && ap.h == 0)
        v->focus = low;
    else if (lowish && (v->focus != low || r.h == 0))
        v->focus = r.h ? low : TUI_P_APPROVALS;
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
    {"n", "launch"}, {"r", "restart"},  {"k", "kill"},    {"s", "session"}, {"a", "attach"},
    {"/", "filter"}, {"b", "blocked"},
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
    if (v->prompt == TUI_PROMPT_INPUT) {
        int used = tui_put(s, v->w, y, 0, W, tui_attr(s, TUI_R_KEY), v->input_label);
        /* The end of a long answer stays in view. */
        int room = W - used - 1, n = (int)strlen(v->input);
        used += tui_put(s, v->w, y, used, W - used, A_NORMAL, v->input + (n > room ? n - room : 0));
        tui_put(s, v->w, y, used, W - used, A_REVERSE, " ");
        return;
    }
    if (v->msg[0]) {
        tui_put(s, v->w, y, 0, W, tui_attr(s, TUI_R_TITLE), v->msg);
        return;
    }
    int used = 0;
    size_t np = tui_approvals_pending_total(v);
    if (np) {
        /* A call waiting for the operator outranks the key hints. */
        const struct tui_bottle *b = tui_view_bottle(v);
        char note[160];
        if (b && b->sup.npending == np)
            snprintf(note, sizeof note, "%zu pending approval%s (p)  ", np, np == 1 ? "" : "s");
        else
            snprintf(note, sizeof note, "%zu pending approval%s in other bottles  ", np,
                     np == 1 ? "" : "s");
        used += tui_put(s, v->w, y, 0, W, tui_attr(s, TUI_R_WARN) | A_BOLD, note);
    }
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
    if (v->p[TUI_P_STEPS]->r.h > 0)
        v->p[TUI_P_STEPS]->ops->draw(v->p[TUI_P_STEPS], v);
    place_lower(v);
    enum tui_panel_id low = lower_panel(v);
    if (v->p[low]->r.h > 0)
        v->p[low]->ops->draw(v->p[low], v);
    if (v->p[TUI_P_APPROVALS]->r.h > 0)
        v->p[TUI_P_APPROVALS]->ops->draw(v->p[TUI_P_APPROVALS], v);
    draw_status(v);
    if (v->overlay_text)
        v->p[TUI_P_GATELOG]->ops->draw(v->p[TUI_P_GATELOG], v);
    if (v->show_help)
        v->p[TUI_P_HELP]->ops->draw(v->p[TUI_P_HELP], v);
}

#define confirm tui_view_confirm

void tui_view_confirm(struct tui_view *v, enum tui_action act, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->prompt_text, sizeof v->prompt_text, fmt, ap);
    va_end(ap);
    v->prompt = TUI_PROMPT_CONFIRM;
    v->pending = act;
    v->pending_bottle = v->sel;
}

void tui_view_input(struct tui_view *v, enum tui_action act, const char *label)
{
    snprintf(v->input_label, sizeof v->input_label, "%s", label);
    v->input[0] = '\0';
    v->prompt = TUI_PROMPT_INPUT;
    v->pending = act;
    v->pending_bottle = v->sel;
}

void tui_view_overlay(struct tui_view *v, const char *title, char *text)
{
    free(v->overlay_title);
    free(v->overlay_text);
    v->overlay_title = title ? xstrdup(title) : NULL;
    v->overlay_text = text;
}

/* The typed line: printable characters, Backspace, Enter sends, Esc cancels. */
static int input_key(struct tui_view *v, int key, enum tui_action *act, size_t *idx)
{
    size_t n = strlen(v->input);
    if (key == '\r' || key == '\n' || key == KEY_ENTER) {
        v->prompt = TUI_PROMPT_NONE;
        *act = v->pending;
        *idx = v->pending_bottle;
    } else if (key == 27) {
        v->prompt = TUI_PROMPT_NONE;
        v->input[0] = '\0';
        tui_view_message(v, "cancelled");
    } else if (key == KEY_BACKSPACE || key == 127 || key == 8) {
        /* Back over a whole UTF-8 character. */
        while (n > 0 && ((unsigned char)v->input[n - 1] & 0xc0) == 0x80)
            v->input[--n] = '\0';
        if (n)
            v->input[n - 1] = '\0';
    } else if (key == 21) { /* Ctrl-U */
        v->input[0] = '\0';
    } else if (((key >= 0x20 && key < 0x7f) || (key >= 0x80 && key < 0x100)) &&
               n + 1 < sizeof v->input) {
        v->input[n] = (char)key;
        v->input[n + 1] = '\0';
    }
    return TUI_HANDLED | TUI_REDRAW;
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
    place_lower(v);
    enum tui_panel_id low = lower_panel(v);
    enum tui_panel_id order[4] = {TUI_P_BOTTLES, TUI_P_STEPS};
    int n = v->p[TUI_P_STEPS]->r.h > 0 ? 2 : 1, cur = 0;
    if (v->p[TUI_P_APPROVALS]->r.h > 0)
        order[n++] = TUI_P_APPROVALS;
    if (v->p[low]->r.h > 0)
        order[n++] = low;
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
        /* A log shown for its question closes with the answer. */
        tui_view_overlay(v, NULL, NULL);
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
    if (v->prompt == TUI_PROMPT_INPUT)
        return input_key(v, key, act, idx);
    if (v->overlay_text) {
        tui_view_overlay(v, NULL, NULL);
        return TUI_HANDLED | TUI_REDRAW;
    }
    v->msg[0] = '\0';
    place_lower(v);
    struct tui_bottle *b = tui_view_bottle(v);
    struct tui_panel *rp = v->p[TUI_P_REQUESTS];
    /* a, i, s: the agent's terminal and session (tui_panel_session.c). */
    int sfl = tui_session_key(v, key, act, idx);
    if (sfl)
        return sfl;
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
        if (v->show_cmdlog || v->show_gate) {
            v->show_cmdlog = v->show_gate = false;
            if (v->focus == TUI_P_CMDLOG || v->focus == TUI_P_GATE)
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
        if (v->show_cmdlog)
            v->show_gate = false;
        if (v->focus == TUI_P_REQUESTS || v->focus == TUI_P_CMDLOG || v->focus == TUI_P_GATE)
            v->focus = lower_panel(v);
        return TUI_HANDLED | TUI_REDRAW;
    case 'g':
        /* The gate takes the lower right, focused, until g again. */
        v->show_gate = !v->show_gate;
        if (v->show_gate) {
            v->show_cmdlog = false;
            v->show_approvals = false;
            v->focus = TUI_P_GATE;
        } else if (v->focus == TUI_P_GATE) {
            v->focus = TUI_P_REQUESTS;
        }
        return TUI_HANDLED | TUI_REDRAW;
    case 'p':
        /* Focus the approvals; again: all of the lower right, with the history; again: back. */
        if (v->focus != TUI_P_APPROVALS) {
            if (!tui_approvals_visible(v))
                v->show_approvals = true;
            v->focus = TUI_P_APPROVALS;
        } else if (!v->show_approvals) {
            v->show_approvals = true;
        } else {
            v->show_approvals = false;
            v->focus = lower_panel(v);
        }
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
    if (v->fire != TUI_ACT_NONE) {
        *act = v->fire;
        *idx = v->sel;
        v->fire = TUI_ACT_NONE;
    }
    /* The approval keys reach a waiting call from any pane that has no use for them. */
    if (!fl && v->focus != TUI_P_APPROVALS && v->p[TUI_P_APPROVALS]->r.h > 0 &&
        (key == 'y' || key == 'S' || key == 'd')) {
        struct tui_panel *ap = v->p[TUI_P_APPROVALS];
        fl = ap->ops->key(ap, v, key);
        if (v->fire != TUI_ACT_NONE) {
            *act = v->fire;
            *idx = v->sel;
            v->fire = TUI_ACT_NONE;
        }
    }
    /* s, a, i when no pane had a use for them: the session and the agent's terminal. */
    if (!fl)
        fl = tui_session_key_top(v, key, act, idx);
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
    place_lower(v);
    enum tui_panel_id low = lower_panel(v);
    enum tui_panel_id order[] = {TUI_P_BOTTLES, TUI_P_STEPS, TUI_P_CHAIN, TUI_P_APPROVALS, low};
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
