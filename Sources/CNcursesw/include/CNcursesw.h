// Thin C layer over ncursesw for the explorer's front end. Swift 6 cannot touch ncurses'
// macros and mutable globals (stdscr, COLORS, LINES, COLS) directly, so they are wrapped here.
#ifndef DUO_CNCURSESW_H
#define DUO_CNCURSESW_H

#include <stdint.h>

/// Key codes returned by duo_read_key besides plain characters.
enum {
    DUO_KEY_NONE = -1,
    DUO_KEY_UP = -2, DUO_KEY_DOWN = -3, DUO_KEY_LEFT = -4, DUO_KEY_RIGHT = -5,
    DUO_KEY_PAGE_UP = -6, DUO_KEY_PAGE_DOWN = -7, DUO_KEY_HOME = -8, DUO_KEY_END = -9,
    DUO_KEY_BACKTAB = -10, DUO_KEY_RESIZE = -11, DUO_KEY_MOUSE = -12, DUO_KEY_BACKSPACE = -13,
    DUO_KEY_ENTER = -14, DUO_KEY_DELETE = -15, DUO_KEY_OTHER = -16
};

/// Saves the terminal state and installs handlers that restore it on fatal signals and on
/// SIGINT/SIGTERM/SIGHUP, before ncurses takes the terminal.
void duo_install_restore_handlers(void);

/// setlocale + newterm on stdout/stdin + raw keys, no echo, keypad, hidden cursor, colors, optional mouse.
/// Returns 0 on success, -1 if the terminal could not be initialised.
int duo_start(int want_color, int want_mouse);
/// endwin and the restore sequence; safe to call more than once.
void duo_stop(void);

int duo_lines(void);
int duo_cols(void);
/// Colors the terminal offers (0 without color): 8, 16, 256 or 16777216 (direct color).
int duo_colors(void);
int duo_color_pairs(void);

/// Defines pair `pair` as (fg, bg); -1 is the terminal's default color. Returns 0 on success.
int duo_define_pair(int pair, int fg, int bg);

/// Attribute bits for duo_put.
enum { DUO_ATTR_BOLD = 1, DUO_ATTR_DIM = 2, DUO_ATTR_REVERSE = 4, DUO_ATTR_UNDERLINE = 8 };

/// Writes one character (a Unicode scalar plus up to 4 combining scalars) at (y, x).
void duo_put(int y, int x, const uint32_t *scalars, int count, int attrs, int pair);
void duo_erase(void);
void duo_refresh(void);

/// Waits up to `timeout_ms` for a key. Returns a DUO_KEY_* code, or 0 with `*ch` set to a
/// character. Mouse presses give DUO_KEY_MOUSE with the cell in *mouse_y / *mouse_x.
int duo_read_key(int timeout_ms, uint32_t *ch, int *mouse_y, int *mouse_x);

#endif
