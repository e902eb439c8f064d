/// Boxes drawn over the view: the key help and the text picker.
enum Overlays {
    /// The help rows: the key table's labels and texts.
    static var keys: [(String, String)] { KeyBindings.all.map { ($0.label, $0.help) } }
    /// The commands after `:`, from the command table.
    static var commands: [(String, String)] { PaletteCommand.table.map { (":" + $0.usage, $0.help) } }

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

    /// The keys, then the commands below them where the screen has room for both; or (`:help`)
    /// the commands alone.
    static func help(into grid: inout CellGrid, context c: ViewContext) {
        var rows = keys
        var title = "keys"
        if c.state.helpPage == .commands {
            rows = commands
            title = "commands: type : then one, Enter runs it"
        } else if keys.count + 1 + commands.count + 2 <= grid.height - 2 {
            rows += [("", "")] + commands
        }
        // As wide as the longest row needs (key column 14, frame and margins 4), within the screen.
        let inner = box(
            into: &grid, width: max(18 + (rows.map(\.1.count).max() ?? 0), title.count + 6), height: rows.count + 2, title: title,
            theme: c.theme)
        let style = c.theme.color ? CellStyle(foreground: RGB(235, 235, 235), background: RGB(25, 25, 35)) : CellStyle()
        for (i, (key, action)) in rows.enumerated() where i < inner.height {
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
