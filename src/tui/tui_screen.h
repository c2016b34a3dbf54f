/* tui_screen: the one owner of curses setup and teardown, the colour table, the glyph set and
 * clipped drawing. */
#ifndef BOTTLE_TUI_SCREEN_H
#define BOTTLE_TUI_SCREEN_H

#include <stdbool.h>
#include <stdio.h>

/* The wide-character API (cchar_t, waddnwstr) is needed for UTF-8 glyphs. */
#ifndef NCURSES_WIDECHAR
#define NCURSES_WIDECHAR 1
#endif
#include <ncursesw/curses.h>

/* What a piece of text means; the screen maps it to colour or, without
 * colour (NO_COLOR, monochrome terminals), to bold/underline/reverse. */
enum tui_role {
    TUI_R_NORMAL,
    TUI_R_HEADER, /* the top and bottom bars */
    TUI_R_BORDER,
    TUI_R_FOCUS, /* the focused panel's border and title */
    TUI_R_TITLE,
    TUI_R_SELECT, /* the selected row */
    TUI_R_DIM,
    TUI_R_OK,
    TUI_R_FAIL,
    TUI_R_WARN,
    TUI_R_RUN,
    TUI_R_MATCH, /* filter matches */
    TUI_R_KEY,   /* key names in hints and help */
    TUI_R_COUNT
};

enum tui_glyph {
    TUI_G_ARROW,
    TUI_G_HLINE,
    TUI_G_VLINE,
    TUI_G_TL,
    TUI_G_TR,
    TUI_G_BL,
    TUI_G_BR,
    TUI_G_UP,   /* a hop that is up */
    TUI_G_DOWN, /* a hop that is down */
    TUI_G_OK,
    TUI_G_FAIL,
    TUI_G_RUN,
    TUI_G_PENDING,
    TUI_G_SKIP,
    TUI_G_AUTH, /* the auth-rewritten marker */
    TUI_G_EXPANDED,
    TUI_G_COLLAPSED,
    TUI_G_COUNT
};

struct tui_screen {
    SCREEN *sp;
    FILE *in, *out; /* owned when off-screen */
    bool active;
    bool suspended; /* the terminal is lent out (tui_screen_suspend) */
    bool color;
    bool utf8;
    int rows, cols;
    attr_t attr[TUI_R_COUNT];
    const char *const *glyph;
};

/* Take over the terminal on stdin/stdout: colours unless NO_COLOR is set or
 * the terminal has none, UTF-8 glyphs when the locale is UTF-8 (and
 * BOTTLE_ASCII is unset), mouse, keypad. Installs handlers so a crash
 * (SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL) restores the terminal before the
 * signal is re-raised. Returns 0 or -1. */
int tui_screen_open(struct tui_screen *s);
/* A screen of ROWS x COLS writing to /dev/null, for rendering tests. */
int tui_screen_open_offscreen(struct tui_screen *s, int rows, int cols, bool utf8, bool color);
/* HOOK runs on the crash path (and at exit() while curses is still up)
 * after the terminal is restored, before the signal is re-raised: the
 * owner's chance to take its child processes down. It must be
 * async-signal-safe. NULL removes it. */
void tui_screen_set_crash_hook(void (*hook)(void));
/* Restore the terminal. Idempotent. */
void tui_screen_close(struct tui_screen *s);
/* The terminal changed size: ask it and resize curses. */
void tui_screen_resize(struct tui_screen *s);
/* Resize to exactly ROWS x COLS (tests). */
void tui_screen_resize_to(struct tui_screen *s, int rows, int cols);
/* Lend the terminal out (attach): curses' mode is saved and the terminal
 * is left as the shell had it; nothing may be drawn until resume. */
void tui_screen_suspend(struct tui_screen *s);
/* Take the terminal back: curses' mode, the current size, a full redraw
 * on the next refresh. */
void tui_screen_resume(struct tui_screen *s);

static inline attr_t tui_attr(const struct tui_screen *s, enum tui_role r)
{
    return s->attr[r];
}
static inline const char *tui_glyph(const struct tui_screen *s, enum tui_glyph g)
{
    return s->glyph[g];
}

/* Draw STR at Y,X in at most MAXW columns with attribute A; control
 * characters and (in ASCII mode) non-ASCII characters show as '?', so
 * nothing in an event can drive the terminal. Returns the columns used. */
int tui_put(const struct tui_screen *s, WINDOW *w, int y, int x, int maxw, attr_t a,
            const char *str);
/* As tui_put, with each case-insensitive occurrence of NEEDLE drawn as HL. */
int tui_put_hl(const struct tui_screen *s, WINDOW *w, int y, int x, int maxw, attr_t a,
               const char *str, const char *needle, attr_t hl);
/* N spaces (or N repeats of a glyph) from Y,X. */
void tui_fill(const struct tui_screen *s, WINDOW *w, int y, int x, int n, attr_t a,
              const char *glyph);
/* A box with TITLE in its top border (drawn with the focus role when FOCUSED). */
void tui_box(const struct tui_screen *s, WINDOW *w, int y, int x, int h, int wd, const char *title,
             bool focused);
/* Display width of STR as tui_put would draw it. */
int tui_width(const struct tui_screen *s, const char *str);

#endif
