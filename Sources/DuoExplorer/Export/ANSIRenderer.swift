/// Renders a grid as text with ANSI SGR escapes, for `--ansi` snapshots and pagers. Colors are
/// reduced to `depth`; with `.none` only the attributes are kept.
public enum ANSIRenderer {
    private static let reset = "\u{1B}[0m"

    /// One line per row: each run of equally rendered cells starts with a reset plus its SGR
    /// attributes, every line ends with a reset, and trailing default-style spaces are dropped.
    /// The grid is already sanitised, so the only escapes in the result are these SGRs.
    public static func render(_ grid: CellGrid, depth: ColorDepth) -> String {
        var output = ""
        for y in 0..<grid.height {
            var row: [(character: Character, sgr: String)] = []
            for x in 0..<grid.width {
                let cell = grid[x, y]
                if let character = cell.character { row.append((character, sgr(for: cell.style, depth: depth))) }
            }
            while let last = row.last, last.character == " ", last.sgr == reset { row.removeLast() }
            var currentSGR: String?
            for (character, cellSGR) in row {
                if cellSGR != currentSGR {
                    output += cellSGR
                    currentSGR = cellSGR
                }
                output.append(character)
            }
            output += reset + "\n"
        }
        return output
    }

    /// The reset followed by the style's attributes and colors at `depth`.
    private static func sgr(for style: CellStyle, depth: ColorDepth) -> String {
        var parameters: [String] = []
        if style.bold { parameters.append("1") }
        if style.dim { parameters.append("2") }
        if style.underline { parameters.append("4") }
        if style.reverse { parameters.append("7") }
        if let foreground = style.foreground, let code = colorParameters(foreground, background: false, depth: depth) {
            parameters.append(code)
        }
        if let background = style.background, let code = colorParameters(background, background: true, depth: depth) {
            parameters.append(code)
        }
        return parameters.isEmpty ? reset : reset + "\u{1B}[" + parameters.joined(separator: ";") + "m"
    }

    private static func colorParameters(_ color: RGB, background: Bool, depth: ColorDepth) -> String? {
        let extended = background ? "48" : "38"
        switch depth {
        case .truecolor:
            return "\(extended);2;\(color.r);\(color.g);\(color.b)"
        case .palette256:
            return "\(extended);5;\(ColorQuantizer.xterm256(color))"
        case .palette16:
            let index = ColorQuantizer.ansi16(color)
            return String((index < 8 ? 30 : 82) + index + (background ? 10 : 0))
        case .palette8:
            return String(30 + ColorQuantizer.ansi8(color) + (background ? 10 : 0))
        case .none:
            return nil
        }
    }
}
