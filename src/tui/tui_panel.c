/* tui_panel: the helpers every panel shares: construction, geometry, formatting and the requests
 * filter. */
#include "tui/tui_panel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/util.h"

struct tui_bottle *tui_view_bottle(const struct tui_view *v)
{
    return v->m && v->sel < v->m->n ? v->m->b[v->sel] : NULL;
}

struct tui_panel *tui_panel_new(const struct tui_panel_ops *ops)
{
    struct tui_panel *p = xcalloc(1, sizeof *p);
    p->ops = ops;
    p->follow = true;
    return p;
}

void tui_panel_resize_default(struct tui_panel *p, struct tui_rect r)
{
    p->r = r;
}

void tui_panel_free_default(struct tui_panel *p)
{
    free(p);
}

bool tui_panel_contains(const struct tui_panel *p, int y, int x)
{
    return p->r.h > 0 && y >= p->r.y && y < p->r.y + p->r.h && x >= p->r.x && x < p->r.x + p->r.w;
}

long tui_panel_list_mouse(struct tui_panel *p, struct tui_view *v, int y, unsigned long bstate,
                          int header, size_t n, int *ret)
{
    if (bstate & (BUTTON4_PRESSED | BUTTON5_PRESSED)) {
        *ret = p->ops->key(p, v, bstate & BUTTON4_PRESSED ? KEY_UP : KEY_DOWN);
        return -1;
    }
    *ret = TUI_HANDLED | TUI_REDRAW;
    int row = y - header + p->scroll;
    return y >= header && row >= 0 && (size_t)row < n ? row : -1;
}

void tui_fmt_ms(char *out, size_t n, long ms)
{
    if (ms < 0)
        snprintf(out, n, "%s", "");
    else if (ms < 1000)
        snprintf(out, n, "%ldms", ms);
    else if (ms < 60000)
        snprintf(out, n, "%ld.%lds", ms / 1000, (ms % 1000) / 100);
    else
        snprintf(out, n, "%ldm%02lds", ms / 60000, (ms / 1000) % 60);
}

void tui_fmt_uptime(char *out, size_t n, uint64_t ms)
{
    uint64_t s = ms / 1000;
    if (s < 60)
        snprintf(out, n, "%us", (unsigned)s);
    else if (s < 3600)
        snprintf(out, n, "%um%02us", (unsigned)(s / 60), (unsigned)(s % 60));
    else if (s < 86400)
        snprintf(out, n, "%uh%02um", (unsigned)(s / 3600), (unsigned)((s / 60) % 60));
    else
        snprintf(out, n, "%ud%02uh", (unsigned)(s / 86400), (unsigned)((s / 3600) % 24));
}

enum tui_role tui_state_role(enum tui_state s)
{
    switch (s) {
    case TUI_ST_RUNNING:
        return TUI_R_OK;
    case TUI_ST_CREATING:
    case TUI_ST_PROVISIONING:
        return TUI_R_RUN;
    case TUI_ST_STOPPING:
        return TUI_R_WARN;
    case TUI_ST_FAILED:
    case TUI_ST_INVALID:
        return TUI_R_FAIL;
    case TUI_ST_STOPPED:
        break;
    }
    return TUI_R_DIM;
}

static bool has_ci(const char *hay, const char *needle)
{
    size_t nl = strlen(needle);
    for (const char *p = hay; *p; p++)
        if (strncasecmp(p, needle, nl) == 0)
            return true;
    return false;
}

bool tui_req_visible(const struct tui_view *v, const struct tui_req *q)
{
    if (v->blocked_only && !q->blocked)
        return false;
    if (!v->filter[0])
        return true;
    /* The filter matches what a row shows: the method, URL, hop, status, verdict and reason. */
    char status[16];
    snprintf(status, sizeof status, "%d", q->status);
    return has_ci(q->host, v->filter) || has_ci(q->path, v->filter) ||
           has_ci(q->method, v->filter) || has_ci(q->hop, v->filter) ||
           has_ci(q->reason, v->filter) || has_ci(status, v->filter) ||
           has_ci(q->blocked ? "block" : "allow", v->filter);
}
