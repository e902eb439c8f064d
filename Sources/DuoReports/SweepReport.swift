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

    /// Curves as (name, perplexity per k), in the order eval computed them.
    var curves: [(String, [Double])] {
        result.curves.map { curve in
            let kind = PolicyKind(rawValue: curve.policy)
            let name = kind?.usesTrials == true ? "\(curve.policy) best of \(result.randomTrials)" : curve.policy
            return (name, curve.meanLoss.map { exp($0) })
        }
    }

    public func markdown() -> String {
        let r = result
        var out = "Perplexity by number of big layers k (of \(r.layers)), \(r.tokensScored) tokens scored, context \(r.context)"
        out += String(format: "; all-big %.2f, all-small %.2f.\n\n", exp(r.allBig), exp(r.allSmall))
        let curves = self.curves
        out += "| k | " + curves.map { MarkdownText.cell($0.0) }.joined(separator: " | ") + " |\n"
        out += "|---:|" + curves.map { _ in "---:" }.joined(separator: "|") + "|\n"
        for k in 0...r.layers {
            out += "| \(k) | " + curves.map { String(format: "%.2f", $0.1[k]) }.joined(separator: " | ") + " |\n"
        }
        out += "\nShare of tokens taking the big module per layer (layer 0 first) at k = \(r.shareK):\n\n"
        out += "| policy | " + (0..<r.layers).map { "L\($0)" }.joined(separator: " | ") + " |\n"
        out += "|---|" + (0..<r.layers).map { _ in "---:" }.joined(separator: "|") + "|\n"
        for name in r.layerShares.keys.sorted() {
            let rows = r.layerShares[name]!
            out += "| \(MarkdownText.cell(name)) big | " + rows.map { String(format: "%.2f", $0[0]) }.joined(separator: " | ") + " |\n"
            if rows.contains(where: { $0[2] > 0 }) {
                out += "| \(MarkdownText.cell(name)) skip | " + rows.map { String(format: "%.2f", $0[2]) }.joined(separator: " | ") + " |\n"
            }
        }
        return out
    }

    public func csv() -> String {
        let curves = self.curves
        let names = curves.map { CSVText.field($0.0.replacingOccurrences(of: " ", with: "_")) }
        var lines = ["k," + names.joined(separator: ",") + ",all_big,all_small"]
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
        PerplexityChart(
            title: title, layers: result.layers, curves: curves.map { ($0.0, $0.1.map { Optional($0) }) },
            references: [("all-big", exp(result.allBig)), ("all-small", exp(result.allSmall))]
        ).svg()
    }
}
