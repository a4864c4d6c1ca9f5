#ifndef PONDER_CNCURSES_SHIM_H
#define PONDER_CNCURSES_SHIM_H
#define NCURSES_WIDECHAR 1
#ifndef _XOPEN_SOURCE_EXTENDED
#define _XOPEN_SOURCE_EXTENDED 1
#endif
#include <ncursesw/curses.h>
#include <locale.h>
#include <langinfo.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>

/* Wrappers for what Swift cannot import from curses.h: macros, and stdscr as a value. */

static inline WINDOW *ponder_stdscr(void) { return stdscr; }
static inline int ponder_colors(void) { return COLORS; }
static inline int ponder_color_pairs(void) { return COLOR_PAIRS; }
static inline int ponder_lines(void) { return LINES; }
static inline int ponder_cols(void) { return COLS; }
static inline int ponder_key_f(int n) { return KEY_F(n); }

static inline attr_t ponder_attributes(int bold, int dim, int underline, int reverse) {
    attr_t a = A_NORMAL;
    if (bold) a |= A_BOLD;
    if (dim) a |= A_DIM;
    if (underline) a |= A_UNDERLINE;
    if (reverse) a |= A_REVERSE;
    return a;
}

/* Writes a wide string at (y, x) with attributes and an extended colour pair. */
static inline int ponder_put(int y, int x, const wchar_t *text, attr_t attributes, int pair) {
    wattr_set(stdscr, attributes, 0, &pair);
    return mvwaddwstr(stdscr, y, x, text);
}

static inline int ponder_get_wch(wint_t *character) { return wget_wch(stdscr, character); }

static inline void ponder_enable_mouse(void) {
    mousemask(BUTTON1_PRESSED | BUTTON1_CLICKED, NULL);
    mouseinterval(0);
}

/* Returns 1 and the cell of a button-1 press or click, else 0. */
static inline int ponder_mouse_click(int *x, int *y) {
    MEVENT event;
    if (getmouse(&event) != OK) return 0;
    if (!(event.bstate & (BUTTON1_PRESSED | BUTTON1_CLICKED))) return 0;
    *x = event.x;
    *y = event.y;
    return 1;
}

/* Sets the locale from the environment; falls back to C.UTF-8 when it is not UTF-8. */
static inline void ponder_use_utf8_locale(void) {
    const char *set = setlocale(LC_ALL, "");
    const char *codeset = nl_langinfo(CODESET);
    if (set == NULL || codeset == NULL || (strstr(codeset, "UTF-8") == NULL && strstr(codeset, "utf8") == NULL))
        setlocale(LC_CTYPE, "C.UTF-8");
}

static inline SCREEN *ponder_newterm(void) { return newterm(NULL, stdout, stdin); }

/* Writes control bytes straight to the terminal (bracketed paste on and off). */
static inline void ponder_write_raw(const char *text) {
    fflush(stdout);
    ssize_t unused = write(STDOUT_FILENO, text, strlen(text));
    (void)unused;
}

static void ponder_crash_handler(int number) {
    endwin();
    ponder_write_raw("\033[?2004l\033[?1000l");
    signal(number, SIG_DFL);
    raise(number);
}

/* On a fatal signal: give the terminal back, then die of the signal as before. */
static inline void ponder_install_crash_handlers(void) {
    int signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGTERM, SIGHUP, SIGQUIT};
    for (unsigned i = 0; i < sizeof signals / sizeof signals[0]; i++) signal(signals[i], ponder_crash_handler);
}

static inline int ponder_move_cursor(int y, int x) { return wmove(stdscr, y, x); }
#endif
