/* tui_attach: the operator's terminal handed to an agent's pty and back: raw keys in, the
 * agent's output out, resizes passed through, a detach key. */
#include "tui/tui_attach.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "core/bottle.h"
#include "core/util.h"

/* ---- the tail kept for a repaint ------------------------------------------------------------ */

void tui_tail_append(struct tui_tail *t, const char *data, size_t len)
{
    if (!t->p)
        t->p = xmalloc(TUI_TAIL_MAX);
    if (len >= TUI_TAIL_MAX) {
        memcpy(t->p, data + len - TUI_TAIL_MAX, TUI_TAIL_MAX);
        t->len = TUI_TAIL_MAX;
        t->cut = true;
        return;
    }
    if (t->len + len > TUI_TAIL_MAX) {
        size_t drop = t->len + len - TUI_TAIL_MAX;
        memmove(t->p, t->p + drop, t->len - drop);
        t->len -= drop;
        t->cut = true;
    }
    memcpy(t->p + t->len, data, len);
    t->len += len;
}

void tui_tail_clear(struct tui_tail *t)
{
    free(t->p);
    memset(t, 0, sizeof *t);
}

/* ---- writing to the operator's terminal --------------------------------------------------------
 */

/* Blocking, as curses writes: the dashboard is not drawing while attached,
 * and a terminal slower than the agent holds the agent back (its pty fills)
 * rather than growing a queue here. */
static void out(struct tui_attach *t, const char *p, size_t n)
{
    int stalls = 0;
    while (n) {
        ssize_t w = write(STDOUT_FILENO, p, n);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            t->bytes_out += (unsigned long long)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && errno == EAGAIN && stalls++ < 50) {
            struct pollfd pf = {.fd = STDOUT_FILENO, .events = POLLOUT};
            poll(&pf, 1, 20);
        } else {
            return; /* the terminal went away: its hangup ends the dashboard */
        }
    }
}

static void outs(struct tui_attach *t, const char *s)
{
    out(t, s, strlen(s));
}

/* Replays a tail of terminal output without the sequences that make a
 * terminal answer (device status, attributes, window reports, OSC and DCS
 * queries): their answers would reach the agent as if typed. */
static void replay(struct tui_attach *t, const char *p, size_t n)
{
    size_t i = 0, from = 0;
    while (i < n) {
        if (p[i] != 0x1b || i + 1 >= n) {
            i++;
            continue;
        }
        size_t j = i + 1;
        bool drop = false;
        if (p[j] == '[') {
            j++;
            bool dollar = false;
            while (j < n && (unsigned char)p[j] >= 0x20 && (unsigned char)p[j] <= 0x3f)
                j++;
            while (j < n && (unsigned char)p[j] >= 0x20 && (unsigned char)p[j] <= 0x2f)
                dollar = dollar || p[j++] == '$';
            if (j >= n)
                break; /* cut short: leave it out */
            char fin = p[j++];
            drop = fin == 'n' || fin == 'c' || fin == 't' || (dollar && fin == 'p') || fin == 'q';
        } else if (p[j] == ']' || p[j] == 'P') {
            bool q = false, dcs = p[j] == 'P';
            j++;
            while (j < n && p[j] != 0x07 && !(p[j] == 0x1b && j + 1 < n && p[j + 1] == '\\'))
                q = q || p[j++] == '?';
            if (j >= n)
                break;
            j += p[j] == 0x07 ? 1 : 2;
            drop = dcs || q;
        } else {
            i = j;
            continue;
        }
        if (drop) {
            out(t, p + from, i - from);
            from = j;
        }
        i = j;
    }
    out(t, p + from, (i < n ? i : n) - from);
}

/* ---- keys in ----------------------------------------------------------------------------------
 */

int tui_attach_parse_key(const char *spec, char name[16])
{
    if (!spec)
        return -1;
    int c = -1;
    const char *rest = NULL;
    if (spec[0] == '^' && spec[1] && !spec[2])
        rest = spec + 1;
    else if (strncasecmp(spec, "C-", 2) == 0 && spec[2] && !spec[3])
        rest = spec + 2;
    else if (strncasecmp(spec, "Ctrl-", 5) == 0 && spec[5] && !spec[6])
        rest = spec + 5;
    else if (strncasecmp(spec, "Ctrl+", 5) == 0 && spec[5] && !spec[6])
        rest = spec + 5;
    if (rest) {
        int k = toupper((unsigned char)*rest);
        if (k >= '@' && k <= '_')
            c = k ^ 0x40;
    } else if (strncasecmp(spec, "0x", 2) == 0 && spec[2]) {
        char *end;
        long v = strtol(spec + 2, &end, 16);
        if (!*end && v > 0 && v < 0x20)
            c = (int)v;
    }
    if (c < 0)
        return -1;
    snprintf(name, 16, "Ctrl-%c", c ^ 0x40);
    return c;
}

int tui_attach_init(struct tui_attach *t, uv_loop_t *loop, tui_attach_detach_cb on_detach)
{
    memset(t, 0, sizeof *t);
    t->loop = loop;
    t->on_detach = on_detach;
    const char *spec = getenv("BOTTLE_DETACH_KEY");
    int k = spec && *spec ? tui_attach_parse_key(spec, t->key_name) : -1;
    if (k < 0)
        tui_attach_parse_key("^]", t->key_name);
    t->key = k < 0 ? TUI_ATTACH_KEY_DEFAULT : k;
    return spec && *spec && k < 0 ? -1 : 0;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    struct tui_attach *t = h->data;
    (void)hint;
    b->base = t->buf;
    b->len = sizeof t->buf;
}

static void on_keys(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    struct tui_attach *t = st->data;
    if (!t->b)
        return;
    if (n < 0) {
        t->on_detach(t, "the terminal closed");
        return;
    }
    const char *k = memchr(buf->base, t->key, (size_t)n);
    size_t len = k ? (size_t)(k - buf->base) : (size_t)n;
    if (len) {
        bottle_agent_input(t->b, buf->base, len);
        t->bytes_in += len;
    }
    if (k)
        t->on_detach(t, NULL);
}

/* ---- attach and detach ------------------------------------------------------------------------
 */

static bool term_size(unsigned short *rows, unsigned short *cols)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) != 0 || ws.ws_row == 0 || ws.ws_col == 0)
        return false;
    *rows = ws.ws_row;
    *cols = ws.ws_col;
    return true;
}

static void on_tty_closed(uv_handle_t *h)
{
    free(h);
}

int tui_attach_start(struct tui_attach *t, struct bottle *b, const struct tui_tail *tail)
{
    if (t->b)
        return -EBUSY;
    if (!b->agent)
        return -EPIPE;
    uv_tty_t *in = xmalloc(sizeof *in);
    int rc = uv_tty_init(t->loop, in, STDIN_FILENO, 1);
    if (rc != 0) {
        free(in);
        return rc;
    }
    in->data = t;
    if ((rc = uv_tty_set_mode(in, UV_TTY_MODE_RAW)) != 0 ||
        (rc = uv_read_start((uv_stream_t *)in, on_alloc, on_keys)) != 0) {
        uv_tty_set_mode(in, UV_TTY_MODE_NORMAL);
        uv_close((uv_handle_t *)in, on_tty_closed);
        return rc;
    }
    t->in = in;
    t->b = b;
    t->bytes_in = t->bytes_out = 0;
    /* A clean screen, the banner, then what the agent showed last. */
    char banner[160];
    snprintf(banner, sizeof banner, "\033[0m\033[H\033[2J[bottle] attached to %s; %s detaches\r\n",
             b->name, t->key_name);
    outs(t, banner);
    if (tail && tail->len) {
        const char *p = tail->p;
        size_t n = tail->len;
        const char *nl = tail->cut ? memchr(p, '\n', n) : NULL;
        if (nl) {
            n -= (size_t)(nl + 1 - p);
            p = nl + 1;
        }
        replay(t, p, n);
    }
    /* The agent's terminal takes the operator's size; a change of size is
     * also what makes a full-screen program (or readline) redraw, so an
     * unchanged size is nudged and put back. */
    unsigned short rows, cols;
    if (term_size(&rows, &cols)) {
        if (rows == b->agent_rows && cols == b->agent_cols)
            bottle_agent_resize(b, rows, cols > 1 ? cols - 1 : cols + 1);
        bottle_agent_resize(b, rows, cols);
    }
    return 0;
}

void tui_attach_stop(struct tui_attach *t)
{
    if (!t->b)
        return;
    t->b = NULL;
    if (t->in) {
        uv_read_stop((uv_stream_t *)t->in);
        uv_tty_set_mode(t->in, UV_TTY_MODE_NORMAL);
        uv_close((uv_handle_t *)t->in, on_tty_closed);
        t->in = NULL;
    }
    /* Whatever the agent switched on is switched off before the dashboard
     * draws again: attributes, mouse reports, bracketed paste, application
     * keys, its alternate screen; the cursor shown. */
    outs(t, "\033[0m\033[?1000l\033[?1002l\033[?1003l\033[?1006l\033[?2004l\033[?1l\033>"
            "\033[?1049l\033[?25h\r\n");
}

void tui_attach_output(struct tui_attach *t, struct bottle *b, const char *data, size_t len)
{
    if (t->b && t->b == b)
        out(t, data, len);
}

void tui_attach_winch(struct tui_attach *t)
{
    unsigned short rows, cols;
    if (t->b && term_size(&rows, &cols))
        bottle_agent_resize(t->b, rows, cols);
}
