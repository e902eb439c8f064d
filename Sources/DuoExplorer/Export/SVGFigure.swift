import DuoEngine
import DuoReports
import Foundation

/// A snapshot as a standalone SVG figure for papers, in the explorer's colors (red big, blue
/// small, white skip, blue-white-red heat). Routes and Compare become route heatmaps with a
/// loss strip, Difficulty the text flowed as colored words, Layers a table (`LayersFigure`),
/// Summary eval's perplexity chart; a view whose results are missing, the grid as on screen. Always well-formed XML: text is
/// escaped and characters XML forbids are replaced.
public enum SVGFigure {
    public static func render(_ c: SnapshotContent) -> String {
        switch c.view {
        case .routes:
            if let run = c.primaryRun { return heatmap(routesMap(c, run)) }
        case .compare:
            if let primary = c.primaryRun, let partner = c.partnerRun { return heatmap(compareMap(c, primary, partner)) }
        case .difficulty:
            if let values = difficultyValues(c) { return difficulty(c, values) }
        case .summary:
            return summaryChart(c)
        case .layers:
            return LayersFigure.render(c)
        }
        return grid(c)
    }

    /// The Summary as the paper's figure (eval's chart): perplexity against k for each policy,
    /// all-big and all-small as references; results still computing leave gaps, and the figure
    /// says how many were in when it was exported.
    static func summaryChart(_ c: SnapshotContent) -> String {
        let layers = c.analysis.layers
        let runs = c.analysis.runs
        func perplexity(_ key: PolicyKey) -> Double? {
            guard let run = runs[key], run.isComplete else { return nil }
            return run.perplexity
        }
        let curves = PolicyKind.budgetKinds.map { kind in
            (
                kind.rawValue + (kind.usesTrials ? " (best of N)" : ""),
                (0...layers).map { perplexity(PolicyKey(kind, k: $0, context: c.state.context)) }
            )
        }
        let references = [PolicyKind.allBig, .allSmall].map { ($0.rawValue, perplexity(PolicyKey($0, k: 0))) }
        let expected = curves.count * (layers + 1) + references.count
        let known = curves.flatMap(\.1).compactMap { $0 }.count + references.compactMap(\.1).count
        let scored = max(c.analysis.document.count - 1, 0)
        return PerplexityChart(
            title: title(c, "perplexity vs big layers, \(scored) tokens scored, oracle context \(c.state.context.rawValue)"),
            layers: layers, curves: curves, references: references,
            note: known < expected ? "partial: \(known) of \(expected) results were computed when this was exported" : nil
        ).svg()
    }

    // MARK: Colors and text

    static let white = RGB(255, 255, 255)
    static let pending = RGB(220, 220, 220)
    static let gridLine = RGB(215, 215, 215)

    static func color(_ route: Route) -> RGB { route == .skip ? white : Theme.color(route) }

    static func escape(_ text: String) -> String { SVGText.escape(text) }

    /// A label or name from outside (file names, model names): made terminal-safe first, so
    /// control characters show as escapes rather than disappearing.
    static func safe(_ text: String) -> String { TerminalSafe.escape(text) }

    /// "model · label · rest".
    static func title(_ c: SnapshotContent, _ rest: String) -> String {
        "\(safe(c.analysis.modelName)) · \(safe(c.analysis.document.label)) · \(rest)"
    }

    /// A number for display: `digits` decimals, or "–" when not finite.
    static func format(_ x: Double, _ digits: Int) -> String {
        x.isFinite ? String(format: "%.\(digits)f", x) : "–"
    }

    /// Rough width of `text` in a proportional font of `size` px.
    static func estimatedWidth(_ text: String, size: Double) -> Double { Double(text.count) * size * 0.55 }

    /// Maps values onto 0...1 over their finite range (0.5 when all are equal).
    static func normalizer(_ values: [Double?]) -> (low: Double, high: Double, map: (Double) -> Double) {
        let finite = values.compactMap { $0 }.filter(\.isFinite)
        let low = finite.min() ?? 0
        let high = finite.max() ?? 0
        return (low, high, { high > low ? ($0 - low) / (high - low) : 0.5 })
    }
}

// MARK: - Canvas

/// An SVG document being assembled; coordinates are written with at most two decimals.
struct SVGCanvas {
    private var body: [String] = []

    static func number(_ v: Double) -> String {
        let rounded = (v * 100).rounded() / 100
        if rounded == rounded.rounded() { return String(Int(rounded)) }
        return String(format: "%.2f", rounded).replacingOccurrences(of: #"0$"#, with: "", options: .regularExpression)
    }

    mutating func add(_ element: String) { body.append(element) }

    mutating func rect(_ x: Double, _ y: Double, _ w: Double, _ h: Double, fill: RGB?, extra: String = "") {
        let n = SVGCanvas.number
        let paint = fill.map { "fill=\"\($0.hex)\"" } ?? "fill=\"none\""
        add("<rect x=\"\(n(x))\" y=\"\(n(y))\" width=\"\(n(w))\" height=\"\(n(h))\" \(paint)\(extra.isEmpty ? "" : " " + extra)/>")
    }

    /// `text` is escaped here.
    mutating func text(_ text: String, _ x: Double, _ y: Double, size: Double, extra: String = "") {
        let n = SVGCanvas.number
        add(
            "<text x=\"\(n(x))\" y=\"\(n(y))\" font-size=\"\(n(size))\"\(extra.isEmpty ? "" : " " + extra)>\(SVGFigure.escape(text))</text>"
        )
    }

    /// The horizontal blue-white-red gradient `Theme.heat` draws, as `url(#heat)`.
    mutating func defineHeatGradient() {
        let stops = [(0, Theme.low), (50, Theme.middle), (100, Theme.high)]
            .map { "<stop offset=\"\($0.0)%\" stop-color=\"\($0.1.hex)\"/>" }.joined()
        add("<defs><linearGradient id=\"heat\" x1=\"0\" y1=\"0\" x2=\"1\" y2=\"0\">\(stops)</linearGradient></defs>")
    }

    /// A gradient bar with a name before it and its range's ends around it; returns its width.
    @discardableResult
    mutating func heatScale(name: String, low: String, high: String, x: Double, y: Double) -> Double {
        let size = 11.0
        var cursor = x
        text(name, cursor, y + 9, size: size)
        cursor += SVGFigure.estimatedWidth(name, size: size) + 6
        text(low, cursor, y + 9, size: size)
        cursor += SVGFigure.estimatedWidth(low, size: size) + 4
        rect(cursor, y, 100, 10, fill: nil, extra: "style=\"fill:url(#heat)\" stroke=\"#999999\" stroke-width=\"0.5\"")
        cursor += 104
        text(high, cursor, y + 9, size: size)
        return cursor + SVGFigure.estimatedWidth(high, size: size) - x
    }

    func document(width: Double, height: Double, fontFamily: String = "Helvetica, Arial, sans-serif") -> String {
        let w = SVGCanvas.number(width.rounded(.up))
        let h = SVGCanvas.number(height.rounded(.up))
        return """
            <?xml version="1.0" encoding="UTF-8"?>
            <svg xmlns="http://www.w3.org/2000/svg" width="\(w)" height="\(h)" viewBox="0 0 \(w) \(h)" font-family="\(fontFamily)">
            <rect x="0" y="0" width="\(w)" height="\(h)" fill="#ffffff"/>
            \(body.joined(separator: "\n"))
            </svg>

            """
    }
}

// MARK: - Route heatmaps (Routes, Compare)

extension SVGFigure {
    /// How one heatmap cell is painted.
    struct Mark {
        var fill: RGB
        var opacity = 1.0
        var outlined = false
    }

    /// A legend entry: a swatch painted like a cell, and its label.
    struct Swatch {
        var mark: Mark
        var label: String
    }

    /// A tokens × layers heatmap with a per-token strip below it.
    struct HeatmapSpec {
        var title: String
        var layers: Int
        /// Terminal-safe token texts, one per column.
        var labels: [String]
        var mark: (_ token: Int, _ layer: Int) -> Mark
        /// One value per token already mapped to 0...1 for `Theme.heat`; nil leaves the cell empty.
        var strip: [Double?]
        var stripName: String
        /// The strip's short name, left of it.
        var stripTag: String
        var scaleLow: String
        var scaleHigh: String
        var legend: [Swatch]
    }

    static let cell = 14.0
    static let leftMargin = 44.0
    static let maxColumns = 120
    static let labelCharacters = 14

    static func routesMap(_ c: SnapshotContent, _ run: PolicyRun) -> HeatmapSpec {
        let count = c.analysis.document.count
        let losses = (0..<count).map { run.loss($0) }
        let scale = normalizer(losses)
        let rest = "\(run.key) · ppl \(format(run.perplexity, 2)) · FFN \(format(run.meanFFNFraction * 100, 0))%"
        return HeatmapSpec(
            title: title(c, rest), layers: run.routes.layers, labels: c.analysis.document.tokenTexts,
            mark: { t, l in run.route(token: t, layer: l).map { Mark(fill: color($0)) } ?? Mark(fill: pending) },
            strip: losses.map { $0.map(scale.map) }, stripName: "loss", stripTag: "loss",
            scaleLow: format(scale.low, 2), scaleHigh: format(scale.high, 2),
            legend: [Route.big, .small, .skip].map { Swatch(mark: Mark(fill: color($0)), label: $0.name) })
    }

    static func compareMap(_ c: SnapshotContent, _ primary: PolicyRun, _ partner: PolicyRun) -> HeatmapSpec {
        let count = c.analysis.document.count
        let differences: [Double?] = (0..<count).map { t in
            guard let p = primary.loss(t), let q = partner.loss(t) else { return nil }
            return p - q  // primary − partner, as the Compare view shows it
        }
        let bound = differences.compactMap { $0 }.filter(\.isFinite).map(abs).max() ?? 0
        let rest = "\(primary.key) vs \(partner.key) · agreement \(format(agreement(primary, partner) * 100, 1))%"
        return HeatmapSpec(
            title: title(c, rest), layers: primary.routes.layers, labels: c.analysis.document.tokenTexts,
            mark: { t, l in compareMark(primary.route(token: t, layer: l), partner.route(token: t, layer: l)) },
            strip: differences.map { d in d.map { bound > 0 ? 0.5 + $0 / (2 * bound) : 0.5 } },
            stripName: "Δloss (\(primary.key) − \(partner.key))", stripTag: "Δloss",
            scaleLow: "−" + format(bound, 2), scaleHigh: "+" + format(bound, 2),
            legend: [Route.big, .small, .skip].map { Swatch(mark: Mark(fill: color($0)), label: $0.name) } + [
                Swatch(mark: Mark(fill: Theme.big, opacity: 0.35), label: "same in \(partner.key)"),
                Swatch(mark: Mark(fill: Theme.big, outlined: true), label: "differs in \(partner.key)"),
            ])
    }

    /// The primary's route, faded where the partner agrees (or is unknown), outlined where it differs.
    static func compareMark(_ primary: Route?, _ partner: Route?) -> Mark {
        guard let primary else { return Mark(fill: pending) }
        if let partner, partner != primary { return Mark(fill: color(primary), outlined: true) }
        return Mark(fill: color(primary), opacity: 0.35)
    }

    /// Share of (token, layer) cells known in both runs whose routes agree.
    static func agreement(_ a: PolicyRun, _ b: PolicyRun) -> Double {
        let tokens = min(a.completed, b.completed, a.routes.tokens, b.routes.tokens)
        let layers = min(a.routes.layers, b.routes.layers)
        guard tokens > 0, layers > 0 else { return .nan }
        var same = 0
        for t in 0..<tokens { for l in 0..<layers where a.routes[t, l] == b.routes[t, l] { same += 1 } }
        return Double(same) / Double(tokens * layers)
    }

    static func heatmap(_ spec: HeatmapSpec) -> String {
        let count = spec.labels.count
        let bands = max(1, (count + maxColumns - 1) / maxColumns)
        let perBand = max(1, (count + bands - 1) / bands)
        let bandHeight = Double(spec.layers) * cell + 4 + 10 + labelHeight(spec.labels) + 16
        var canvas = SVGCanvas()
        canvas.defineHeatGradient()
        canvas.text(spec.title, 12, 22, size: 14, extra: "font-weight=\"bold\"")
        let legendWidth = drawLegend(spec, into: &canvas, y: 34)
        for band in 0..<bands {
            let tokens = band * perBand..<min((band + 1) * perBand, count)
            drawBand(spec, tokens: tokens, into: &canvas, top: 56 + Double(band) * bandHeight)
        }
        let width = max(leftMargin + Double(perBand) * cell + 20, estimatedWidth(spec.title, size: 14) + 24, legendWidth + 24)
        return canvas.document(width: width, height: 56 + Double(bands) * bandHeight)
    }

    static func drawSwatch(_ mark: Mark, into canvas: inout SVGCanvas, x: Double, y: Double, size: Double) {
        var extra = mark.opacity < 1 ? "fill-opacity=\"\(SVGCanvas.number(mark.opacity))\"" : ""
        extra += mark.outlined ? " stroke=\"\(Theme.ink.hex)\" stroke-width=\"1.5\"" : " stroke=\"\(gridLine.hex)\" stroke-width=\"0.5\""
        canvas.rect(x, y, size, size, fill: mark.fill, extra: extra.trimmingCharacters(in: .whitespaces))
    }

    /// The swatches and the strip's color scale in one row; returns the row's width.
    static func drawLegend(_ spec: HeatmapSpec, into canvas: inout SVGCanvas, y: Double) -> Double {
        var x = 12.0
        for swatch in spec.legend {
            drawSwatch(swatch.mark, into: &canvas, x: x, y: y, size: 10)
            canvas.text(swatch.label, x + 14, y + 9, size: 11)
            x += 14 + estimatedWidth(swatch.label, size: 11) + 14
        }
        return x + canvas.heatScale(name: spec.stripName, low: spec.scaleLow, high: spec.scaleHigh, x: x + 6, y: y)
    }

    static func drawBand(_ spec: HeatmapSpec, tokens: Range<Int>, into canvas: inout SVGCanvas, top: Double) {
        for layer in 0..<spec.layers {
            canvas.text("L\(layer)", leftMargin - 6, top + Double(layer) * cell + 11, size: 10, extra: "text-anchor=\"end\"")
        }
        let stripTop = top + Double(spec.layers) * cell + 4
        canvas.text(spec.stripTag, leftMargin - 6, stripTop + 8, size: 9, extra: "text-anchor=\"end\"")
        for (column, token) in tokens.enumerated() {
            let x = leftMargin + Double(column) * cell
            for layer in 0..<spec.layers {
                drawSwatch(spec.mark(token, layer), into: &canvas, x: x, y: top + Double(layer) * cell, size: cell)
            }
            let value = token < spec.strip.count ? spec.strip[token] : nil
            canvas.rect(x, stripTop, cell, 10, fill: value.map(Theme.heat), extra: "stroke=\"\(gridLine.hex)\" stroke-width=\"0.5\"")
            drawTokenLabel(spec.labels[token], into: &canvas, x: x + cell / 2, y: stripTop + 14)
        }
    }

    /// Room for the rotated token labels under a band.
    static func labelHeight(_ labels: [String]) -> Double {
        let longest = min(labels.map(\.count).max() ?? 0, labelCharacters)
        return estimatedWidth(String(repeating: "m", count: longest), size: 10) * sin(.pi / 3) + 12
    }

    /// A column's token, rotated -60° and ending under the column; leading spaces shown as "␣".
    static func drawTokenLabel(_ text: String, into canvas: inout SVGCanvas, x: Double, y: Double) {
        let spaces = text.prefix { $0 == " " }.count
        var label = String(repeating: "␣", count: spaces) + text.dropFirst(spaces)
        if label.count > labelCharacters { label = String(label.prefix(labelCharacters - 1)) + "…" }
        let n = SVGCanvas.number
        canvas.text(label, x, y, size: 10, extra: "text-anchor=\"end\" transform=\"rotate(-60 \(n(x)) \(n(y)))\"")
    }
}

// MARK: - Difficulty

extension SVGFigure {
    static let flowWidth = 900.0
    static let characterWidth = 7.2
    static let lineHeight = 22.0

    /// The chosen metric per token, or nil when nothing is known yet.
    static func difficultyValues(_ c: SnapshotContent) -> [Double?]? {
        let values: [Double?]
        switch c.state.metric {
        case .rawLoss: values = (0..<c.analysis.document.count).map { c.primaryRun?.loss($0) }
        case .potential: values = c.difficulty()
        }
        return values.contains { $0?.isFinite == true } ? values : nil
    }

    static func difficulty(_ c: SnapshotContent, _ values: [Double?]) -> String {
        let source = c.state.metric == .rawLoss ? "\(c.state.primaryKey)" : "all-small − \(c.state.key(.oracle))"
        let heading = title(c, "\(c.state.metric.rawValue) (\(source))")
        let scale = normalizer(values)
        var canvas = SVGCanvas()
        canvas.defineHeatGradient()
        canvas.text(heading, 12, 22, size: 14, extra: "font-weight=\"bold\"")
        canvas.heatScale(name: c.state.metric.rawValue, low: format(scale.low, 2), high: format(scale.high, 2), x: 12, y: 34)
        let bottom = flowTokens(c.analysis.document, values.map { $0.map(scale.map) }, into: &canvas, top: 58)
        let width = max(flowWidth, estimatedWidth(heading, size: 14) + 24)
        return canvas.document(width: width, height: bottom + 12)
    }

    /// Lays the tokens out as words, wrapping at `flowWidth` and after newlines; returns the bottom.
    static func flowTokens(_ document: ExplorerDocument, _ heat: [Double?], into canvas: inout SVGCanvas, top: Double) -> Double {
        let left = 12.0
        var x = left
        var y = top
        for (t, text) in document.tokenTexts.enumerated() {
            let width = Double(max(DisplayWidth.of(text), 1)) * characterWidth + 4
            if x + width > flowWidth - left, x > left {
                x = left
                y += lineHeight
            }
            let value = t < heat.count ? heat[t] : nil
            canvas.rect(x, y, width, lineHeight - 4, fill: value.map(Theme.heat), extra: "stroke=\"\(gridLine.hex)\" stroke-width=\"0.5\"")
            canvas.text(text, x + 2, y + 13, size: 12, extra: "font-family=\"monospace\" xml:space=\"preserve\" fill=\"\(Theme.ink.hex)\"")
            x += width
            if document.rawTokenTexts[t].contains("\n") {
                x = left
                y += lineHeight
            }
        }
        return y + lineHeight
    }
}

// MARK: - Grid (Layers, Summary, fallback)

extension SVGFigure {
    static let gridCellWidth = 8.4
    static let gridCellHeight = 17.0

    /// A cell's colors after `reverse`: foreground defaults to ink, background to none.
    static func colors(_ style: CellStyle) -> (foreground: RGB, background: RGB?) {
        style.reverse ? (style.background ?? white, style.foreground ?? Theme.ink) : (style.foreground ?? Theme.ink, style.background)
    }

    static func grid(_ c: SnapshotContent) -> String {
        let grid = c.colorGrid
        let heading = title(c, c.view.title)
        let left = 10.0
        let top = 34.0
        var canvas = SVGCanvas()
        canvas.text(heading, left, 22, size: 14, extra: "font-family=\"Helvetica, Arial, sans-serif\" font-weight=\"bold\"")
        for y in 0..<grid.height {
            drawBackgrounds(grid, row: y, into: &canvas, left: left, top: top)
            drawCharacters(grid, row: y, into: &canvas, left: left, top: top)
        }
        let width = max(Double(grid.width) * gridCellWidth, estimatedWidth(heading, size: 14)) + 2 * left
        return canvas.document(width: width, height: top + Double(grid.height) * gridCellHeight + 10, fontFamily: "monospace")
    }

    /// One rect per run of cells with the same background.
    static func drawBackgrounds(_ grid: CellGrid, row y: Int, into canvas: inout SVGCanvas, left: Double, top: Double) {
        var x = 0
        while x < grid.width {
            let background = colors(grid[x, y].style).background
            var end = x + 1
            while end < grid.width, colors(grid[end, y].style).background == background { end += 1 }
            if let background {
                canvas.rect(
                    left + Double(x) * gridCellWidth, top + Double(y) * gridCellHeight,
                    Double(end - x) * gridCellWidth, gridCellHeight, fill: background)
            }
            x = end
        }
    }

    /// One text element per run of characters drawn alike, stretched to its cells so columns line up.
    static func drawCharacters(_ grid: CellGrid, row y: Int, into canvas: inout SVGCanvas, left: Double, top: Double) {
        func look(_ x: Int) -> CellStyle {
            let style = grid[x, y].style
            return CellStyle(foreground: colors(style).foreground, bold: style.bold, dim: style.dim, underline: style.underline)
        }
        var x = 0
        while x < grid.width {
            let style = look(x)
            var end = x + 1
            while end < grid.width, grid[end, y].character == nil || look(end) == style { end += 1 }
            let text = String((x..<end).compactMap { grid[$0, y].character })
            if text.contains(where: { $0 != " " }) {
                drawRun(
                    text, style: style, columns: end - x, into: &canvas,
                    x: left + Double(x) * gridCellWidth, y: top + Double(y) * gridCellHeight + 13)
            }
            x = end
        }
    }

    static func drawRun(_ text: String, style: CellStyle, columns: Int, into canvas: inout SVGCanvas, x: Double, y: Double) {
        var extra = "xml:space=\"preserve\" fill=\"\((style.foreground ?? Theme.ink).hex)\""
        extra += " textLength=\"\(SVGCanvas.number(Double(columns) * gridCellWidth))\" lengthAdjust=\"spacingAndGlyphs\""
        if style.bold { extra += " font-weight=\"bold\"" }
        if style.dim { extra += " fill-opacity=\"0.6\"" }
        if style.underline { extra += " text-decoration=\"underline\"" }
        canvas.text(text, x, y, size: 14, extra: extra)
    }
}
