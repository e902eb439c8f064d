import DuoEngine
import Foundation

/// Routes and Compare: tokens along x (each column as wide as its text), layers down
/// (layer 0 on top), a loss row and a difficulty row under the grid. Long texts wrap into
/// bands; `t` transposes to one token per row.
enum HeatmapView {
    /// How one cell of the grid is drawn.
    typealias CellPainter = (_ token: Int, _ layer: Int) -> (Character, CellStyle)
    /// A row of per-token values under the grid.
    typealias ValueRow = (label: String, values: [Double?], scale: ViewContext.Scale)

    static func draw(into grid: inout CellGrid, area: Rect, context c: ViewContext, compare: Bool) {
        let theme = c.theme
        let a = c.primary
        let b = c.partner
        let painter: CellPainter = { t, l in
            guard compare else { return theme.routeCell(a?.route(token: t, layer: l)) }
            guard let ra = a?.route(token: t, layer: l), let rb = b?.route(token: t, layer: l) else { return theme.routeCell(nil) }
            if ra == rb { return theme.routeCell(ra, dimmed: true) }
            let mark: Character = ra > rb ? "+" : "−"
            guard theme.color else { return (mark, CellStyle(bold: true)) }
            return (mark, CellStyle(foreground: RGB(255, 255, 255), background: Theme.color(ra), bold: true))
        }
        let n = c.document.count
        // Row under the grid 1: loss (Routes) or loss difference A − B (Compare); row 2: difficulty.
        let firstRow: ValueRow =
            compare
            ? ("Δloss", (0..<n).map { t in a?.loss(t).flatMap { x in b?.loss(t).map { x - $0 } } }, .diverging)
            : ("loss", (0..<n).map { a?.loss($0) }, .fromZero)
        let secondRow: ValueRow = ("diff", (0..<n).map { c.potential($0) }, .range)
        let labels = (0..<c.layers).map { l -> String in
            guard compare, let a, let b else { return "L\(l)" }
            let known = min(a.completed, b.completed, n - 1)
            guard known > 0 else { return "L\(l)" }
            let same = (0..<known).filter { a.routes[$0, l] == b.routes[$0, l] }.count
            return "L\(l)" + String(repeating: " ", count: max(4 - "L\(l)".count, 1)) + Format.percent(Double(same) / Double(known))
        }
        let rows = [firstRow, secondRow]
        // The last line is the legend; the heatmap takes the rest.
        let body = Rect(x: area.x, y: area.y, width: area.width, height: max(area.height - 1, 1))
        if c.state.transposed {
            drawTransposed(into: &grid, area: body, context: c, painter: painter, rows: rows)
        } else {
            drawBands(into: &grid, area: body, context: c, painter: painter, labels: labels, rows: rows)
        }
        if area.height >= 4 {
            drawLegend(into: &grid, x: area.x, y: area.y + area.height - 1, width: area.width, context: c, compare: compare)
        }
    }

    /// What the marks mean, drawn with the marks themselves (colors or glyphs, as the grid shows them).
    private static func drawLegend(into grid: inout CellGrid, x start: Int, y: Int, width: Int, context c: ViewContext, compare: Bool) {
        let theme = c.theme
        var x = start
        func swatch(_ cell: (Character, CellStyle), _ label: String) {
            grid.put(String(cell.0), x: x, y: y, style: cell.1)
            x = grid.put(" " + label + "  ", x: x + 1, y: y, style: theme.label)
        }
        if compare {
            swatch(theme.routeCell(.big, dimmed: true), width >= 100 ? "same as \(c.state.partnerKey)" : "same")
            let bright =
                theme.color ? CellStyle(foreground: RGB(255, 255, 255), background: Theme.color(.big), bold: true) : CellStyle(bold: true)
            swatch(("+", bright), "bigger")
            swatch(("−", bright), "smaller")
            swatch(theme.routeCell(nil), "pending")
            grid.put(
                (theme.color ? "Δloss" : "Δloss ▲+ ▼−") + " = \(c.state.primaryKey) − \(c.state.partnerKey)", x: x, y: y,
                style: theme.label, limit: max(start + width - x, 0))
        } else {
            swatch(theme.routeCell(.big), "big")
            swatch(theme.routeCell(.small), "small")
            swatch(theme.routeCell(.skip), "skip")
            swatch(theme.routeCell(nil), "pending")
            grid.put(
                "loss: next token (nats)  diff: all-small − oracle@\(c.state.k)", x: x, y: y, style: theme.label,
                limit: max(start + width - x, 0))
        }
    }

    private static func drawBands(
        into grid: inout CellGrid, area: Rect, context c: ViewContext, painter: CellPainter,
        labels: [String], rows: [ValueRow]
    ) {
        let theme = c.theme
        let labelWidth = (labels.map(\.count).max() ?? 3) + 1
        let bands = TokenBands(texts: c.document.tokenTexts, width: area.width - labelWidth)
        let bandHeight = 1 + c.layers + rows.count
        let visible = max((area.height + 1) / (bandHeight + 1), 1)
        let scales = rows.map { row in ViewContext.scale(row.values.compactMap { $0 }, row.scale) }
        var y = area.y
        let page = bands.page(showing: c.state.token, visible: visible)
        for bandIndex in page {
            let band = bands.bands[bandIndex]
            let left = area.x + labelWidth
            if bandIndex == page.lowerBound, bands.bands.count > visible {
                grid.put("\(bandIndex / visible + 1)/\((bands.bands.count + visible - 1) / visible)", x: area.x, y: y, style: theme.label)
            }
            for cell in band {
                let selected = cell.token == c.state.token
                grid.put(
                    c.document.tokenTexts[cell.token], x: left + cell.x, y: y, style: selected ? theme.cursor : theme.emphasis,
                    limit: cell.width, target: .token(cell.token))
            }
            for l in 0..<c.layers {
                let row = y + 1 + l
                grid.put(labels[l], x: area.x, y: row, style: l == c.state.layer ? theme.cursor : theme.label, target: .layer(l))
                for cell in band {
                    let (ch, style) = painter(cell.token, l)
                    grid.fill(
                        x: left + cell.x, y: row, width: cell.width, height: 1, character: ch, style: style,
                        target: .cell(token: cell.token, layer: l))
                    if cell.token == c.state.token, l == c.state.layer {
                        grid.put(
                            "◆", x: left + cell.x, y: row,
                            style: theme.color
                                ? CellStyle(foreground: Theme.accent, background: style.background, bold: true)
                                : CellStyle(bold: true), target: .cell(token: cell.token, layer: l))
                    }
                }
            }
            for (i, info) in rows.enumerated() {
                let row = y + 1 + c.layers + i
                grid.put(info.label, x: area.x, y: row, style: theme.label)
                for cell in band {
                    drawValue(
                        into: &grid, x: left + cell.x, y: row, width: cell.width, value: info.values[cell.token],
                        scale: scales[i], signed: info.scale == .diverging, theme: theme, target: .token(cell.token))
                }
            }
            y += bandHeight + 1
            if y >= area.y + area.height { break }
        }
    }

    /// A value as a heat cell (color) or bar glyphs (no color); numbers where they fit. Without
    /// color a `signed` value (a difference) keeps its sign: ▲ above zero, ▼ below, small
    /// triangles for less than half the largest, `·` for about zero.
    static func drawValue(
        into grid: inout CellGrid, x: Int, y: Int, width: Int, value: Double?, scale: (Double) -> Double,
        signed: Bool = false, theme: Theme, target: HitTarget?
    ) {
        guard let value, value.isFinite else {
            grid.fill(x: x, y: y, width: width, height: 1, character: " ", target: target)
            return
        }
        let t = scale(value)
        if theme.color {
            grid.fill(x: x, y: y, width: width, height: 1, style: theme.heatStyle(t), target: target)
            let text = String(format: "%.1f", value)
            if width > text.count { grid.put(text, x: x + width - text.count - 1, y: y, style: theme.heatStyle(t), target: target) }
        } else if signed {
            let magnitude = abs(t - 0.5) * 2
            let glyph: Character = magnitude < 0.05 ? "·" : t > 0.5 ? (magnitude >= 0.5 ? "▲" : "▴") : (magnitude >= 0.5 ? "▼" : "▾")
            grid.fill(x: x, y: y, width: width, height: 1, character: glyph, target: target)
        } else {
            grid.fill(x: x, y: y, width: width, height: 1, character: Theme.bar(t), target: target)
        }
    }

    private static func drawTransposed(
        into grid: inout CellGrid, area: Rect, context c: ViewContext, painter: CellPainter,
        rows: [ValueRow]
    ) {
        let theme = c.theme
        let textWidth = 14
        let cellsX = area.x + textWidth + 1
        var header = ""
        for l in 0..<c.layers { header += String(repeating: " ", count: max(3 - String(l).count, 0)) + String(l) }
        grid.put("token", x: area.x, y: area.y, style: theme.label)
        grid.put(header, x: cellsX, y: area.y, style: theme.label)
        let valuesX = cellsX + 3 * c.layers + 1
        for (i, info) in rows.enumerated() { grid.put(info.label, x: valuesX + i * 7, y: area.y, style: theme.label) }
        let visible = max(area.height - 1, 1)
        let first = c.state.token / visible * visible
        let scales = rows.map { row in ViewContext.scale(row.values.compactMap { $0 }, row.scale) }
        for t in first..<min(first + visible, c.document.count) {
            let y = area.y + 1 + t - first
            grid.put(
                c.document.tokenTexts[t], x: area.x, y: y, style: t == c.state.token ? theme.cursor : theme.emphasis,
                limit: textWidth, target: .token(t))
            for l in 0..<c.layers {
                let (ch, style) = painter(t, l)
                grid.fill(x: cellsX + 3 * l + 1, y: y, width: 2, height: 1, character: ch, style: style, target: .cell(token: t, layer: l))
                if t == c.state.token, l == c.state.layer { grid.put("◆", x: cellsX + 3 * l + 1, y: y, style: theme.cursor) }
            }
            for (i, info) in rows.enumerated() {
                drawValue(
                    into: &grid, x: valuesX + i * 7, y: y, width: 6, value: info.values[t], scale: scales[i],
                    signed: info.scale == .diverging, theme: theme, target: .token(t))
            }
        }
    }
}
