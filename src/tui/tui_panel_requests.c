/* tui_panel_requests: the selected bottle's proxied requests: follow or paused, filtered, blocked-only. */
#include <stdio.h>
#include <string.h>

#include "tui/tui_panel.h"
#include "tui/tui_view.h"

/* Column layout for a width: the URL keeps a useful width; optional columns
 * give way first (bytes, latency), then the verdict narrows, then the hop,
 * then the time loses its seconds. */
struct cols {
    int time, hop; /* widths; hop 0 hides it */
    bool ms, bytes;
    int url, verdict;
};

static int url_width(const struct cols *c, int W)
{
    return W - (c->time + 1) - (c->hop ? c->hop + 1 : 0) - 7 - 4 - 2 - c->verdict - (c->ms ? 7 : 0) -
           (c->bytes ? 14 : 0);
}

static struct cols layout(int W)
{
    struct cols c = {.time = 8, .hop = 8, .ms = true, .bytes = true, .verdict = 32};
    while (url_width(&c, W) < 25) {
        if (c.bytes)
            c.bytes = false;
        else if (c.ms)
            c.ms = false;
        else if (c.verdict > 22)
            c.verdict = 22;
        else if (c.hop > 3)
            c.hop = 3;
        else if (c.verdict > 12)
            c.verdict = 12;
        else if (url_width(&c, W) >= 12)
            break;
        else if (c.hop)
            c.hop = 0;
        else if (c.time > 5)
            c.time = 5;
        else
            break;
    }
    c.url = url_width(&c, W);
    if (c.url < 8)
        c.url = 8;
    return c;
}

/* Walk from SEQ (inclusive) towards older (DIR -1) or newer (+1) requests and
 * return the COUNT-th visible one, or the last visible one found. */
static bool step_visible(const struct tui_view *v, const struct tui_reqs *rq, uint64_t *seq,
                         int dir, int count)
{
    uint64_t first = rq->next_seq - rq->n, s = *seq;
    bool moved = false;
    while (count > 0) {
        if (dir < 0 ? s <= first : s + 1 >= rq->next_seq)
            break;
        s = dir < 0 ? s - 1 : s + 1;
        const struct tui_req *q = tui_reqs_at(rq, s);
        if (q && tui_req_visible(v, q)) {
            *seq = s;
            count--;
            moved = true;
        }
    }
    return moved;
}

static void draw_row(const struct tui_view *v, const struct tui_req *q, int y, int x, int W,
                     const struct cols *c)
{
    const struct tui_screen *s = v->scr;
    const char *f = v->filter;
    attr_t hl = tui_attr(s, TUI_R_MATCH);
    char buf[512];
    int used = 0;
    snprintf(buf, sizeof buf, "%.*s ", c->time, q->time);
    used += tui_put(s, v->w, y, x, W, tui_attr(s, TUI_R_DIM), buf);
    if (c->hop) {
        snprintf(buf, sizeof buf, "%-*.*s ", c->hop, c->hop, q->hop);
        used += tui_put_hl(s, v->w, y, x + used, W - used, A_NORMAL, buf, f, hl);
    }
    snprintf(buf, sizeof buf, "%-6.6s ", q->method);
    used += tui_put_hl(s, v->w, y, x + used, W - used, A_NORMAL, buf, f, hl);
    snprintf(buf, sizeof buf, "%s%s", q->host, q->path);
    char url[512];
    snprintf(url, sizeof url, "%-*.*s ", c->url, c->url, buf);
    used += tui_put_hl(s, v->w, y, x + used, W - used, A_NORMAL, url, f, hl);
    snprintf(buf, sizeof buf, "%3d ", q->status);
    used += tui_put_hl(s, v->w, y, x + used, W - used,
                       q->status >= 400 || q->status == 0 ? tui_attr(s, TUI_R_WARN) : A_NORMAL, buf,
                       f, hl);
    if (c->ms) {
        char ms[32] = "";
        if (q->ms >= 0)
            snprintf(ms, sizeof ms, "%ldms", q->ms);
        snprintf(buf, sizeof buf, "%6s ", ms);
        used += tui_put(s, v->w, y, x + used, W - used, A_NORMAL, buf);
    }
    if (c->bytes) {
        snprintf(buf, sizeof buf, "%6lld/%-6lld ", q->bytes_up < 0 ? 0 : q->bytes_up,
                 q->bytes_down < 0 ? 0 : q->bytes_down);
        used += tui_put(s, v->w, y, x + used, W - used, tui_attr(s, TUI_R_DIM), buf);
    }
    used += tui_put(s, v->w, y, x + used, W - used, tui_attr(s, TUI_R_OK),
                    q->rewritten ? tui_glyph(s, TUI_G_AUTH) : " ");
    used += tui_put(s, v->w, y, x + used, W - used, A_NORMAL, " ");
    if (q->blocked) {
        used += tui_put_hl(s, v->w, y, x + used, W - used, tui_attr(s, TUI_R_FAIL), "block", f, hl);
        if (q->reason[0]) {
            snprintf(buf, sizeof buf, ": %s", q->reason);
            tui_put_hl(s, v->w, y, x + used, W - used, A_NORMAL, buf, f, hl);
        }
    } else {
        tui_put_hl(s, v->w, y, x + used, W - used, tui_attr(s, TUI_R_OK), "allow", f, hl);
    }
}

static void requests_draw(struct tui_panel *p, struct tui_view *v)
{
    const struct tui_screen *s = v->scr;
    struct tui_rect r = p->r;
    const struct tui_bottle *b = tui_view_bottle(v);
    char title[256];
    int n = snprintf(title, sizeof title, "Requests %s", p->follow ? "[following]" : "[paused]");
    if (v->blocked_only)
        n += snprintf(title + n, sizeof title - (size_t)n, " [blocked only]");
    if (v->filter[0])
        snprintf(title + n, sizeof title - (size_t)n, " filter: %s", v->filter);
    tui_box(s, v->w, r.y, r.x, r.h, r.w, title, v->focus == TUI_P_REQUESTS);
    int W = r.w - 2, rows = r.h - 3;
    if (W < 8 || rows < 1)
        return;
    struct cols c = layout(W);
    char hdr[512];
    int k = snprintf(hdr, sizeof hdr, "%-*s ", c.time, "TIME");
    if (c.hop)
        k += snprintf(hdr + k, sizeof hdr - (size_t)k, "%-*.*s ", c.hop, c.hop, "HOP");
    k += snprintf(hdr + k, sizeof hdr - (size_t)k, "%-6s %-*s %3s ", "METHOD", c.url, "URL", "ST");
    if (c.ms)
        k += snprintf(hdr + k, sizeof hdr - (size_t)k, "%6s ", "MS");
    if (c.bytes)
        k += snprintf(hdr + k, sizeof hdr - (size_t)k, "%13s ", "UP/DOWN ");
    snprintf(hdr + k, sizeof hdr - (size_t)k, "A VERDICT");
    tui_put(s, v->w, r.y + 1, r.x + 1, W, tui_attr(s, TUI_R_DIM), hdr);
    if (!b || b->reqs.n == 0)
        return;
    const struct tui_reqs *rq = &b->reqs;
    uint64_t first = rq->next_seq - rq->n;
    /* The last row shown: the newest when following, else the anchor. */
    uint64_t end;
    if (p->follow) {
        end = rq->next_seq - 1;
    } else {
        end = p->anchor < first ? first : p->anchor >= rq->next_seq ? rq->next_seq - 1 : p->anchor;
    }
    uint64_t seqs[512];
    int cnt = 0;
    if (rows > 512)
        rows = 512;
    for (uint64_t sq = end + 1; sq-- > first && cnt < rows;) {
        const struct tui_req *q = tui_reqs_at(rq, sq);
        if (q && tui_req_visible(v, q))
            seqs[cnt++] = sq;
        if (sq == 0)
            break;
    }
    /* The request that y and S act on is marked while the pane has the focus. */
    const struct tui_req *selq = v->focus == TUI_P_REQUESTS ? tui_requests_selected(v) : NULL;
    for (int i = 0; i < cnt; i++) {
        const struct tui_req *q = tui_reqs_at(rq, seqs[cnt - 1 - i]);
        draw_row(v, q, r.y + 2 + i, r.x + 1, W, &c);
        if (q == selq)
            mvwchgat(v->w, r.y + 2 + i, r.x + 1, W, tui_attr(s, TUI_R_SELECT),
                     (short)PAIR_NUMBER(tui_attr(s, TUI_R_SELECT)), NULL);
    }
}

const struct tui_req *tui_requests_selected(const struct tui_view *v)
{
    const struct tui_bottle *b = tui_view_bottle(v);
    const struct tui_panel *p = v->p[TUI_P_REQUESTS];
    if (!b || b->reqs.n == 0)
        return NULL;
    const struct tui_reqs *rq = &b->reqs;
    if (!p->follow) {
        const struct tui_req *q = tui_reqs_at(rq, p->anchor);
        return q && tui_req_visible(v, q) ? q : NULL;
    }
    /* Following: the newest blocked request on screen. */
    uint64_t first = rq->next_seq - rq->n;
    int rows = p->r.h - 3;
    for (uint64_t sq = rq->next_seq; sq-- > first && rows > 0;) {
        const struct tui_req *q = tui_reqs_at(rq, sq);
        if (!q || !tui_req_visible(v, q))
            continue;
        rows--;
        if (q->blocked)
            return q;
    }
    return NULL;
}

/* y / S on a blocked request: the host joins the live allowlist, for this run or saved. */
static int allow_key(struct tui_view *v, int key)
{
    const struct tui_req *q = tui_requests_selected(v);
    if (!q) {
        tui_view_message(v, "no blocked request selected (Up pauses and selects)");
        return TUI_HANDLED | TUI_REDRAW;
    }
    if (!q->blocked) {
        tui_view_message(v, "%s was not blocked", q->host);
        return TUI_HANDLED | TUI_REDRAW;
    }
    /* Only an allowlist block is lifted by allowing the host; DLP keeps blocking. */
    if (!strstr(q->reason, "allowlist") && !strstr(q->reason, "not allowed")) {
        tui_view_message(v, "%s was blocked by %s, not the allowlist", q->host, q->reason);
        return TUI_HANDLED | TUI_REDRAW;
    }
    snprintf(v->act_arg, sizeof v->act_arg, "%s", q->host);
    if (key == 'S')
        tui_view_confirm(v, TUI_ACT_ALLOW_HOST_SAVE, "Allow %s and save it to the manifest?",
                         q->host);
    else
        tui_view_confirm(v, TUI_ACT_ALLOW_HOST, "Allow %s for this run?", q->host);
    return TUI_HANDLED | TUI_REDRAW;
}

static int requests_key(struct tui_panel *p, struct tui_view *v, int key)
{
    const struct tui_bottle *b = tui_view_bottle(v);
    if (!b)
        return 0;
    const struct tui_reqs *rq = &b->reqs;
    int page = p->r.h - 3 > 1 ? p->r.h - 3 : 1;
    if (key == 'y' || key == 'S')
        return allow_key(v, key);
    if (key == KEY_END || key == 'G') {
        p->follow = true;
        return TUI_HANDLED | TUI_REDRAW;
    }
    if (rq->n == 0)
        return key == KEY_UP || key == KEY_DOWN || key == KEY_PPAGE || key == KEY_NPAGE ||
                       key == KEY_HOME
                   ? TUI_HANDLED
                   : 0;
    uint64_t first = rq->next_seq - rq->n;
    if (p->follow) {
        /* Scrolling away from the newest pauses at what is on screen now. */
        p->anchor = rq->next_seq - 1;
        const struct tui_req *q = tui_reqs_at(rq, p->anchor);
        if (q && !tui_req_visible(v, q))
            step_visible(v, rq, &p->anchor, -1, 1);
    }
    if (p->anchor < first)
        p->anchor = first;
    switch (key) {
    case KEY_UP:
        p->follow = false;
        step_visible(v, rq, &p->anchor, -1, 1);
        break;
    case KEY_PPAGE:
        p->follow = false;
        step_visible(v, rq, &p->anchor, -1, page);
        break;
    case KEY_DOWN:
        if (!p->follow)
            step_visible(v, rq, &p->anchor, +1, 1);
        break;
    case KEY_NPAGE:
        if (!p->follow)
            step_visible(v, rq, &p->anchor, +1, page);
        break;
    case KEY_HOME:
        p->follow = false;
        p->anchor = first;
        step_visible(v, rq, &p->anchor, +1, page - 1);
        break;
    default:
        return 0;
    }
    return TUI_HANDLED | TUI_REDRAW;
}

static int requests_mouse(struct tui_panel *p, struct tui_view *v, int y, int x,
                          unsigned long bstate)
{
    if (bstate & BUTTON4_PRESSED) {
        for (int i = 0; i < 3; i++)
            requests_key(p, v, KEY_UP);
    } else if (bstate & BUTTON5_PRESSED) {
        for (int i = 0; i < 3; i++)
            requests_key(p, v, KEY_DOWN);
    }
    return TUI_HANDLED | TUI_REDRAW;
}

static const struct tui_panel_ops requests_ops = {
    .name = "requests",
    .draw = requests_draw,
    .key = requests_key,
    .mouse = requests_mouse,
    .resize = tui_panel_resize_default,
    .free = tui_panel_free_default,
};

struct tui_panel *tui_panel_requests_new(void)
{
    return tui_panel_new(&requests_ops);
}
