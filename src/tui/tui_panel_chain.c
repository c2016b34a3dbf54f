/* tui_panel_chain: the hop chain diagram agent → egress → pipelock → upstream with each hop's address, pid, state and counters. */
#include <stdio.h>
#include <string.h>

#include "tui/tui_panel.h"

static enum tui_role hop_role(const struct tui_hop *h)
{
    return h->status == TUI_HOP_UP ? TUI_R_OK : h->status == TUI_HOP_DOWN ? TUI_R_FAIL : TUI_R_DIM;
}

static void chain_draw(struct tui_panel *p, struct tui_view *v)
{
    const struct tui_screen *s = v->scr;
    struct tui_rect r = p->r;
    const struct tui_bottle *b = tui_view_bottle(v);
    tui_box(s, v->w, r.y, r.x, r.h, r.w, "Chain", v->focus == TUI_P_CHAIN);
    int W = r.w - 2, H = r.h - 2, x0 = r.x + 1, y = r.y + 1;
    if (!b || W < 4 || H < 1)
        return;
    /* The diagram: each hop in its state's colour. */
    int used = tui_put(s, v->w, y, x0, W, tui_attr(s, TUI_R_TITLE), "agent");
    for (size_t i = 0; i < b->nhops; i++) {
        used += tui_put(s, v->w, y, x0 + used, W - used, A_NORMAL, " ");
        used += tui_put(s, v->w, y, x0 + used, W - used, tui_attr(s, TUI_R_DIM),
                        tui_glyph(s, TUI_G_ARROW));
        used += tui_put(s, v->w, y, x0 + used, W - used, A_NORMAL, " ");
        used += tui_put(s, v->w, y, x0 + used, W - used, tui_attr(s, hop_role(&b->hops[i])) | A_BOLD,
                        b->hops[i].name);
    }
    used += tui_put(s, v->w, y, x0 + used, W - used, A_NORMAL, " ");
    used += tui_put(s, v->w, y, x0 + used, W - used, tui_attr(s, TUI_R_DIM), tui_glyph(s, TUI_G_ARROW));
    tui_put(s, v->w, y, x0 + used + 1, W - used - 1, tui_attr(s, TUI_R_TITLE), "upstream");
    y++;
    char line[256];
    for (size_t i = 0; i < b->nhops && y < r.y + 1 + H; i++, y++) {
        const struct tui_hop *h = &b->hops[i];
        const char *st = h->status == TUI_HOP_UP ? "up" : h->status == TUI_HOP_DOWN ? "down" : "-";
        used = tui_put(s, v->w, y, x0, W, tui_attr(s, hop_role(h)),
                       tui_glyph(s, h->status == TUI_HOP_DOWN ? TUI_G_DOWN
                                    : h->status == TUI_HOP_UP ? TUI_G_UP
                                                              : TUI_G_PENDING));
        char pid[24] = "-";
        if (h->pid > 0)
            snprintf(pid, sizeof pid, "%ld", h->pid);
        snprintf(line, sizeof line, " %-8s %-15s pid %-6s ", h->name, h->listen ? h->listen : "-",
                 pid);
        used += tui_put(s, v->w, y, x0 + used, W - used, A_NORMAL, line);
        snprintf(line, sizeof line, "%-4s", st);
        used += tui_put(s, v->w, y, x0 + used, W - used, tui_attr(s, hop_role(h)), line);
        snprintf(line, sizeof line, " req %llu blk %llu", (unsigned long long)h->requests,
                 (unsigned long long)h->blocks);
        used += tui_put(s, v->w, y, x0 + used, W - used, A_NORMAL, line);
        if (h->restarts) {
            snprintf(line, sizeof line, " restarted %d", h->restarts);
            tui_put(s, v->w, y, x0 + used, W - used, tui_attr(s, TUI_R_WARN), line);
        }
    }
    if (y < r.y + 1 + H && b->nhops) {
        const struct tui_hop *first = &b->hops[0];
        snprintf(line, sizeof line, "agent trusts the %s CA%s%s", first->name,
                 first->agent_addr ? ", dials " : "", first->agent_addr ? first->agent_addr : "");
        tui_put(s, v->w, y++, x0, W, A_NORMAL, line);
    }
    if (y < r.y + 1 + H && b->upstream[0]) {
        snprintf(line, sizeof line, "upstream %s", b->upstream);
        tui_put(s, v->w, y++, x0, W, tui_attr(s, TUI_R_DIM), line);
    }
}

static const struct tui_panel_ops chain_ops = {
    .name = "chain",
    .draw = chain_draw,
    .resize = tui_panel_resize_default,
    .free = tui_panel_free_default,
};

struct tui_panel *tui_panel_chain_new(void)
{
    return tui_panel_new(&chain_ops);
}
