/* tui_screen: the one owner of curses setup and teardown, the colour table, the glyph set and
 * clipped drawing. */
#include "tui/tui_screen.h"

#include <ctype.h>
#include <langinfo.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <wchar.h>
#include <wctype.h>

static const char *const glyphs_utf8[TUI_G_COUNT] = {
    [TUI_G_ARROW] = "→",     [TUI_G_HLINE] = "─", [TUI_G_VLINE] = "│", [TUI_G_TL] = "┌",
    [TUI_G_TR] = "┐",        [TUI_G_BL] = "└",    [TUI_G_BR] = "┘",    [TUI_G_UP] = "●",
    [TUI_G_DOWN] = "○",      [TUI_G_OK] = "✓",    [TUI_G_FAIL] = "✗",  [TUI_G_RUN] = "▸",
    [TUI_G_PENDING] = "·",   [TUI_G_SKIP] = "–",  [TUI_G_AUTH] = "✱",  [TUI_G_EXPANDED] = "▾",
    [TUI_G_COLLAPSED] = "▸",
};

static const char *const glyphs_ascii[TUI_G_COUNT] = {
    [TUI_G_ARROW] = ">",     [TUI_G_HLINE] = "-", [TUI_G_VLINE] = "|", [TUI_G_TL] = "+",
    [TUI_G_TR] = "+",        [TUI_G_BL] = "+",    [TUI_G_BR] = "+",    [TUI_G_UP] = "*",
    [TUI_G_DOWN] = "o",      [TUI_G_OK] = "+",    [TUI_G_FAIL] = "X",  [TUI_G_RUN] = ">",
    [TUI_G_PENDING] = ".",   [TUI_G_SKIP] = "-",  [TUI_G_AUTH] = "*",  [TUI_G_EXPANDED] = "v",
    [TUI_G_COLLAPSED] = ">",
};

/* ---- crash safety --------------------------------------------------------------------- */

/* Signal handlers cannot be handed a context, so the one live screen is
 * known here; nothing else is global. */
static volatile sig_atomic_t crash_curses_active;
static void (*volatile crash_hook)(void);

void tui_screen_set_crash_hook(void (*hook)(void))
{
    crash_hook = hook;
}

static void on_crash(int sig)
{
    if (crash_curses_active) {
        crash_curses_active = 0;
        endwin(); /* not async-signal-safe, but the alternative is a wrecked terminal */
    }
    if (crash_hook)
        crash_hook();
    /* SA_RESETHAND restored the default action: re-raise for the core/exit status. */
    raise(sig);
}

static void at_exit_restore(void)
{
    /* Curses still up at exit() means the dashboard did not close normally. */
    if (crash_curses_active) {
        crash_curses_active = 0;
        endwin();
        if (crash_hook)
            crash_hook();
    }
}

static void install_crash_handlers(void)
{
    static const int sigs[] = {SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_crash;
    sa.sa_flags = SA_RESETHAND | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
        sigaction(sigs[i], &sa, NULL);
    static bool registered;
    if (!registered) {
        atexit(at_exit_restore);
        registered = true;
    }
}

/* ---- colour table ----------------------------------------------------------------------- */

enum { PAIR_OK = 1, PAIR_FAIL, PAIR_WARN, PAIR_RUN, PAIR_HEADER, PAIR_MATCH, PAIR_FOCUS, PAIR_KEY };

static void setup_attrs(struct tui_screen *s)
{
    for (int i = 0; i < TUI_R_COUNT; i++)
        s->attr[i] = A_NORMAL;
    if (s->color) {
        start_color();
        use_default_colors();
        init_pair(PAIR_OK, COLOR_GREEN, -1);
        init_pair(PAIR_FAIL, COLOR_RED, -1);
        init_pair(PAIR_WARN, COLOR_YELLOW, -1);
        init_pair(PAIR_RUN, COLOR_CYAN, -1);
        init_pair(PAIR_HEADER, COLOR_BLACK, COLOR_CYAN);
        init_pair(PAIR_MATCH, COLOR_BLACK, COLOR_YELLOW);
        init_pair(PAIR_FOCUS, COLOR_CYAN, -1);
        init_pair(PAIR_KEY, COLOR_YELLOW, -1);
        s->attr[TUI_R_HEADER] = COLOR_PAIR(PAIR_HEADER);
        s->attr[TUI_R_BORDER] = A_DIM;
        s->attr[TUI_R_FOCUS] = COLOR_PAIR(PAIR_FOCUS) | A_BOLD;
        s->attr[TUI_R_TITLE] = A_BOLD;
        s->attr[TUI_R_SELECT] = A_REVERSE;
        s->attr[TUI_R_DIM] = A_DIM;
        s->attr[TUI_R_OK] = COLOR_PAIR(PAIR_OK);
        s->attr[TUI_R_FAIL] = COLOR_PAIR(PAIR_FAIL) | A_BOLD;
        s->attr[TUI_R_WARN] = COLOR_PAIR(PAIR_WARN);
        s->attr[TUI_R_RUN] = COLOR_PAIR(PAIR_RUN);
        s->attr[TUI_R_MATCH] = COLOR_PAIR(PAIR_MATCH) | A_BOLD;
        s->attr[TUI_R_KEY] = COLOR_PAIR(PAIR_KEY) | A_BOLD;
    } else {
        /* Monochrome: meaning is carried by weight and underline, never by colour alone. */
        s->attr[TUI_R_HEADER] = A_REVERSE;
        s->attr[TUI_R_BORDER] = A_NORMAL;
        s->attr[TUI_R_FOCUS] = A_BOLD;
        s->attr[TUI_R_TITLE] = A_BOLD;
        s->attr[TUI_R_SELECT] = A_REVERSE;
        s->attr[TUI_R_DIM] = A_DIM;
        s->attr[TUI_R_OK] = A_BOLD;
        s->attr[TUI_R_FAIL] = A_BOLD | A_UNDERLINE;
        s->attr[TUI_R_WARN] = A_UNDERLINE;
        s->attr[TUI_R_RUN] = A_BOLD;
        s->attr[TUI_R_MATCH] = A_UNDERLINE | A_BOLD;
        s->attr[TUI_R_KEY] = A_BOLD;
    }
}

static void common_setup(struct tui_screen *s)
{
    s->glyph = s->utf8 ? glyphs_utf8 : glyphs_ascii;
    setup_attrs(s);
    cbreak();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    curs_set(0);
    getmaxyx(stdscr, s->rows, s->cols);
}

int tui_screen_open(struct tui_screen *s)
{
    memset(s, 0, sizeof *s);
    const char *cs = nl_langinfo(CODESET);
    const char *ascii = getenv("BOTTLE_ASCII");
    s->utf8 = cs && (strcmp(cs, "UTF-8") == 0 || strcmp(cs, "utf8") == 0) && !(ascii && *ascii);
    /* A short escape delay keeps Esc responsive while still parsing arrow keys. */
    set_escdelay(25);
    s->sp = newterm(NULL, stdout, stdin);
    if (!s->sp)
        return -1;
    set_term(s->sp);
    s->active = true;
    crash_curses_active = 1;
    install_crash_handlers();
    const char *nc = getenv("NO_COLOR");
    s->color = has_colors() && !(nc && *nc);
    common_setup(s);
    mousemask(BUTTON1_PRESSED | BUTTON1_CLICKED | BUTTON4_PRESSED | BUTTON5_PRESSED, NULL);
    mouseinterval(0);
    return 0;
}

int tui_screen_open_offscreen(struct tui_screen *s, int rows, int cols, bool utf8, bool color)
{
    memset(s, 0, sizeof *s);
    s->out = fopen("/dev/null", "w");
    s->in = fopen("/dev/null", "r");
    if (!s->out || !s->in)
        goto error;
    s->sp = newterm("xterm-256color", s->out, s->in);
    if (!s->sp)
        goto error;
    set_term(s->sp);
    s->active = true;
    s->utf8 = utf8;
    s->color = color && has_colors();
    resizeterm(rows, cols);
    common_setup(s);
    return 0;
error:
    if (s->out)
        fclose(s->out);
    if (s->in)
        fclose(s->in);
    s->out = s->in = NULL;
    return -1;
}

void tui_screen_close(struct tui_screen *s)
{
    if (!s->active)
        return;
    s->active = false;
    if (!s->out)
        crash_curses_active = 0;
    endwin();
    delscreen(s->sp);
    s->sp = NULL;
    if (s->out) {
        fclose(s->out);
        fclose(s->in);
        s->out = s->in = NULL;
    } else {
        fflush(stdout);
    }
}

void tui_screen_resize(struct tui_screen *s)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0)
        resizeterm(ws.ws_row, ws.ws_col);
    getmaxyx(stdscr, s->rows, s->cols);
}

void tui_screen_resize_to(struct tui_screen *s, int rows, int cols)
{
    resizeterm(rows, cols);
    getmaxyx(stdscr, s->rows, s->cols);
}

void tui_screen_suspend(struct tui_screen *s)
{
    if (!s->active || s->suspended)
        return;
    def_prog_mode();
    endwin();
    fflush(stdout);
    s->suspended = true;
}

void tui_screen_resume(struct tui_screen *s)
{
    if (!s->active || !s->suspended)
        return;
    s->suspended = false;
    reset_prog_mode();
    tui_screen_resize(s);
    /* The cursor's state is cached: toggle it so the hide is sent again. */
    curs_set(1);
    curs_set(0);
    /* Keypad transmit mode at once, or the first arrow key typed after the
     * terminal came back arrives in cursor mode and is not recognised. */
    const char *smkx = tigetstr("smkx");
    if (smkx && smkx != (const char *)-1) {
        putp(smkx);
        fflush(stdout);
    }
    clearok(curscr, TRUE);
}

/* ---- clipped drawing ------------------------------------------------------------------- */

/* Decode one character at P (N bytes left); *WC gets it, or '?' when it is
 * not printable or not drawable in this mode. Returns bytes consumed. */
static size_t next_char(const struct tui_screen *s, const char *p, size_t n, wchar_t *wc, int *cw)
{
    unsigned char c = (unsigned char)*p;
    if (c < 0x80) {
        *wc = (c >= 0x20 && c < 0x7f) ? (wchar_t)c : L'?';
        *cw = 1;
        return 1;
    }
    mbstate_t st;
    memset(&st, 0, sizeof st);
    size_t k = mbrtowc(wc, p, n, &st);
    if (k == (size_t)-1 || k == (size_t)-2 || k == 0) {
        *wc = L'?';
        *cw = 1;
        return 1;
    }
    int w = wcwidth(*wc);
    if (!s->utf8 || w < 1 || !iswprint((wint_t)*wc)) {
        *wc = L'?';
        w = 1;
    }
    *cw = w;
    return k;
}

int tui_width(const struct tui_screen *s, const char *str)
{
    int cols = 0;
    size_t n = strlen(str);
    for (size_t i = 0; i < n;) {
        wchar_t wc;
        int cw;
        i += next_char(s, str + i, n - i, &wc, &cw);
        cols += cw;
    }
    return cols;
}

static int put_run(const struct tui_screen *s, WINDOW *w, int y, int x, int maxw, attr_t a,
                   const char *str, size_t len)
{
    if (maxw <= 0)
        return 0;
    wattrset(w, a);
    wmove(w, y, x);
    int cols = 0;
    char run[256];
    size_t rn = 0;
    for (size_t i = 0; i < len && cols < maxw;) {
        unsigned char c = (unsigned char)str[i];
        if (c >= 0x20 && c < 0x7f) {
            /* ASCII goes out in runs: the common case stays cheap. */
            run[rn++] = (char)c;
            cols++;
            i++;
            if (rn == sizeof run) {
                waddnstr(w, run, (int)rn);
                rn = 0;
            }
            continue;
        }
        wchar_t wc;
        int cw;
        size_t k = next_char(s, str + i, len - i, &wc, &cw);
        if (cols + cw > maxw)
            break;
        if (rn) {
            waddnstr(w, run, (int)rn);
            rn = 0;
        }
        if (wc < 0x80)
            waddch(w, (chtype)wc);
        else
            waddnwstr(w, &wc, 1);
        cols += cw;
        i += k;
    }
    if (rn)
        waddnstr(w, run, (int)rn);
    wattrset(w, A_NORMAL);
    return cols;
}

int tui_put(const struct tui_screen *s, WINDOW *w, int y, int x, int maxw, attr_t a,
            const char *str)
{
    return put_run(s, w, y, x, maxw, a, str, strlen(str));
}

static const char *find_ci(const char *hay, const char *needle)
{
    size_t nl = strlen(needle);
    for (const char *p = hay; *p; p++)
        if (strncasecmp(p, needle, nl) == 0)
            return p;
    return NULL;
}

int tui_put_hl(const struct tui_screen *s, WINDOW *w, int y, int x, int maxw, attr_t a,
               const char *str, const char *needle, attr_t hl)
{
    if (!needle || !*needle)
        return tui_put(s, w, y, x, maxw, a, str);
    int cols = 0;
    size_t nl = strlen(needle);
    const char *p = str;
    while (*p && cols < maxw) {
        const char *m = find_ci(p, needle);
        size_t plain = m ? (size_t)(m - p) : strlen(p);
        cols += put_run(s, w, y, x + cols, maxw - cols, a, p, plain);
        if (!m)
            break;
        cols += put_run(s, w, y, x + cols, maxw - cols, hl, m, nl);
        p = m + nl;
    }
    return cols;
}

void tui_fill(const struct tui_screen *s, WINDOW *w, int y, int x, int n, attr_t a,
              const char *glyph)
{
    if (n <= 0)
        return;
    if (!glyph || strcmp(glyph, " ") == 0) {
        wattrset(w, a);
        mvwhline(w, y, x, ' ', n);
        wattrset(w, A_NORMAL);
        return;
    }
    for (int i = 0; i < n; i++)
        put_run(s, w, y, x + i, 1, a, glyph, strlen(glyph));
}

void tui_box(const struct tui_screen *s, WINDOW *w, int y, int x, int h, int wd, const char *title,
             bool focused)
{
    if (h < 2 || wd < 2)
        return;
    attr_t a = tui_attr(s, focused ? TUI_R_FOCUS : TUI_R_BORDER);
    tui_put(s, w, y, x, 1, a, tui_glyph(s, TUI_G_TL));
    tui_fill(s, w, y, x + 1, wd - 2, a, tui_glyph(s, TUI_G_HLINE));
    tui_put(s, w, y, x + wd - 1, 1, a, tui_glyph(s, TUI_G_TR));
    for (int i = 1; i < h - 1; i++) {
        tui_put(s, w, y + i, x, 1, a, tui_glyph(s, TUI_G_VLINE));
        tui_put(s, w, y + i, x + wd - 1, 1, a, tui_glyph(s, TUI_G_VLINE));
    }
    tui_put(s, w, y + h - 1, x, 1, a, tui_glyph(s, TUI_G_BL));
    tui_fill(s, w, y + h - 1, x + 1, wd - 2, a, tui_glyph(s, TUI_G_HLINE));
    tui_put(s, w, y + h - 1, x + wd - 1, 1, a, tui_glyph(s, TUI_G_BR));
    if (title && *title && wd > 6) {
        int used = tui_put(s, w, y, x + 2, 1, a, " ");
        used +=
            tui_put(s, w, y, x + 2 + used, wd - 6, focused ? a : tui_attr(s, TUI_R_TITLE), title);
        tui_put(s, w, y, x + 2 + used, 1, a, " ");
    }
}
