/* tui_panel_steps: the selected bottle's provisioning steps, their commands and output, and the CA
 * fingerprint. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "tui/tui_panel.h"

/* Lines an expanded step shows (its newest output). */
#define STEP_TAIL 12

/* A frame's display lines are built first, then the visible window is drawn. */
struct dline {
    enum tui_role role;
    const char *glyph; /* drawn before the text, in the role's attribute */
    char *text;
    int indent;
    int step;  /* the step this line belongs to */
    bool head; /* the step's own line */
};

struct dlines {
    struct dline *v;
    size_t n, cap;
};

static void dl_add(struct dlines *d, enum tui_role role, const char *glyph, int indent, int step,
                   bool head, char *text)
{
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 64;
        d->v = xrealloc(d->v, d->cap * sizeof *d->v);
    }
    d->v[d->n++] = (struct dline){role, glyph, text, indent, step, head};
}

/* Long text wraps rather than being cut: a failure's explanation and the
 * fingerprint must be readable in full. Wraps by bytes: event text is mostly ASCII. */
static void dl_wrap(struct dlines *d, enum tui_role role, const char *glyph, int indent, int step,
                    const char *text, int W)
{
    int room = W - indent - (glyph ? 2 : 0);
    if (room < 8)
        room = 8;
    size_t len = strlen(text), off = 0;
    do {
        size_t take = len - off > (size_t)room ? (size_t)room : len - off;
        /* Prefer a break at a space in the second half of the line. */
        if (off + take < len)
            for (size_t k = take; k > (size_t)room / 2; k--)
                if (text[off + k] == ' ') {
                    take = k + 1;
                    break;
                }
        dl_add(d, role, off ? NULL : glyph, off && glyph ? indent + 2 : indent, step, false,
               xstrndup(text + off, take));
        off += take;
    } while (off < len);
}

static enum tui_role step_role(enum tui_step_status st)
{
    switch (st) {
    case TUI_STEP_OK:
        return TUI_R_OK;
    case TUI_STEP_FAILED:
        return TUI_R_FAIL;
    case TUI_STEP_RUNNING:
        return TUI_R_RUN;
    default:
        return TUI_R_DIM;
    }
}

static enum tui_glyph step_glyph(enum tui_step_status st)
{
    switch (st) {
    case TUI_STEP_OK:
        return TUI_G_OK;
    case TUI_STEP_FAILED:
        return TUI_G_FAIL;
    case TUI_STEP_RUNNING:
        return TUI_G_RUN;
    case TUI_STEP_SKIPPED:
        return TUI_G_SKIP;
    default:
        return TUI_G_PENDING;
    }
}

/* Lines pinned above the scrolling list: why the bottle failed. */
static void build_pinned(struct dlines *d, const struct tui_view *v, const struct tui_bottle *b,
                         int W)
{
    const struct tui_screen *s = v->scr;
    if (b->fail_step) {
        char *t = xasprintf("failed at '%s': %s", b->fail_step, b->fail_msg ? b->fail_msg : "");
        dl_wrap(d, TUI_R_FAIL, tui_glyph(s, TUI_G_FAIL), 0, -1, t, W);
        free(t);
    }
    if (b->state == TUI_ST_INVALID && b->error)
        dl_wrap(d, TUI_R_FAIL, tui_glyph(s, TUI_G_FAIL), 0, -1, b->error, W);
}

static void build(struct dlines *d, const struct tui_view *v, const struct tui_bottle *b, int W)
{
    const struct tui_screen *s = v->scr;
    for (size_t i = 0; i < b->nsteps; i++) {
        const struct tui_step *st = &b->steps[i];
        char dur[16];
        tui_fmt_ms(dur, sizeof dur, st->ms);
        dl_add(d, step_role(st->status), tui_glyph(s, step_glyph(st->status)), 0, (int)i, true,
               xasprintf("%-9s %6s  %s", st->name, dur, st->detail ? st->detail : ""));
        if (strcmp(st->name, "ca") == 0 && b->fingerprint) {
            /* The fingerprint in full, wrapped: it is what the operator compares. */
            dl_add(d, TUI_R_DIM, NULL, 4, (int)i, false, xstrdup("SHA-256"));
            /* Whole bytes per line ("AB:"), so the pieces read as the openssl output does. */
            int per = (W - 4 + 1) / 3 * 3;
            if (per < 3)
                per = 3;
            size_t len = strlen(b->fingerprint);
            for (size_t off = 0; off < len; off += (size_t)per)
                dl_add(d, TUI_R_NORMAL, NULL, 4, (int)i, false,
                       xstrndup(b->fingerprint + off,
                                len - off < (size_t)per ? len - off : (size_t)per));
        }
        if (!st->expanded)
            continue;
        size_t n = st->out.n, from = n > STEP_TAIL ? n - STEP_TAIL : 0;
        if (from > 0 || st->out.dropped)
            dl_add(
                d, TUI_R_DIM, NULL, 4, (int)i, false,
                xasprintf("... %llu earlier lines", (unsigned long long)(from + st->out.dropped)));
        if (n == 0)
            dl_add(d, TUI_R_DIM, NULL, 4, (int)i, false, xstrdup("(no output)"));
        for (size_t k = from; k < n; k++) {
            const char *line = tui_lines_get(&st->out, k);
            enum tui_role role = line[0] == '$'   ? TUI_R_DIM
                                 : line[0] == '!' ? TUI_R_FAIL
                                                  : TUI_R_NORMAL;
            /* Commands stay one line (the command log has them); output wraps. */
            if (line[0] == '$')
                dl_add(d, role, NULL, 4, (int)i, false, xstrdup(line));
            else
                dl_wrap(d, role, NULL, 4, (int)i, line + 2, W);
        }
    }
}

static void steps_draw(struct tui_panel *p, struct tui_view *v)
{
    const struct tui_screen *s = v->scr;
    struct tui_rect r = p->r;
    const struct tui_bottle *b = tui_view_bottle(v);
    char title[96];
    snprintf(title, sizeof title, "Steps%s%s", b ? " " : "", b ? b->name : "");
    tui_box(s, v->w, r.y, r.x, r.h, r.w, title, v->focus == TUI_P_STEPS);
    int W = r.w - 2, H = r.h - 2;
    if (!b || W < 4 || H < 1)
        return;
    if (p->cursor >= (int)b->nsteps)
        p->cursor = b->nsteps ? (int)b->nsteps - 1 : 0;
    struct dlines pin = {0}, d = {0};
    build_pinned(&pin, v, b, W);
    /* The failure takes at most half the pane; the steps list keeps the rest. */
    size_t npin = pin.n > (size_t)(H / 2) ? (size_t)(H / 2) : pin.n;
    build(&d, v, b, W);
    int y0 = r.y + 1 + (int)npin;
    H -= (int)npin;
    /* A new failure moves the cursor to it and brings its output into view. */
    int fail_idx = -1;
    for (size_t i = 0; i < b->nsteps; i++)
        if (b->steps[i].status == TUI_STEP_FAILED)
            fail_idx = (int)i;
    if (fail_idx >= 0 && p->seen != (const void *)b->fail_step) {
        p->seen = b->fail_step;
        p->cursor = fail_idx;
        int last = 0;
        for (size_t i = 0; i < d.n; i++)
            if (d.v[i].step == fail_idx)
                last = (int)i;
        if (last - p->scroll >= H)
            p->scroll = last - H + 1;
    }
    /* Keep some of the cursor's step in view: its head, or (after a failure
     * jump) the end of its output, which is what explains the failure. */
    int cur = 0, cur_last = 0;
    for (size_t i = 0; i < d.n; i++) {
        if (d.v[i].head && d.v[i].step == p->cursor)
            cur = (int)i;
        if (d.v[i].step == p->cursor)
            cur_last = (int)i;
    }
    if (cur_last < p->scroll)
        p->scroll = cur;
    if (cur >= p->scroll + H)
        p->scroll = cur - H + 1;
    if (p->scroll > (int)d.n - H)
        p->scroll = (int)d.n - H;
    if (p->scroll < 0)
        p->scroll = 0;
    for (size_t i = 0; i < npin; i++) {
        const struct dline *l = &pin.v[i];
        int used = l->indent;
        if (l->glyph)
            used += tui_put(s, v->w, r.y + 1 + (int)i, r.x + 1 + used, W - used,
                            tui_attr(s, l->role), l->glyph) +
                    1;
        tui_put(s, v->w, r.y + 1 + (int)i, r.x + 1 + used, W - used, tui_attr(s, l->role), l->text);
    }
    for (int i = 0; i < H && (size_t)(p->scroll + i) < d.n; i++) {
        const struct dline *l = &d.v[p->scroll + i];
        int y = y0 + i, x = r.x + 1, used = 0;
        bool sel = l->head && l->step == p->cursor && v->focus == TUI_P_STEPS;
        attr_t base = sel ? tui_attr(s, TUI_R_SELECT) : A_NORMAL;
        if (sel)
            tui_fill(s, v->w, y, x, W, base, " ");
        used += l->indent;
        if (l->glyph) {
            used += tui_put(s, v->w, y, x + used, W - used, base | tui_attr(s, l->role), l->glyph);
            used += tui_put(s, v->w, y, x + used, W - used, base, " ");
        }
        attr_t a = base | (l->head && l->role != TUI_R_FAIL ? A_NORMAL : tui_attr(s, l->role));
        tui_put(s, v->w, y, x + used, W - used, a, l->text);
    }
    for (size_t i = 0; i < d.n; i++)
        free(d.v[i].text);
    free(d.v);
    for (size_t i = 0; i < pin.n; i++)
        free(pin.v[i].text);
    free(pin.v);
}

static int steps_key(struct tui_panel *p, struct tui_view *v, int key)
{
    struct tui_bottle *b = tui_view_bottle(v);
    if (!b || b->nsteps == 0)
        return 0;
    switch (key) {
    case KEY_UP:
        if (p->cursor > 0)
            p->cursor--;
        return TUI_HANDLED | TUI_REDRAW;
    case KEY_DOWN:
        if (p->cursor + 1 < (int)b->nsteps)
            p->cursor++;
        return TUI_HANDLED | TUI_REDRAW;
    case KEY_PPAGE:
        p->scroll -= p->r.h - 2;
        p->cursor = 0;
        return TUI_HANDLED | TUI_REDRAW;
    case KEY_NPAGE:
        p->cursor = (int)b->nsteps - 1;
        return TUI_HANDLED | TUI_REDRAW;
    case KEY_HOME:
        p->cursor = 0;
        return TUI_HANDLED | TUI_REDRAW;
    case KEY_END:
        p->cursor = (int)b->nsteps - 1;
        return TUI_HANDLED | TUI_REDRAW;
    case '\r':
    case '\n':
    case KEY_ENTER:
    case ' ':
    case 'e':
        /* The model's expanded flag is view state that happens to live with the step. */
        b->steps[p->cursor].expanded = !b->steps[p->cursor].expanded;
        return TUI_HANDLED | TUI_REDRAW;
    default:
        return 0;
    }
}

static int steps_mouse(struct tui_panel *p, struct tui_view *v, int y, int x, unsigned long bstate)
{
    if (bstate & BUTTON4_PRESSED)
        return steps_key(p, v, KEY_UP);
    if (bstate & BUTTON5_PRESSED)
        return steps_key(p, v, KEY_DOWN);
    return TUI_HANDLED | TUI_REDRAW;
}

static const struct tui_panel_ops steps_ops = {
    .name = "steps",
    .draw = steps_draw,
    .key = steps_key,
    .mouse = steps_mouse,
    .resize = tui_panel_resize_default,
    .free = tui_panel_free_default,
};

struct tui_panel *tui_panel_steps_new(void)
{
    return tui_panel_new(&steps_ops);
}
