/* tui_panel_session: the selected bottle's agent session, live: its output lines, or the
 * stream-json timeline when the agent is Claude Code; scrollable, following by default. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "core/util.h"
#include "tui/tui_panel.h"
#include "tui/tui_session.h"
#include "tui/tui_view.h"

/* p->follow: the newest line is at the bottom. Paused, the view's bottom
 * line is p->scroll lines up from the last line of entry p->anchor, so new
 * output never moves what the operator reads. p->seen: the session drawn,
 * so another bottle's starts following. */

static unsigned render_flags(const struct tui_view *v)
{
    return v->scr->utf8 ? 0 : STREAMJSON_R_ASCII;
}

static int text_width(const struct tui_panel *p)
{
    return p->r.w - 2 > 1 ? p->r.w - 2 : 1;
}

static size_t entry_lines(const struct tui_view *v, const struct tui_panel *p,
                          const struct streamjson_entry *e)
{
    struct strv l = {0};
    size_t n = streamjson_render(e, text_width(p), render_flags(v), &l);
    strv_free(&l);
    return n;
}

static enum tui_role kind_role(enum streamjson_kind k, bool timeline)
{
    switch (k) {
    case STREAMJSON_INIT:
    case STREAMJSON_RESULT:
        return TUI_R_TITLE;
    case STREAMJSON_THINKING:
    case STREAMJSON_TOOL_OK:
        return TUI_R_DIM;
    case STREAMJSON_USER:
    case STREAMJSON_TOOL_CALL:
        return TUI_R_KEY;
    case STREAMJSON_TOOL_ERROR:
        return TUI_R_FAIL;
    case STREAMJSON_RAW:
        return timeline ? TUI_R_WARN : TUI_R_NORMAL;
    case STREAMJSON_TEXT:
        break;
    }
    return TUI_R_NORMAL;
}

static struct tui_session *selected(const struct tui_view *v)
{
    const struct tui_bottle *b = tui_view_bottle(v);
    return b ? b->session : NULL;
}

static void pause_here(struct tui_panel *p, const struct tui_session *ss)
{
    if (!p->follow)
        return;
    p->follow = false;
    p->anchor = ss && ss->n ? tui_session_last(ss) : 0;
    p->scroll = 0;
}

static void scroll_up(struct tui_panel *p, const struct tui_session *ss, int n)
{
    if (!ss || !ss->n)
        return;
    pause_here(p, ss);
    p->scroll = p->scroll > INT_MAX - n ? INT_MAX : p->scroll + n;
}

static void scroll_down(struct tui_panel *p, const struct tui_view *v, const struct tui_session *ss,
                        int n)
{
    if (p->follow || !ss || !ss->n)
        return;
    if (p->anchor < tui_session_first(ss))
        p->anchor = tui_session_first(ss);
    p->scroll -= n;
    while (p->scroll < 0) {
        if (p->anchor >= tui_session_last(ss)) {
            p->follow = true;
            p->scroll = 0;
            return;
        }
        p->anchor++;
        p->scroll += (int)entry_lines(v, p, tui_session_at(ss, p->anchor));
    }
}

/* The entries' display lines, newest first: what a frame may show. */
struct shown {
    struct strv lines; /* the entries' lines, each entry's in order, entries newest first */
    struct {
        size_t first, n; /* the entry's lines in LINES */
        uint64_t seq;
        enum tui_role role;
    } ent[512];
    size_t nent;
};

static void session_draw(struct tui_panel *p, struct tui_view *v)
{
    const struct tui_screen *s = v->scr;
    struct tui_rect r = p->r;
    const struct tui_bottle *b = tui_view_bottle(v);
    struct tui_session *ss = selected(v);
    if (p->seen != ss) {
        p->seen = ss;
        p->follow = true;
        p->scroll = 0;
    }
    char title[160];
    int tn = snprintf(title, sizeof title, "Session %s %s", b ? b->name : "",
                      p->follow ? "[following]" : "[paused]");
    if (ss && ss->timeline && tn > 0 && (size_t)tn < sizeof title)
        tn += snprintf(title + tn, sizeof title - (size_t)tn, " stream-json");
    if (ss && ss->sj.totals.have && tn > 0 && (size_t)tn < sizeof title)
        snprintf(title + tn, sizeof title - (size_t)tn, " %lld turn%s $%.4f", ss->sj.totals.turns,
                 ss->sj.totals.turns == 1 ? "" : "s", ss->sj.totals.cost_usd);
    tui_box(s, v->w, r.y, r.x, r.h, r.w, title, v->focus == TUI_P_SESSION);
    int W = r.w - 2, rows = r.h - 2;
    if (W < 4 || rows < 1)
        return;
    /* Where the keys are, on the bottom border: the pane is how a newcomer finds them. */
    if (r.w > 44)
        tui_put(s, v->w, r.y + r.h - 1, r.x + r.w - 40, 38, tui_attr(s, TUI_R_DIM),
                " a attach  i type a line  s requests ");
    if (!ss || !ss->n) {
        const char *why = !b                           ? "no bottle selected"
                          : b->state == TUI_ST_RUNNING ? "no output from the agent yet"
                                                       : "no session: the agent is not running";
        tui_put(s, v->w, r.y + 1, r.x + 1, W, tui_attr(s, TUI_R_DIM), why);
        return;
    }
    uint64_t first = tui_session_first(ss), last = tui_session_last(ss);
    if (!p->follow && (p->anchor < first || p->anchor > last)) {
        p->anchor = p->anchor < first ? first : last;
        p->scroll = 0;
    }
    if (p->follow)
        p->scroll = 0;
    /* Scrolled past the anchor entry: anchor on the entry at the bottom instead. */
    for (int n; !p->follow && p->scroll > 0 &&
                p->scroll >= (n = (int)entry_lines(v, p, tui_session_at(ss, p->anchor)));) {
        if (p->anchor == first) {
            p->scroll = n - 1;
            break;
        }
        p->scroll -= n;
        p->anchor--;
    }
    uint64_t seq = p->follow ? last : p->anchor;
    size_t need = (size_t)p->scroll + (size_t)rows;
    struct shown sh;
    memset(&sh.lines, 0, sizeof sh.lines);
    sh.nent = 0;
    bool reached_oldest = false;
    for (;;) {
        const struct streamjson_entry *e = tui_session_at(ss, seq);
        size_t before = sh.lines.n;
        streamjson_render(e, W, render_flags(v), &sh.lines);
        sh.ent[sh.nent].first = before;
        sh.ent[sh.nent].n = sh.lines.n - before;
        sh.ent[sh.nent].seq = seq;
        sh.ent[sh.nent].role = kind_role(e->kind, ss->timeline);
        sh.nent++;
        if (seq == first) {
            reached_oldest = true;
            break;
        }
        if (sh.lines.n >= need || sh.nent == sizeof sh.ent / sizeof *sh.ent)
            break;
        seq--;
    }
    size_t total = sh.lines.n;
    if (reached_oldest && (size_t)p->scroll + (size_t)rows > total)
        p->scroll = total > (size_t)rows ? (int)(total - (size_t)rows) : 0;
    if ((size_t)p->scroll > total)
        p->scroll = (int)total;
    /* Line k counted from the bottom (0: the anchor entry's last line). */
    size_t count =
        total - (size_t)p->scroll < (size_t)rows ? total - (size_t)p->scroll : (size_t)rows;
    for (size_t i = 0; i < count; i++) {
        size_t k = (size_t)p->scroll + count - 1 - i, acc = 0;
        for (size_t j = 0; j < sh.nent; j++) {
            if (k < acc + sh.ent[j].n) {
                size_t line = sh.ent[j].first + (sh.ent[j].n - 1 - (k - acc));
                tui_put(s, v->w, r.y + 1 + (int)i, r.x + 1, W, tui_attr(s, sh.ent[j].role),
                        sh.lines.v[line]);
                break;
            }
            acc += sh.ent[j].n;
        }
    }
    /* Keep a paused view cheap to draw: re-anchor on the entry at its bottom. */
    if (!p->follow) {
        size_t acc = 0;
        for (size_t j = 0; j < sh.nent; j++) {
            if ((size_t)p->scroll < acc + sh.ent[j].n) {
                p->anchor = sh.ent[j].seq;
                p->scroll -= (int)acc;
                break;
            }
            acc += sh.ent[j].n;
        }
    }
    strv_free(&sh.lines);
}

static int session_key(struct tui_panel *p, struct tui_view *v, int key)
{
    struct tui_session *ss = selected(v);
    int page = p->r.h - 3 > 1 ? p->r.h - 3 : 1;
    switch (key) {
    case KEY_UP:
        scroll_up(p, ss, 1);
        break;
    case KEY_DOWN:
        scroll_down(p, v, ss, 1);
        break;
    case KEY_PPAGE:
        scroll_up(p, ss, page);
        break;
    case KEY_NPAGE:
        scroll_down(p, v, ss, page);
        break;
    case KEY_HOME:
        if (ss && ss->n) {
            /* The oldest line at the top: at the bottom, then down a pane less one. */
            pause_here(p, ss);
            p->anchor = tui_session_first(ss);
            p->scroll = (int)entry_lines(v, p, tui_session_at(ss, p->anchor)) - 1;
            scroll_down(p, v, ss, p->r.h - 3 > 0 ? p->r.h - 3 : 0);
        }
        break;
    case KEY_END:
    case 'G':
        p->follow = true;
        p->scroll = 0;
        break;
    default:
        return 0;
    }
    return TUI_HANDLED | TUI_REDRAW;
}

static int session_mouse(struct tui_panel *p, struct tui_view *v, int y, int x,
                         unsigned long bstate)
{
    struct tui_session *ss = selected(v);
    if (bstate & BUTTON4_PRESSED)
        scroll_up(p, ss, 3);
    else if (bstate & BUTTON5_PRESSED)
        scroll_down(p, v, ss, 3);
    return TUI_HANDLED | TUI_REDRAW;
}

static const struct tui_panel_ops session_ops = {
    .name = "session",
    .draw = session_draw,
    .key = session_key,
    .mouse = session_mouse,
    .resize = tui_panel_resize_default,
    .free = tui_panel_free_default,
};

struct tui_panel *tui_panel_session_new(void)
{
    return tui_panel_new(&session_ops);
}

/* ---- the top-level keys for the agent's terminal ------------------------------------------- */

static bool agent_running(struct tui_view *v, const char *what)
{
    const struct tui_bottle *b = tui_view_bottle(v);
    if (!b)
        return false;
    if (b->state != TUI_ST_RUNNING) {
        tui_view_message(v, "%s is %s: no agent to %s", b->name, tui_state_name(b->state), what);
        return false;
    }
    return true;
}

int tui_session_key(struct tui_view *v, int key, enum tui_action *act, size_t *idx)
{
    struct tui_panel *p = v->p[TUI_P_SESSION];
    (void)act;
    (void)idx;
    switch (key) {
    case 'f':
        if (!v->show_session)
            return 0;
        if (p->follow)
            pause_here(p, selected(v));
        else
            p->follow = true;
        return TUI_HANDLED | TUI_REDRAW;
    case 'c':
    case 'g':
    case '/':
        /* These show another pane in the lower area: the session makes way. */
        if (v->show_session) {
            v->show_session = false;
            if (v->focus == TUI_P_SESSION)
                v->focus = TUI_P_REQUESTS;
            tui_view_layout(v);
        }
        return 0;
    default:
        return 0;
    }
}

int tui_session_key_top(struct tui_view *v, int key, enum tui_action *act, size_t *idx)
{
    switch (key) {
    case 's':
        v->show_session = !v->show_session;
        if (v->show_session) {
            v->show_cmdlog = v->show_gate = v->show_approvals = false;
            v->focus = TUI_P_SESSION;
        } else if (v->focus == TUI_P_SESSION) {
            v->focus = TUI_P_REQUESTS;
        }
        tui_view_layout(v);
        return TUI_HANDLED | TUI_REDRAW;
    case 'a':
        if (agent_running(v, "attach to")) {
            *act = TUI_ACT_ATTACH;
            *idx = v->sel;
        }
        return TUI_HANDLED | TUI_REDRAW;
    case 'i':
        if (agent_running(v, "type to")) {
            char label[96];
            snprintf(label, sizeof label,
                     "type to %s (Enter sends, Esc cancels): ", tui_view_bottle(v)->name);
            tui_view_input(v, TUI_ACT_SEND, label);
        }
        return TUI_HANDLED | TUI_REDRAW;
    default:
        return 0;
    }
}
