import DuoEngine
import Foundation

/// `duoscope eval` output: a Markdown table, CSV, JSON and an SVG chart of perplexity against
/// the number of big layers.
public struct SweepReport: Sendable {
    public let result: BudgetSweep.Result
    public let title: String

    public init(result: BudgetSweep.Result, title: String) {
        self.result = result
        self.title = title
    }

    /// Curves as (name, perplexity per k).
    var curves: [(String, [Double])] {
        var list: [(String, [Double])] = [("oracle", result.oracle)]
        if let fixed = result.fixed { list.append(("fixed", fixed)) }
        if let router = result.router { list.append(("router", router)) }
        list.append(("random best of \(result.randomTrials)", result.randomBest))
        list.append(("random mean", result.randomMean))
        return list.map { ($0.0, $0.1.map { exp($0) }) }
    }

    public func markdown() -> String {
        let r = result
        var out = "Perplexity by number of big layers k (of \(r.layers)), \(r.tokensScored) tokens scored, context \(r.context)"
        out += String(format: "; all-big %.2f, all-small %.2f.\n\n", exp(r.allBig), exp(r.allSmall))
        let curves = self.curves
        out += "| k | " + curves.map(\.0).joined(separator: " | ") + " |\n"
        out += "|---:|" + curves.map { _ in "---:" }.joined(separator: "|") + "|\n"
        for k in 0...r.layers {
            out += "| \(k) | " + curves.map { String(format: "%.2f", $0.1[k]) }.joined(separator: " | ") + " |\n"
        }
        out += "\nShare of tokens taking the big module per layer (layer 0 first) at k = \(r.shareK):\n\n"
        out += "| policy | " + (0..<r.layers).map { "L\($0)" }.joined(separator: " | ") + " |\n"
        out += "|---|" + (0..<r.layers).map { _ in "---:" }.joined(separator: "|") + "|\n"
        for name in r.layerShares.keys.sorted() {
            let rows = r.layerShares[name]!
            out += "| \(name) big | " + rows.map { String(format: "%.2f", $0[0]) }.joined(separator: " | ") + " |\n"
            if rows.contains(where: { $0[2] > 0 }) {
                out += "| \(name) skip | " + rows.map { String(format: "%.2f", $0[2]) }.joined(separator: " | ") + " |\n"
            }
        }
        return out
    }

    public func csv() -> String {
        let curves = self.curves
        var lines = ["k," + curves.map { $0.0.replacingOccurrences(of: " ", with: "_") }.joined(separator: ",") + ",all_big,all_small"]
        for k in 0...result.layers {
            lines.append(
                "\(k)," + curves.map { String(format: "%.4f", $0.1[k]) }.joined(separator: ",")
                    + String(format: ",%.4f,%.4f", exp(result.allBig), exp(result.allSmall)))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    public func json() throws -> String {
        return try JSONOutput.string(result)
    }

    /// A line chart: perplexity (log scale) against k, one line per policy, all-big and
    /// all-small as dashed references.
    public func svg() -> String {
        let r = result
        let width = 760.0
        let height = 460.0
        let left = 70.0
        let right = 130.0
        let top = 62.0
        let bottom = 50.0
        let plotW = width - left - right
        let plotH = height - top - bottom
        let curves = self.curves
        let values = curves.flatMap(\.1) + [exp(r.allBig), exp(r.allSmall)]
        let lo = log(values.min()! * 0.95)
        let hi = log(values.max()! * 1.05)
        func x(_ k: Int) -> Double { left + plotW * Double(k) / Double(r.layers) }
        func y(_ v: Double) -> Double { top + plotH * (1 - (log(v) - lo) / max(hi - lo, 1e-9)) }
        let colors = ["#d62728", "#2ca02c", "#9467bd", "#1f77b4", "#7f7f7f"]
        func esc(_ s: String) -> String { SVGText.escape(s) }
        var s =
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"Helvetica, "
            + "Arial, sans-serif\" font-size=\"12\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"\(left)\" y=\"22\" font-size=\"14\" font-weight=\"bold\">\(esc(title))</text>\n"
        s += "<line x1=\"\(left)\" y1=\"\(top + plotH)\" x2=\"\(left + plotW)\" y2=\"\(top + plotH)\" stroke=\"black\"/>\n"
        s += "<line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(top + plotH)\" stroke=\"black\"/>\n"
        for k in 0...r.layers {
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
        for (name, value, dash) in [("all-big", exp(r.allBig), "6,4"), ("all-small", exp(r.allSmall), "2,3")] {
            s +=
                "<line x1=\"\(left)\" y1=\"\(y(value))\" x2=\"\(left + plotW)\" y2=\"\(y(value))\" stroke=\"black\" "
                + "stroke-dasharray=\"\(dash)\"/>\n"
            s += "<text x=\"\(left + plotW + 6)\" y=\"\(y(value) + 4)\">\(name) \(String(format: "%.1f", value))</text>\n"
        }
        var legendX = left
        for (i, (name, values)) in curves.enumerated() {
            let color = colors[i % colors.count]
            let points = values.enumerated().map { "\(x($0.offset)),\(y($0.element))" }.joined(separator: " ")
            s += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(points)\"/>\n"
            for (k, v) in values.enumerated() { s += "<circle cx=\"\(x(k))\" cy=\"\(y(v))\" r=\"2.5\" fill=\"\(color)\"/>\n" }
            // Legend: one row under the title.
            let lx = legendX
            legendX += 36 + 7 * Double(name.count)
            s += "<line x1=\"\(lx)\" y1=\"40\" x2=\"\(lx + 18)\" y2=\"40\" stroke=\"\(color)\" stroke-width=\"2\"/>\n"
            s += "<text x=\"\(lx + 23)\" y=\"44\">\(esc(name))</text>\n"
        }
        s += "</svg>\n"
        return s
    }
}
