/// One input event, independent of ncurses.
public enum KeyPress: Equatable, Sendable {
    case character(Character)
    case up, down, left, right, pageUp, pageDown, home, end
    case tab, backTab, enter, backspace, delete, escape
    /// Ctrl-C.
    case interrupt
    /// The terminal changed size.
    case resize
    /// A mouse press on cell (x, y).
    case mouse(x: Int, y: Int)
}
