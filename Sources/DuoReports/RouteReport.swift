import DuoEngine
import Foundation

/// The output of `duoscope route` and `oracle` in its four formats. The JSON form (schema
/// "duoscope.route/1", see docs/cli.md) is what scripts and the explorer's exports build on.
public struct RouteReport: Sendable {
    public let model: DuoModel
    public let policy: String
    public let text: String
    public let evaluation: SequenceEvaluation

    public init(model: DuoModel, policy: String, text: String, evaluation: SequenceEvaluation) {
        self.model = model
        self.policy = policy
        self.text = text
        self.evaluation = evaluation
    }

    private func tokenText(_ id: Int) -> String { model.tokenizer?.tokenText(id) ?? "#\(id)" }

    // MARK: JSON

    struct TopJSON: Encodable {
        let id: Int
        let text: String
        let probability: Double
    }
    struct TokenJSON: Encodable {
        let position: Int
        let id: Int
        let text: String
        let nextID: Int?
        let loss: Double?
        let routes: String
        let ffnFraction: Double
        let flops: Int
        let top: [TopJSON]

        enum CodingKeys: String, CodingKey { case position, id, text, nextID, loss, routes, ffnFraction, flops, top }

        /// Writes `next_id` and `loss` as null for the last token instead of leaving them out.
        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(position, forKey: .position)
            try c.encode(id, forKey: .id)
            try c.encode(text, forKey: .text)
            try c.encode(nextID, forKey: .nextID)
            try c.encode(loss, forKey: .loss)
            try c.encode(routes, forKey: .routes)
            try c.encode(ffnFraction, forKey: .ffnFraction)
            try c.encode(flops, forKey: .flops)
            try c.encode(top, forKey: .top)
        }
    }
    struct ModelJSON: Encodable {
        let name: String
        let path: String?
        let layers: Int
        let routes: [String]
        let context: Int
    }
    struct SummaryJSON: Encodable {
        let tokens: Int
        let scored: Int
        let meanLoss: Double
        let perplexity: Double
        let ffnFraction: Double
        let totalFlops: Int
        let allBigFlops: Int
    }
    /// Written by `JSONOutput`: the keys in snake_case (`next_id`, `mean_loss`, ...).
    struct ReportJSON: Encodable {
        let schema = "duoscope.route/1"
        let model: ModelJSON
        let policy: String
        let text: String
        let tokens: [TokenJSON]
        let summary: SummaryJSON
    }

    public func json() throws -> String {
        let e = evaluation
        let c = model.config
        let allBig = Array(repeating: Route.big, count: c.numLayers)
        let tokens = e.ids.indices.map { t in
            TokenJSON(
                position: t, id: e.ids[t], text: tokenText(e.ids[t]),
                nextID: t + 1 < e.ids.count ? e.ids[t + 1] : nil,
                loss: t < e.losses.count ? e.losses[t] : nil,
                routes: e.routes.pattern(t), ffnFraction: e.ffnFractions[t],
                flops: model.cost.total(pattern: e.routes.row(t), position: t),
                top: e.top[t].map { TopJSON(id: $0.id, text: tokenText($0.id), probability: $0.probability) })
        }
        let summary = SummaryJSON(
            tokens: e.ids.count, scored: e.losses.count, meanLoss: e.meanLoss, perplexity: e.perplexity,
            ffnFraction: e.meanFFNFraction, totalFlops: e.totalFLOPs,
            allBigFlops: e.ids.indices.reduce(0) { $0 + model.cost.total(pattern: allBig, position: $1) })
        let report = ReportJSON(
            model: ModelJSON(
                name: model.name, path: model.directory?.path, layers: c.numLayers,
                routes: c.availableRoutes.map(\.name), context: c.maxPositions),
            policy: policy, text: text, tokens: tokens, summary: summary)
        return try JSONOutput.string(report)
    }

    // MARK: CSV

    /// One row per token; token texts through `CSVText.field` (escaped for the terminal, quoted).
    public func csv() -> String {
        let e = evaluation
        var lines = ["position,id,token,next_id,loss,routes,ffn_fraction"]
        for t in e.ids.indices {
            let next = t + 1 < e.ids.count ? String(e.ids[t + 1]) : ""
            let loss = t < e.losses.count ? String(format: "%.6f", e.losses[t]) : ""
            lines.append(
                [
                    String(t), String(e.ids[t]), CSVText.field(tokenText(e.ids[t])), next, loss,
                    e.routes.pattern(t), String(format: "%.6f", e.ffnFractions[t]),
                ].joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    // MARK: Markdown

    /// The table as Markdown: a summary line, then one row per token; the model name, the policy
    /// and the token texts through `MarkdownText.cell` (escaped for the terminal and for Markdown).
    public func markdown() -> String {
        let e = evaluation
        var out = "Model \(MarkdownText.cell(model.name)), policy \(MarkdownText.cell(policy)): \(e.ids.count) tokens "
        out += "(\(e.losses.count) scored), \(model.config.numLayers) layers; "
        out += String(
            format: "mean loss %.4f, perplexity %.3f, FFN compute %.1f%% of all-big. Routes: B big, S small, K skip; layer 0 first.\n\n",
            e.meanLoss, e.perplexity, 100 * e.meanFFNFraction)
        out += "| pos | token | next | loss | routes | ffn% |\n|---:|---|---|---:|---|---:|\n"
        let shown = e.ids.map { "\"" + MarkdownText.cell(tokenText($0)) + "\"" }
        for t in e.ids.indices {
            let next = t + 1 < e.ids.count ? shown[t + 1] : ""
            let loss = t < e.losses.count ? String(format: "%.4f", e.losses[t]) : "-"
            out +=
                "| \(t) | \(shown[t]) | \(next) | \(loss) | \(e.routes.pattern(t)) | \(String(format: "%.1f", 100 * e.ffnFractions[t])) |\n"
        }
        return out
    }

    // MARK: Table

    /// A human-readable table; the model name, the policy and token strings are escaped so they
    /// cannot act on a terminal.
    public func table() -> String {
        let e = evaluation
        let c = model.config
        var out = "model \(TerminalSafe.escape(model.name))  policy \(TerminalSafe.escape(policy))  "
        out += "tokens \(e.ids.count) (\(e.losses.count) scored)  layers \(c.numLayers)\n"
        out += String(
            format: "mean loss %.4f  perplexity %.3f  FFN compute %.1f%% of all-big\n",
            e.meanLoss, e.perplexity, 100 * e.meanFFNFraction)
        out += "routes: B big, S small, K skip; layer 0 first\n\n"
        let shown = e.ids.map { "\"" + TerminalSafe.escape(tokenText($0)) + "\"" }
        let width = min(max(7, shown.map(\.count).max() ?? 7), 24)
        func pad(_ s: String, _ w: Int) -> String {
            s.count >= w ? String(s.prefix(w)) : s + String(repeating: " ", count: w - s.count)
        }
        func left(_ s: String, _ w: Int) -> String { String(repeating: " ", count: max(0, w - s.count)) + s }
        out +=
            left("pos", 5) + "  " + pad("token", width) + "  " + pad("next", width) + "  " + left("loss", 8)
            + "  " + pad("routes", max(6, c.numLayers)) + "  " + left("ffn%", 6) + "\n"
        for t in e.ids.indices {
            let next = t + 1 < e.ids.count ? shown[t + 1] : ""
            let loss = t < e.losses.count ? String(format: "%.4f", e.losses[t]) : "-"
            out +=
                left(String(t), 5) + "  " + pad(shown[t], width) + "  " + pad(next, width) + "  " + left(loss, 8)
                + "  " + pad(e.routes.pattern(t), max(6, c.numLayers)) + "  " + left(String(format: "%.1f", 100 * e.ffnFractions[t]), 6)
                + "\n"
        }
        return out
    }
}
