import DuoEngine
import Foundation

/// What `duoscope info` prints: architecture, parameter counts, FLOPs per token per route and
/// a tokenizer summary.
public struct ModelSummary: Sendable {
    public let model: DuoModel

    public init(model: DuoModel) { self.model = model }

    public func text() -> String {
        let c = model.config
        let p = model.parameterCounts
        let cost = model.cost
        func n(_ value: Int) -> String {
            let digits = String(value)
            var out = ""
            for (i, ch) in digits.reversed().enumerated() {
                if i > 0 && i % 3 == 0 { out.append(",") }
                out.append(ch)
            }
            return String(out.reversed())
        }
        var lines: [String] = []
        // The path and the tokenizer's own names come from files: escaped for the terminal.
        lines.append("model        \(TerminalSafe.escape(model.directory?.path ?? model.name))")
        let family = c.family.architecture
        let kind = c.isDuo ? "Duo \(family) (big + small FFN per layer; routes skip/small/big)" : "plain \(family) (routes big/skip)"
        lines.append("kind         \(kind)")
        lines.append("dtype        \(model.storedDType?.rawValue ?? "F32") on disk, Float32 in memory")
        lines.append("layers       \(c.numLayers)")
        lines.append("hidden       \(c.hiddenSize)")
        lines.append("heads        \(c.numHeads) query, \(c.numKVHeads) key/value (head dim \(c.headDim))")
        lines.append("big FFN      inner \(c.intermediateSize)")
        if let s = c.smallIntermediateSize {
            lines.append("small FFN    inner \(s) (\(String(format: "%.1f", Double(c.intermediateSize) / Double(s)))x narrower)")
        }
        lines.append("vocab        \(c.vocabSize)")
        var rope = "RoPE theta \(c.ropeTheta)"
        switch c.ropeScaling {
        case .none: break
        case .linear(let factor): rope += ", linear scaling x\(factor)"
        case .llama3(let factor, let low, let high, let original):
            rope += ", llama3 scaling x\(factor) (low/high freq factor \(low)/\(high), original context \(original))"
        }
        lines.append("context      \(c.maxPositions) positions, \(rope)")
        if let window = c.slidingWindow {
            let layers = c.slidingWindowLayers.map { "layers " + $0.map(String.init).joined(separator: ",") } ?? "every layer"
            lines.append("attention    sliding window of \(window) positions on \(layers)")
        }
        if c.family.hasQKVBias { lines.append("biases       q, k, v projections") }
        lines.append("lm head      \(c.tieWordEmbeddings ? "tied to the embedding" : "separate")")
        if let t = c.trainRouteProbabilities {
            lines.append("trained with routes skip \(t.skip), small \(t.small), big \(t.big)")
        }
        lines.append("")
        lines.append("parameters   \(n(p.total)) total")
        lines.append("  embedding  \(n(p.embedding))")
        if p.lmHead > 0 { lines.append("  lm head    \(n(p.lmHead))") }
        lines.append("  attention  \(n(p.attention))")
        lines.append("  big FFN    \(n(p.bigFFN))")
        if c.isDuo { lines.append("  small FFN  \(n(p.smallFFN))") }
        lines.append("  norms      \(n(p.norms))")
        lines.append("")
        lines.append("FLOPs per token (1 multiply-add = 2 FLOPs)")
        lines.append(
            "  per layer: attention projections \(n(cost.attentionProjections)) + \(n(cost.attentionPerContextToken)) per context token")
        lines.append("  per layer FFN: big \(n(cost.bigFFN))" + (c.isDuo ? ", small \(n(cost.smallFFN))" : "") + ", skip 0")
        lines.append("  lm head: \(n(cost.lmHead))")
        for route in c.availableRoutes.reversed() {
            let pattern = Array(repeating: route, count: c.numLayers)
            let total = cost.total(pattern: pattern, position: c.maxPositions / 2)
            lines.append(
                "  all-\(route.name) at position \(c.maxPositions / 2): \(n(total)) "
                    + "(\(String(format: "%.1f", 100 * cost.totalFraction(pattern: pattern, position: c.maxPositions / 2)))% of "
                    + "all-big; FFN \(String(format: "%.1f", 100 * cost.ffnFraction(pattern: pattern)))%)"
            )
        }
        if let t = model.tokenizer {
            let s = t.summary
            lines.append("")
            lines.append(
                "tokenizer    \(TerminalSafe.escape(s.model)), \(s.vocabSize) ids, \(s.mergeCount) merges, "
                    + "pre-tokenizer \(TerminalSafe.escape(s.preTokenizer))")
            if !s.specialTokens.isEmpty {
                lines.append("special      " + s.specialTokens.map { TerminalSafe.escape($0) }.joined(separator: " "))
            }
        }
        lines.append("")
        lines.append("BLAS         " + BLASCore.info.summary)
        return lines.joined(separator: "\n") + "\n"
    }

    /// `info --format json`, written by `JSONOutput` (snake_case keys). Schema 2: schema 1 wrote
    /// the config, parameter counts, FLOPs, tokenizer and BLAS keys in camelCase.
    struct InfoJSON: Encodable {
        let schema = "duoscope.info/2"
        let path: String?
        let config: ModelConfig
        let dtype: String?
        let parameters: ParameterCounts
        let parametersTotal: Int
        let flops: ComputeCost
        let tokenizer: TokenizerSummary?
        let blas: BLASCore.Info
    }

    public func json() throws -> String {
        let info = InfoJSON(
            path: model.directory?.path, config: model.config, dtype: model.storedDType?.rawValue,
            parameters: model.parameterCounts, parametersTotal: model.parameterCounts.total,
            flops: model.cost, tokenizer: model.tokenizer?.summary, blas: BLASCore.info)
        return try JSONOutput.string(info)
    }
}
