import DuoEngine
import Foundation

/// Per-layer share of big/small/skip per policy (the paper's Fig. 2/3) next to perplexity
/// versus number of big layers for oracle, fixed, router and random best-of-N (Fig. 4b).
enum SummaryView {
    static var kinds: [PolicyKind] { PolicyKind.budgetKinds }
    /// One color per curve, in catalogue order.
    static let palette = [Theme.accent, RGB(80, 200, 120), RGB(180, 120, 255), Theme.muted, RGB(255, 160, 60), RGB(90, 170, 255)]

    static func draw(into grid: inout CellGrid, area: Rect, context c: ViewContext) {
        // Narrow terminals get the shares as numbers only, leaving the chart room.
        let compact = area.width < 110
        let column = compact ? 4 : 10
        let sharesWidth = 5 + kinds.count * column
        drawShares(
            into: &grid, area: Rect(x: area.x, y: area.y, width: sharesWidth, height: area.height), context: c,
            column: column, compact: compact)
        drawChart(
            into: &grid, area: Rect(x: area.x + sharesWidth + 2, y: area.y, width: area.width - sharesWidth - 2, height: area.height),
            context: c)
    }

    private static func drawShares(into grid: inout CellGrid, area: Rect, context c: ViewContext, column: Int, compact: Bool) {
        let theme = c.theme
        let title = compact ? "big % at k=\(c.state.k)" : "layer shares at k=\(c.state.k) (█ big ▒ small · skip)"
        grid.put(title, x: area.x, y: area.y, style: theme.emphasis, limit: area.width)
        for (i, kind) in kinds.enumerated() {
            grid.put(
                compact ? String(kind.rawValue.prefix(3)) : kind.rawValue, x: area.x + 5 + i * column, y: area.y + 1, style: theme.label)
        }
        let shares = kinds.map { c.run($0).flatMap { $0.isComplete ? $0.layerShares() : nil } }
        for l in 0..<min(c.layers, area.height - 2) {
            let y = area.y + 2 + l
            grid.put("L\(l)", x: area.x, y: y, style: l == c.state.layer ? theme.cursor : theme.label, target: .layer(l))
            for (i, share) in shares.enumerated() {
                let x = area.x + 5 + i * column
                guard let s = share?[l] else {
                    grid.put("…", x: x, y: y, style: theme.label)
                    continue
                }
                if compact {
                    grid.put(String(format: "%3d", Int((s[0] * 100).rounded())), x: x, y: y, style: theme.heatStyle(s[0]))
                    continue
                }
                let big = Int((s[0] * 5).rounded())
                let small = min(Int((s[1] * 5).rounded()), 5 - big)
                for j in 0..<5 {
                    let route: Route = j < big ? .big : j < big + small ? .small : .skip
                    let (ch, style) = theme.routeCell(route)
                    grid.put(String(ch), x: x + j, y: y, style: style)
                }
                grid.put(String(format: "%3d", Int((s[0] * 100).rounded())), x: x + 6, y: y, style: theme.label)
            }
        }
    }

    private static func drawChart(into grid: inout CellGrid, area: Rect, context c: ViewContext) {
        let theme = c.theme
        let L = c.layers
        grid.put("perplexity vs big layers per token", x: area.x, y: area.y, style: theme.emphasis, limit: area.width)
        var series: [(kind: PolicyKind, points: [(k: Int, ppl: Double)])] = []
        for kind in kinds {
            let points = (0...L).compactMap { k -> (Int, Double)? in
                guard let run = c.analysis.runs[PolicyKey(kind, k: k, context: c.state.context)], run.isComplete else { return nil }
                return (k, run.perplexity)
            }
            series.append((kind, points))
        }
        let big = c.run(.allBig).flatMap { $0.isComplete ? $0.perplexity : nil }
        let small = c.run(.allSmall).flatMap { $0.isComplete ? $0.perplexity : nil }
        let values = series.flatMap { $0.points.map(\.ppl) } + [big, small].compactMap { $0 }
        let plotHeight = area.height - 4
        let axisWidth = 7
        let plotWidth = area.width - axisWidth - 1
        guard plotHeight >= 4, plotWidth >= L + 1, let lo = values.min(), let hi = values.max() else {
            grid.put("waiting for results…", x: area.x, y: area.y + 2, style: theme.label)
            return
        }
        let logLo = log(lo * 0.98)
        let logHi = log(hi * 1.02)
        func row(_ ppl: Double) -> Int {
            let t = (log(ppl) - logLo) / max(logHi - logLo, 1e-9)
            return area.y + 1 + Int(((1 - t) * Double(plotHeight - 1)).rounded())
        }
        func column(_ k: Int) -> Int { area.x + axisWidth + Int((Double(k) / Double(L) * Double(plotWidth - 1)).rounded()) }
        for i in 0..<plotHeight {
            let ppl = exp(logHi - (logHi - logLo) * Double(i) / Double(plotHeight - 1))
            if i % 3 == 0 || i == plotHeight - 1 {
                grid.put(String(format: "%6.1f", ppl), x: area.x, y: area.y + 1 + i, style: theme.label)
            }
            grid.put("┤", x: area.x + axisWidth - 1, y: area.y + 1 + i, style: theme.rule)
        }
        for (value, name) in [(big, "   big"), (small, " small")] {
            guard let value else { continue }
            let y = row(value)
            grid.fill(x: area.x + axisWidth, y: y, width: plotWidth, height: 1, character: "╌", style: theme.rule)
            grid.put(name, x: area.x, y: y, style: theme.emphasis)
        }
        for (i, s) in series.enumerated() {
            for p in s.points {
                let style = theme.color ? CellStyle(foreground: palette[i % palette.count], bold: true) : CellStyle(bold: true)
                grid.put(String(s.kind.chartMark), x: column(p.k), y: row(p.ppl), style: style)
            }
        }
        let axisY = area.y + 1 + plotHeight
        grid.fill(x: area.x + axisWidth, y: axisY, width: plotWidth, height: 1, character: "─", style: theme.rule)
        let every = Double(plotWidth) / Double(L) < 3 ? 2 : 1
        for k in 0...L where k % every == 0 || k == c.state.k {
            grid.put(String(k), x: column(k), y: axisY + 1, style: k == c.state.k ? theme.cursor : theme.label)
        }
        let legend = series.map {
            "\($0.kind.chartMark) \($0.kind.rawValue + ($0.kind.usesTrials ? " best-of-N" : "")) \($0.points.count)/\(L + 1)"
        }
        grid.put(legend.joined(separator: "  "), x: area.x, y: axisY + 2, style: theme.label, limit: area.width)
    }
}
