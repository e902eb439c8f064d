import Foundation

/// The paper's figure: perplexity (log scale) against the number of big layers k, one line per
/// policy, dashed references (all-big, all-small), axis titles and a legend. Missing values leave
/// gaps; `note` (e.g. "partial: 30 of 52 results") is printed under the title. Used by `eval`
/// and by the explorer's Summary export.
public struct PerplexityChart {
    public var title: String
    public var layers: Int
    /// Perplexity per k = 0...layers for each policy (nil: not computed).
    public var curves: [(name: String, values: [Double?])]
    public var references: [(name: String, value: Double?)]
    public var note: String?

    public init(title: String, layers: Int, curves: [(String, [Double?])], references: [(String, Double?)], note: String? = nil) {
        self.title = title
        self.layers = layers
        self.curves = curves.map { (name: $0.0, values: $0.1) }
        self.references = references.map { (name: $0.0, value: $0.1) }
        self.note = note
    }

    public func svg() -> String {
        // Wide enough for the title (bold 14 px, about 0.6 em per character).
        let width = max(760.0, 70 + Double(title.count) * 14 * 0.62 + 20)
        let height = 470.0
        let left = 70.0
        let right = 130.0
        let top = 72.0
        let bottom = 50.0
        let plotW = width - left - right
        let plotH = height - top - bottom
        let values = (curves.flatMap(\.values) + references.map(\.value)).compactMap { $0 }.filter { $0.isFinite && $0 > 0 }
        let lo = log((values.min() ?? 1) * 0.95)
        let hi = log((values.max() ?? 10) * 1.05)
        func x(_ k: Int) -> Double { left + plotW * Double(k) / Double(max(layers, 1)) }
        func y(_ v: Double) -> Double { top + plotH * (1 - (log(v) - lo) / max(hi - lo, 1e-9)) }
        let colors = ["#d62728", "#2ca02c", "#9467bd", "#1f77b4", "#7f7f7f", "#ff7f0e"]
        func esc(_ s: String) -> String { SVGText.escape(s) }
        var s =
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            + "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"Helvetica, "
            + "Arial, sans-serif\" font-size=\"12\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"\(left)\" y=\"22\" font-size=\"14\" font-weight=\"bold\">\(esc(title))</text>\n"
        if let note { s += "<text x=\"\(left)\" y=\"38\" fill=\"#b22222\">\(esc(note))</text>\n" }
        s += "<line x1=\"\(left)\" y1=\"\(top + plotH)\" x2=\"\(left + plotW)\" y2=\"\(top + plotH)\" stroke=\"black\"/>\n"
        s += "<line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(top + plotH)\" stroke=\"black\"/>\n"
        for k in 0...max(layers, 0) {
            s += "<text x=\"\(x(k))\" y=\"\(top + plotH + 16)\" text-anchor=\"middle\">\(k)</text>\n"
        }
        s += "<text x=\"\(left + plotW / 2)\" y=\"\(height - 10)\" text-anchor=\"middle\">number of big layers k</text>\n"
        let ticks = 5
        for i in 0...ticks {
            let v = exp(lo + (hi - lo) * Double(i) / Double(ticks))
            s += "<text x=\"\(left - 6)\" y=\"\(y(v) + 4)\" text-anchor=\"end\">\(String(format: "%.1f", v))</text>\n"
            s += "<line x1=\"\(left)\" y1=\"\(y(v))\" x2=\"\(left + plotW)\" y2=\"\(y(v))\" stroke=\"#e0e0e0\"/>\n"
        }
        s += "<text transform=\"translate(16,\(top + plotH / 2)) rotate(-90)\" text-anchor=\"middle\">perplexity (log scale)</text>\n"
        for ((name, value), dash) in zip(references, ["6,4", "2,3", "1,2"]) {
            guard let value, value.isFinite, value > 0 else { continue }
            s +=
                "<line x1=\"\(left)\" y1=\"\(y(value))\" x2=\"\(left + plotW)\" y2=\"\(y(value))\" stroke=\"black\" "
                + "stroke-dasharray=\"\(dash)\"/>\n"
            s += "<text x=\"\(left + plotW + 6)\" y=\"\(y(value) + 4)\">\(esc(name)) \(String(format: "%.1f", value))</text>\n"
        }
        var legendX = left
        for (i, (name, values)) in curves.enumerated() {
            let color = colors[i % colors.count]
            // One polyline per run of consecutive known values: missing ks leave gaps.
            var segment: [String] = []
            func flush() {
                if segment.count > 1 {
                    s += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(segment.joined(separator: " "))\"/>\n"
                }
                segment.removeAll()
            }
            for (k, v) in values.enumerated() {
                guard let v, v.isFinite, v > 0 else {
                    flush()
                    continue
                }
                segment.append("\(x(k)),\(y(v))")
                s += "<circle cx=\"\(x(k))\" cy=\"\(y(v))\" r=\"2.5\" fill=\"\(color)\"/>\n"
            }
            flush()
            let lx = legendX
            legendX += 36 + 7 * Double(name.count)
            s += "<line x1=\"\(lx)\" y1=\"56\" x2=\"\(lx + 18)\" y2=\"56\" stroke=\"\(color)\" stroke-width=\"2\"/>\n"
            s += "<text x=\"\(lx + 23)\" y=\"60\">\(esc(name))</text>\n"
        }
        s += "</svg>\n"
        return s
    }
}
