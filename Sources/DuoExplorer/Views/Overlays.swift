/// Boxes drawn over the view: the key help and the text picker.
enum Overlays {
    static let keys: [(String, String)] = [
        ("Tab / 1-5", "switch view: Routes, Compare, Difficulty, Layers, Summary"),
        ("← → h l", "previous / next token"),
        ("↑ ↓ k j", "previous / next layer"),
        ("PgUp PgDn", "a page of tokens back / forward"),
        ("Home End", "first / last token"),
        ("mouse", "click a token, a cell, a layer or a tab"),
        ("o r f x b s", "primary policy: oracle, router, fixed, random, all-big, all-small"),
        ("O R F X B S", "partner policy for Compare (default: oracle vs router)"),
        ("space", "swap primary and partner (toggle oracle / router)"),
        ("+ -", "budget k: big layers per token"),
        ("c", "oracle context: causal / fixed (all-big)"),
        ("d", "difficulty by raw loss / potential loss reduction"),
        ("t", "transpose the heatmap (tokens as rows)"),
        ("/  n", "find a token / find next"),
        ("p", "open another text (samples, files, type one)"),
        ("i", "type or paste a text"),
        ("g", "generate a continuation under the primary policy"),
        ("e", "export a snapshot (txt, ansi, svg, json)"),
        ("?", "this help (any key closes)"),
        ("q  Ctrl-C", "quit"),
    ]

    static func box(into grid: inout CellGrid, width: Int, height: Int, title: String, theme: Theme) -> Rect {
        let w = min(width, grid.width - 2)
        let h = min(height, grid.height - 2)
        let x = (grid.width - w) / 2
        let y = (grid.height - h) / 2
        let frameStyle = theme.color ? CellStyle(foreground: Theme.accent, background: RGB(25, 25, 35)) : CellStyle(bold: true)
        let inside = theme.color ? CellStyle(foreground: RGB(235, 235, 235), background: RGB(25, 25, 35)) : CellStyle()
        grid.fill(x: x, y: y, width: w, height: h, style: inside)
        grid.put("┌" + String(repeating: "─", count: w - 2) + "┐", x: x, y: y, style: frameStyle)
        grid.put("└" + String(repeating: "─", count: w - 2) + "┘", x: x, y: y + h - 1, style: frameStyle)
        for row in (y + 1)..<(y + h - 1) {
            grid.put("│", x: x, y: row, style: frameStyle)
            grid.put("│", x: x + w - 1, y: row, style: frameStyle)
        }
        grid.put(" \(title) ", x: x + 2, y: y, style: frameStyle)
        return Rect(x: x + 2, y: y + 1, width: w - 4, height: h - 2)
    }

    static func help(into grid: inout CellGrid, context c: ViewContext) {
        let inner = box(into: &grid, width: 78, height: keys.count + 2, title: "keys", theme: c.theme)
        let style = c.theme.color ? CellStyle(foreground: RGB(235, 235, 235), background: RGB(25, 25, 35)) : CellStyle()
        for (i, (key, action)) in keys.enumerated() where i < inner.height {
            grid.put(key, x: inner.x, y: inner.y + i, style: style.with(bold: true), limit: 13)
            grid.put(action, x: inner.x + 14, y: inner.y + i, style: style, limit: inner.width - 14)
        }
    }

    static func picker(into grid: inout CellGrid, context c: ViewContext) {
        let choices = c.state.pickerChoices
        let inner = box(into: &grid, width: 64, height: choices.count + 4, title: "open a text (↑↓ Enter, Esc)", theme: c.theme)
        let style = c.theme.color ? CellStyle(foreground: RGB(235, 235, 235), background: RGB(25, 25, 35)) : CellStyle()
        for (i, choice) in choices.enumerated() where i < inner.height {
            let selected = i == c.state.pickerIndex
            grid.put(
                (selected ? "▶ " : "  ") + choice, x: inner.x, y: inner.y + i, style: selected ? c.theme.cursor : style,
                limit: inner.width)
        }
    }
}
