#include "CNcursesw.h"

#include <langinfo.h>
#include <locale.h>
#include <signal.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <wchar.h>
#include <curses.h>
#include <term.h>

static struct termios saved_termios;
static int have_saved_termios = 0;
static volatile sig_atomic_t started = 0;
static SCREEN *screen = NULL;

// Leaves the alternate screen, shows the cursor, resets colors and mouse reporting.
static const char restore_sequence[] = "\033[0m\033[?1000l\033[?1002l\033[?1006l\033[?25h\033[?1049l";

static void restore_terminal_raw(void) {
    if (have_saved_termios) tcsetattr(STDIN_FILENO, TCSANOW, &saved_termios);
    ssize_t ignored = write(STDOUT_FILENO, restore_sequence, sizeof restore_sequence - 1);
    (void)ignored;
}

static void on_fatal_signal(int sig) {
    if (started) restore_terminal_raw();
    signal(sig, SIG_DFL);
    raise(sig);
}

void duo_install_restore_handlers(void) {
    if (tcgetattr(STDIN_FILENO, &saved_termios) == 0) have_saved_termios = 1;
    int signals[] = { SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGABRT, SIGFPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT };
    for (unsigned i = 0; i < sizeof signals / sizeof signals[0]; i++) {
        struct sigaction action;
        memset(&action, 0, sizeof action);
        action.sa_handler = on_fatal_signal;
        sigemptyset(&action.sa_mask);
        sigaction(signals[i], &action, NULL);
    }
}

int duo_start(int want_color, int want_mouse) {
    setlocale(LC_ALL, "");
    // The views draw box and block characters; without a UTF-8 locale (LANG unset) ncursesw
    // would print them as escapes. Fall back to C.UTF-8 for character handling.
    if (strcmp(nl_langinfo(CODESET), "UTF-8") != 0) setlocale(LC_CTYPE, "C.UTF-8");
    // newterm rather than initscr: initscr exits the process when TERM is unknown.
    screen = newterm(NULL, stdout, stdin);
    if (screen == NULL) return -1;
    // A terminal that cannot address the cursor (TERM=dumb) would show a blank screen.
    char *cup = tigetstr("cup");
    if (cup == NULL || cup == (char *)-1) {
        endwin();
        delscreen(screen);
        screen = NULL;
        return -2;
    }
    started = 1;
    raw();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    // Home/End as tmux, screen and rxvt send them, for when TERM names a terminal that sends
    // others; unknown sequences would otherwise arrive as Escape plus characters.
    define_key("\033[1~", KEY_HOME);
    define_key("\033[4~", KEY_END);
    define_key("\033[7~", KEY_HOME);
    define_key("\033[8~", KEY_END);
    define_key("\033[H", KEY_HOME);
    define_key("\033[F", KEY_END);
    define_key("\033OH", KEY_HOME);
    define_key("\033OF", KEY_END);
    curs_set(0);
    set_escdelay(25);
    if (want_color && has_colors()) {
        start_color();
        use_default_colors();
    }
    if (want_mouse) {
        mousemask(BUTTON1_PRESSED | BUTTON1_CLICKED, NULL);
        mouseinterval(0);
    }
    return 0;
}

void duo_stop(void) {
    if (!started) return;
    endwin();
    restore_terminal_raw();
    started = 0;
    delscreen(screen);
    screen = NULL;
}

int duo_lines(void) { return LINES; }
int duo_cols(void) { return COLS; }
int duo_colors(void) { return has_colors() ? COLORS : 0; }
int duo_color_pairs(void) { return COLOR_PAIRS; }

int duo_define_pair(int pair, int fg, int bg) {
    return init_extended_pair(pair, fg, bg) == OK ? 0 : -1;
}

void duo_put(int y, int x, const uint32_t *scalars, int count, int attrs, int pair) {
    wchar_t text[6];
    int n = count > 5 ? 5 : count;
    for (int i = 0; i < n; i++) text[i] = (wchar_t)scalars[i];
    text[n] = 0;
    attr_t a = A_NORMAL;
    if (attrs & DUO_ATTR_BOLD) a |= A_BOLD;
    if (attrs & DUO_ATTR_DIM) a |= A_DIM;
    if (attrs & DUO_ATTR_REVERSE) a |= A_REVERSE;
    if (attrs & DUO_ATTR_UNDERLINE) a |= A_UNDERLINE;
    cchar_t cell;
    int p = pair;
    if (setcchar(&cell, text, a, 0, &p) == OK) mvadd_wch(y, x, &cell);
}

void duo_erase(void) { erase(); }
void duo_refresh(void) { refresh(); }

int duo_read_key(int timeout_ms, uint32_t *ch, int *mouse_y, int *mouse_x) {
    timeout(timeout_ms);
    wint_t w = 0;
    int r = get_wch(&w);
    if (r == ERR) return DUO_KEY_NONE;
    if (r == OK) {
        if (w == '\r' || w == '\n') return DUO_KEY_ENTER;
        if (w == 127 || w == 8) return DUO_KEY_BACKSPACE;
        *ch = (uint32_t)w;
        return 0;
    }
    switch (w) {
    case KEY_UP: return DUO_KEY_UP;
    case KEY_DOWN: return DUO_KEY_DOWN;
    case KEY_LEFT: return DUO_KEY_LEFT;
    case KEY_RIGHT: return DUO_KEY_RIGHT;
    case KEY_PPAGE: return DUO_KEY_PAGE_UP;
    case KEY_NPAGE: return DUO_KEY_PAGE_DOWN;
    case KEY_HOME: return DUO_KEY_HOME;
    case KEY_END: return DUO_KEY_END;
    case KEY_BTAB: return DUO_KEY_BACKTAB;
    case KEY_RESIZE: return DUO_KEY_RESIZE;
    case KEY_BACKSPACE: return DUO_KEY_BACKSPACE;
    case KEY_ENTER: return DUO_KEY_ENTER;
    case KEY_DC: return DUO_KEY_DELETE;
    case KEY_MOUSE: {
        MEVENT event;
        if (getmouse(&event) != OK) return DUO_KEY_NONE;
        if (!(event.bstate & (BUTTON1_PRESSED | BUTTON1_CLICKED))) return DUO_KEY_NONE;
        *mouse_y = event.y;
        *mouse_x = event.x;
        return DUO_KEY_MOUSE;
    }
    default: return DUO_KEY_OTHER;
    }
}
