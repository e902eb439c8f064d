import Foundation

/// The text itself, each token colored blue (low) to red (high) by raw loss or by potential
/// loss reduction, with a bar row under each line so the reading survives without color; then
/// the tokens ranked by each metric side by side, to show that high loss is not the same as
/// benefit from compute.
enum DifficultyView {
    static func draw(into grid: inout CellGrid, area: Rect, context c: ViewContext) {
        let theme = c.theme
        let n = c.document.count
        let metricName =
            c.state.metric == .potential
            ? "potential loss reduction = loss all-small − loss oracle@\(c.state.k)"
            : "raw loss under \(c.state.primaryKey)"
        let other = c.state.metric == .potential ? "raw loss" : "potential loss reduction"
        grid.put("colored by \(metricName)   [d] \(other)", x: area.x, y: area.y, style: theme.emphasis)
        let values = (0..<n).map { c.metric($0) }
        let scale = ViewContext.scale(values.compactMap { $0 }, .range)
        var x = grid.put("low ", x: area.x, y: area.y + 1, style: theme.label)
        for i in 0..<16 {
            let t = Double(i) / 15
            if theme.color {
                grid.put(" ", x: x, y: area.y + 1, style: theme.heatStyle(t))
            } else {
                grid.put(String(Theme.bar(t)), x: x, y: area.y + 1)
            }
            x += 1
        }
        let known = values.compactMap { $0 }
        x = grid.put(" high", x: x, y: area.y + 1, style: theme.label)
        if let lo = known.min(), let hi = known.max() {
            grid.put("   range \(Format.number(lo)) … \(Format.number(hi)) nats", x: x, y: area.y + 1, style: theme.label)
        } else {
            grid.put("   waiting for results…", x: x, y: area.y + 1, style: theme.label)
        }

        // The text takes what it needs (two rows per line) up to all but 7 rows; the rankings
        // (and the scatter) get the rest.
        let bands = TokenBands(texts: c.document.tokenTexts, width: area.width, breakAfterNewline: true)
        let textHeight = min(2 * bands.bands.count + 1, max(area.height - 3 - 7, 2))
        let rankingHeight = max(area.height - 3 - textHeight, 0)
        let textArea = Rect(x: area.x, y: area.y + 3, width: area.width, height: textHeight)
        let visible = max(textArea.height / 2, 1)
        var y = textArea.y
        for bandIndex in bands.page(showing: c.state.token, visible: visible) {
            for cell in bands.bands[bandIndex] {
                let value = values[cell.token]
                var style = value.map { theme.heatStyle(scale($0)) } ?? CellStyle()
                if cell.token == c.state.token { style = theme.cursor.with(underline: true) }
                grid.put(
                    c.document.tokenTexts[cell.token], x: textArea.x + cell.x, y: y, style: style, limit: cell.width,
                    target: .token(cell.token))
                let bar: Character = value.map { Theme.bar(scale($0)) } ?? " "
                grid.fill(
                    x: textArea.x + cell.x, y: y + 1, width: cell.width, height: 1, character: bar,
                    style: theme.color ? CellStyle(foreground: value.map { Theme.heat(scale($0)) }) : CellStyle(),
                    target: .token(cell.token))
            }
            y += 2
        }
        if rankingHeight >= 3 {
            drawRankings(
                into: &grid, area: Rect(x: area.x, y: area.y + area.height - rankingHeight, width: area.width, height: rankingHeight),
                context: c)
        }
    }

    /// The tokens with the highest raw loss next to those with the highest potential, and
    /// how many the two lists share.
    private static func drawRankings(into grid: inout CellGrid, area: Rect, context c: ViewContext) {
        let theme = c.theme
        let n = c.document.count
        let raw = (0..<n).compactMap { t in c.primary?.loss(t).map { (t, $0) } }.sorted { $0.1 > $1.1 }
        let potential = (0..<n).compactMap { t in c.potential(t).map { (t, $0) } }.sorted { $0.1 > $1.1 }
        // The lists show as many rows as fit; the summary speaks of exactly those rows.
        let count = max(0, min(area.height - 2, raw.count, potential.count))
        let shared = Set(raw.prefix(count).map(\.0)).intersection(potential.prefix(count).map(\.0)).count
        var summary = "the \(count) highest by raw loss and by potential: \(shared) of \(count) tokens in both lists"
        if let r = correlation(raw, potential) { summary += String(format: "; correlation r = %.2f", r) }
        grid.put(summary, x: area.x, y: area.y, style: theme.emphasis)
        // Two ranked lists, and on wide screens a scatter of one metric against the other.
        let scatterWidth = area.width >= 120 ? area.width / 3 : 0
        let half = (area.width - scatterWidth) / 2
        grid.put("highest raw loss (\(c.state.primaryKey))", x: area.x, y: area.y + 1, style: theme.label, limit: half - 1)
        grid.put("highest potential (small − oracle@\(c.state.k))", x: area.x + half, y: area.y + 1, style: theme.label, limit: half - 1)
        for i in 0..<count {
            for (column, list) in [raw, potential].enumerated() where i < list.count {
                let (t, v) = list[i]
                grid.put(
                    "\(Format.number(v)) \(Format.quoted(c.document.tokenTexts[t])) #\(t + 1)", x: area.x + column * half,
                    y: area.y + 2 + i, limit: half - 1, target: .token(t))
            }
        }
        if scatterWidth > 0 {
            drawScatter(
                into: &grid, area: Rect(x: area.x + 2 * half, y: area.y + 1, width: scatterWidth, height: area.height - 1),
                raw: raw, potential: potential, context: c)
        }
    }

    /// Raw loss (x) against potential loss reduction (y), one mark per token, the current
    /// token highlighted: tokens far right but low show loss that compute cannot remove.
    private static func drawScatter(
        into grid: inout CellGrid, area: Rect, raw: [(Int, Double)], potential: [(Int, Double)],
        context c: ViewContext
    ) {
        let theme = c.theme
        let yByToken = Dictionary(potential.map { ($0.0, $0.1) }, uniquingKeysWith: { a, _ in a })
        let points = raw.compactMap { p in yByToken[p.0].map { (token: p.0, x: p.1, y: $0) } }
        let plot = Rect(x: area.x + 2, y: area.y, width: area.width - 3, height: area.height - 1)
        guard plot.width > 4, plot.height > 2, let x0 = points.map(\.x).min(), let x1 = points.map(\.x).max(),
            let y0 = points.map(\.y).min(), let y1 = points.map(\.y).max()
        else { return }
        grid.put("↑", x: area.x, y: plot.y, style: theme.label)
        grid.put("potential", x: area.x, y: plot.y + plot.height, style: theme.label)
        grid.put("raw loss →", x: plot.x + plot.width - 10, y: plot.y + plot.height, style: theme.label)
        func cell(_ p: (token: Int, x: Double, y: Double)) -> (Int, Int) {
            let cx = plot.x + Int(((p.x - x0) / max(x1 - x0, 1e-9) * Double(plot.width - 1)).rounded())
            let cy = plot.y + plot.height - 1 - Int(((p.y - y0) / max(y1 - y0, 1e-9) * Double(plot.height - 1)).rounded())
            return (cx, cy)
        }
        var counts: [Int: Int] = [:]
        for p in points {
            let (x, y) = cell(p)
            counts[y * grid.width + x, default: 0] += 1
        }
        for p in points {
            let (x, y) = cell(p)
            let n = counts[y * grid.width + x] ?? 1
            grid.put(n > 2 ? "●" : n > 1 ? "•" : "·", x: x, y: y, style: theme.label, target: .token(p.token))
        }
        if let current = points.first(where: { $0.token == c.state.token }) {
            let (x, y) = cell(current)
            grid.put("◆", x: x, y: y, style: theme.cursor, target: .token(current.token))
        }
    }

    static func correlation(_ a: [(Int, Double)], _ b: [(Int, Double)]) -> Double? {
        let bByToken = Dictionary(b.map { ($0.0, $0.1) }, uniquingKeysWith: { x, _ in x })
        let pairs = a.compactMap { p in bByToken[p.0].map { (p.1, $0) } }
        guard pairs.count > 2 else { return nil }
        let mx = pairs.map(\.0).reduce(0, +) / Double(pairs.count)
        let my = pairs.map(\.1).reduce(0, +) / Double(pairs.count)
        var sxy = 0.0
        var sxx = 0.0
        var syy = 0.0
        for (x, y) in pairs {
            sxy += (x - mx) * (y - my)
            sxx += (x - mx) * (x - mx)
            syy += (y - my) * (y - my)
        }
        return sxx > 0 && syy > 0 ? sxy / sqrt(sxx * syy) : nil
    }
}
