import CNcursesw
import DuoEngine

#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// The ncurses front end: owns the terminal between `start` and `stop`, draws grids (only the
/// cells that changed since the last frame) and turns ncurses input into `KeyPress`es.
public final class TerminalScreen {
    /// The colors actually drawn with: the requested depth, capped at what the terminal offers.
    public private(set) var depth: ColorDepth
    /// Whether ncurses takes color numbers as (r << 16) | (g << 8) | b rather than palette indices.
    private let terminalIsDirectColor: Bool
    private let colorPairLimit: Int
    /// Color pair numbers by (foreground, background) terminal color; pair 0 is the default colors.
    private var colorPairs: [ColorPairKey: Int32] = [ColorPairKey(foreground: -1, background: -1): 0]
    private var lastDrawn: CellGrid?
    private var running = true

    private struct ColorPairKey: Hashable {
        var foreground: Int
        var background: Int
    }

    /// The most colors this terminal session can show (none when ncurses started without color).
    public let available: ColorDepth

    private init(depth: ColorDepth, available: ColorDepth, terminalIsDirectColor: Bool, colorPairLimit: Int) {
        self.depth = depth
        self.available = available
        self.terminalIsDirectColor = terminalIsDirectColor
        self.colorPairLimit = colorPairLimit
    }

    deinit { stop() }

    /// Takes over the terminal. `requested` nil uses the terminal's full color depth; a depth
    /// lower than the terminal's is honoured. Throws when stdin or stdout is not a terminal or
    /// ncurses cannot start.
    public static func start(depth requested: ColorDepth?, mouse: Bool) throws -> TerminalScreen {
        guard isatty(STDIN_FILENO) == 1, isatty(STDOUT_FILENO) == 1 else {
            throw DuoError("the explorer needs a terminal on stdin and stdout; use `duoscope snapshot` to render views to files")
        }
        duo_install_restore_handlers()
        let term = TerminalSafe.escape(getenv("TERM").map { String(cString: $0) } ?? "")
        switch duo_start(requested == ColorDepth.none ? 0 : 1, mouse ? 1 : 0) {
        case 0: break
        case -2:
            throw DuoError(
                "TERM=\(term) cannot move the cursor, so the explorer cannot draw; run it in a full-screen terminal "
                    + "(e.g. TERM=xterm-256color) or use `duoscope snapshot` to render views to files")
        default:
            throw DuoError(
                term.isEmpty
                    ? "cannot start the terminal: TERM is not set" : "cannot start the terminal: TERM=\(term) is unknown to terminfo")
        }
        let colors = requested == ColorDepth.none ? 0 : Int(duo_colors())
        let available: ColorDepth
        switch colors {
        case (1 << 24)...: available = .truecolor
        case 256...: available = .palette256
        case 16...: available = .palette16
        case 8...: available = .palette8
        default: available = .none
        }
        return TerminalScreen(
            depth: clamp(requested, to: available), available: available, terminalIsDirectColor: colors >= 1 << 24,
            colorPairLimit: Int(duo_color_pairs()))
    }

    /// `requested` (nil: the most there is) within what the terminal offers.
    private static func clamp(_ requested: ColorDepth?, to available: ColorDepth) -> ColorDepth {
        requested.map { rank($0) < rank(available) ? $0 : available } ?? available
    }

    /// Draws from now on at `requested` (nil: the terminal's most) within what this session
    /// offers, and redraws everything; returns the depth it draws at.
    @discardableResult
    public func setDepth(_ requested: ColorDepth?) -> ColorDepth {
        depth = Self.clamp(requested, to: available)
        invalidate()
        return depth
    }

    private static func rank(_ depth: ColorDepth) -> Int {
        switch depth {
        case .none: return 0
        case .palette8: return 1
        case .palette16: return 2
        case .palette256: return 3
        case .truecolor: return 4
        }
    }

    /// The terminal's size in cells.
    public var size: (width: Int, height: Int) { (Int(duo_cols()), Int(duo_lines())) }

    /// Makes the next `draw` repaint every cell (e.g. after the screen was disturbed).
    public func invalidate() { lastDrawn = nil }

    /// Shows `grid`, writing only the cells that differ from the last grid drawn.
    public func draw(_ grid: CellGrid) {
        guard running else { return }
        let previous = lastDrawn.flatMap { $0.width == grid.width && $0.height == grid.height ? $0 : nil }
        if previous == nil { duo_erase() }
        for y in 0..<grid.height {
            for x in 0..<grid.width {
                let cell = grid[x, y]
                guard let character = cell.character, previous?[x, y] != cell else { continue }
                put(character, style: cell.style, x: x, y: y)
            }
        }
        lastDrawn = grid
        duo_refresh()
    }

    private func put(_ character: Character, style: CellStyle, x: Int, y: Int) {
        var attributes: Int32 = 0
        if style.bold { attributes |= Int32(DUO_ATTR_BOLD) }
        if style.dim { attributes |= Int32(DUO_ATTR_DIM) }
        if style.reverse { attributes |= Int32(DUO_ATTR_REVERSE) }
        if style.underline { attributes |= Int32(DUO_ATTR_UNDERLINE) }
        let pair = colorPair(
            foreground: style.foreground.map(terminalColor) ?? -1,
            background: style.background.map(terminalColor) ?? -1)
        let scalars = character.unicodeScalars.prefix(5).map(\.value)
        scalars.withUnsafeBufferPointer { buffer in
            duo_put(Int32(y), Int32(x), buffer.baseAddress, Int32(buffer.count), attributes, pair)
        }
    }

    /// The ncurses number for `color` at this screen's depth. A direct-color terminal drawing at
    /// a palette depth gets the palette entry's RGB value, since it reads numbers as RGB.
    private func terminalColor(_ color: RGB) -> Int {
        let number = ColorQuantizer.terminalColor(color, depth: depth)
        guard terminalIsDirectColor, depth != .truecolor, number >= 0 else { return number }
        return ColorQuantizer.terminalColor(ColorQuantizer.paletteColor(number), depth: .truecolor)
    }

    /// The pair for (foreground, background), defined on first use; pair 0 (default colors)
    /// when colors are off, the pairs have run out or ncurses refuses the definition.
    private func colorPair(foreground: Int, background: Int) -> Int32 {
        guard depth != .none else { return 0 }
        let key = ColorPairKey(foreground: foreground, background: background)
        if let pair = colorPairs[key] { return pair }
        let pair = colorPairs.count
        guard pair < colorPairLimit, duo_define_pair(Int32(pair), Int32(foreground), Int32(background)) == 0 else {
            return 0
        }
        colorPairs[key] = Int32(pair)
        return Int32(pair)
    }

    /// Waits up to `timeoutMilliseconds` (negative: forever) for input; nil when none came or
    /// the input means nothing to the explorer.
    public func readKey(timeoutMilliseconds: Int) -> KeyPress? {
        guard running else { return nil }
        var character: UInt32 = 0
        var mouseY: Int32 = 0
        var mouseX: Int32 = 0
        let code = duo_read_key(Int32(clamping: timeoutMilliseconds), &character, &mouseY, &mouseX)
        switch code {
        case 0:
            switch character {
            case 9: return .tab
            case 27: return .escape
            case 3: return .interrupt
            case ..<32: return nil
            default: return Unicode.Scalar(character).map { .character(Character($0)) }
            }
        case Int32(DUO_KEY_UP): return .up
        case Int32(DUO_KEY_DOWN): return .down
        case Int32(DUO_KEY_LEFT): return .left
        case Int32(DUO_KEY_RIGHT): return .right
        case Int32(DUO_KEY_PAGE_UP): return .pageUp
        case Int32(DUO_KEY_PAGE_DOWN): return .pageDown
        case Int32(DUO_KEY_HOME): return .home
        case Int32(DUO_KEY_END): return .end
        case Int32(DUO_KEY_BACKTAB): return .backTab
        case Int32(DUO_KEY_RESIZE): return .resize
        case Int32(DUO_KEY_MOUSE): return .mouse(x: Int(mouseX), y: Int(mouseY))
        case Int32(DUO_KEY_BACKSPACE): return .backspace
        case Int32(DUO_KEY_ENTER): return .enter
        case Int32(DUO_KEY_DELETE): return .delete
        default: return nil
        }
    }

    /// Gives the terminal back (leaves the alternate screen, restores its modes). Safe to call
    /// more than once.
    public func stop() {
        guard running else { return }
        running = false
        duo_stop()
    }
}
