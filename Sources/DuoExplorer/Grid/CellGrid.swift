/// What a mouse click on a cell selects.
public enum HitTarget: Equatable, Sendable {
    case token(Int)
    case cell(token: Int, layer: Int)
    case layer(Int)
    case view(ViewKind)
}

/// One terminal cell: a character (a wide character's second column holds `nil`) and its style.
public struct Cell: Equatable, Sendable {
    public var character: Character?
    public var style: CellStyle
    public static let blank = Cell(character: " ", style: .plain)
}

/// A screen's worth of styled cells. Views draw into a grid; the ncurses front end, the
/// snapshot exporters and the tests all read the same grid. Anything written is sanitised:
/// control and format characters become U+FFFD, so no text can act on a terminal.
public struct CellGrid: Sendable {
    public let width: Int
    public let height: Int
    public private(set) var cells: [Cell]
    public private(set) var targets: [HitTarget?]

    public init(width: Int, height: Int) {
        self.width = max(width, 0)
        self.height = max(height, 0)
        cells = Array(repeating: .blank, count: self.width * self.height)
        targets = Array(repeating: nil, count: self.width * self.height)
    }

    public subscript(x: Int, y: Int) -> Cell {
        get { cells[y * width + x] }
        set { if contains(x: x, y: y) { cells[y * width + x] = newValue } }
    }

    public func contains(x: Int, y: Int) -> Bool { x >= 0 && y >= 0 && x < width && y < height }

    public func target(x: Int, y: Int) -> HitTarget? { contains(x: x, y: y) ? targets[y * width + x] : nil }

    /// Writes `text` from (x, y), clipped at `limit` columns (default: the grid's edge).
    /// Returns the column after the last character written.
    @discardableResult
    public mutating func put(
        _ text: String, x: Int, y: Int, style: CellStyle = .plain, limit: Int? = nil,
        target: HitTarget? = nil
    ) -> Int {
        guard y >= 0, y < height else { return x }
        let end = min(limit.map { x + $0 } ?? width, width)
        var column = x
        for var c in text {
            if c.unicodeScalars.contains(where: DisplayWidth.isUnprintable) { c = "\u{FFFD}" }
            let w = DisplayWidth.of(c)
            if column + w > end { break }
            if column >= 0 {
                cells[y * width + column] = Cell(character: c, style: style)
                targets[y * width + column] = target
                if w == 2 {
                    cells[y * width + column + 1] = Cell(character: nil, style: style)
                    targets[y * width + column + 1] = target
                }
            }
            column += w
        }
        return column
    }

    /// Fills a rectangle with one character and style.
    public mutating func fill(
        x: Int, y: Int, width w: Int, height h: Int, character: Character = " ",
        style: CellStyle = .plain, target: HitTarget? = nil
    ) {
        for row in max(y, 0)..<min(y + h, height) where row >= 0 {
            for column in max(x, 0)..<min(x + w, width) {
                cells[row * width + column] = Cell(character: character, style: style)
                targets[row * width + column] = target
            }
        }
    }

    /// The grid as plain text, one line per row, trailing spaces trimmed.
    public var text: String {
        (0..<height).map { y in
            var line = ""
            for x in 0..<width { if let c = cells[y * width + x].character { line.append(c) } }
            while line.last == " " { line.removeLast() }
            return line
        }.joined(separator: "\n") + "\n"
    }
}
