import Foundation

/// Held-out perplexity of a long token stream under several policies: the stream is cut into
/// non-overlapping windows of the context length, each scored from position 0 (every token but
/// a window's last is a prediction), and losses are averaged over all predicted tokens.
public enum CorpusPerplexity {
    public struct Result: Sendable, Codable {
        public var policy: String
        public var tokens: Int
        public var meanLoss: Double
        public var perplexity: Double { exp(meanLoss) }
        public var ffnFraction: Double
    }

    /// Scores `ids` under each policy; `progress(done, total)` counts windows.
    public static func run(
        model: DuoModel, ids: [Int], policies: [RoutingPolicy], window: Int? = nil,
        progress: (Int, Int) -> Void = { _, _ in }
    ) throws -> [Result] {
        let length = min(window ?? model.config.maxPositions, model.config.maxPositions)
        let windows = PolicyEvaluator.windows(ids, length: length)
        guard !windows.isEmpty else { throw DuoError("text is too short to score (needs at least 2 tokens)") }
        let total = windows.count * policies.count
        var done = 0
        var results: [Result] = []
        let session = InferenceSession(model: model, capacity: length)
        for policy in policies {
            var lossSum = 0.0
            var count = 0
            var fraction = 0.0
            var routed = 0
            for w in windows {
                session.reset()
                let logits = try session.forward(w, policy: policy)
                let scored = SequenceEvaluation.score(
                    model: model, ids: w, logits: logits,
                    routes: RouteMatrix(rows: session.routes), topK: 0)
                lossSum += scored.losses.reduce(0, +)
                count += scored.losses.count
                fraction += scored.ffnFractions.reduce(0, +)
                routed += scored.ffnFractions.count
                done += 1
                progress(done, total)
            }
            results.append(
                Result(
                    policy: policy.name, tokens: count, meanLoss: lossSum / Double(count),
                    ffnFraction: fraction / Double(routed)))
        }
        return results
    }

    /// The figures of a catalogue policy evaluated on the same windows (`PolicyEvaluator`).
    public static func result(_ outcome: PolicyOutcome, policy: String, model: DuoModel) -> Result {
        let rows = outcome.routes.flatMap { m in (0..<m.tokens).map { m.row($0) } }
        let fraction = rows.reduce(0) { $0 + model.cost.ffnFraction(pattern: $1) } / Double(max(rows.count, 1))
        return Result(policy: policy, tokens: outcome.losses.count, meanLoss: outcome.meanLoss, ffnFraction: fraction)
    }
}
