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
        var windows: [[Int]] = []
        var start = 0
        while start + 1 < ids.count {
            windows.append(Array(ids[start..<min(start + length, ids.count)]))
            start += length
        }
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
}
