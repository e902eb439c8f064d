import Foundation

/// Scores every fixed big/small pattern (the same routes for every token) on a sequence by
/// walking a tree of layer prefixes: each node runs one layer over the whole sequence once
/// (`InferenceSession.prefillLayer`) and hands its residual stream to both children, so 2^L
/// patterns cost about 2^(L+1) layer passes instead of L x 2^L.
public enum FixedPatternSearch {
    /// A pattern as an index: bit (L-1-l) is 1 when layer l is big, else it takes `low`.
    public static func pattern(index: Int, layers: Int, low: Route = .small) -> [Route] {
        (0..<layers).map { (index >> (layers - 1 - $0)) & 1 == 1 ? Route.big : low }
    }

    /// The summed loss over the sequence's targets of every pattern whose number of big layers
    /// is in `bigCounts`, by pattern index. `progress(done, total)` counts patterns; when
    /// `shouldContinue` turns false the search stops with `OracleStopped`.
    /// `low` is the route of the layers that are not big (skip on a model without a small FFN).
    public static func losses(
        model: DuoModel, ids: [Int], bigCounts: ClosedRange<Int>, low: Route = .small,
        shouldContinue: () -> Bool = { true },
        progress: (Int, Int) -> Void = { _, _ in }
    ) throws -> [Int: Double] {
        let c = model.config
        let L = c.numLayers
        guard c.isDuo || low != .small else { throw DuoError("the fixed-pattern search over small needs a Duo model with a small FFN") }
        guard ids.count >= 2 else { throw DuoError("the fixed-pattern search needs at least 2 tokens") }
        let session = InferenceSession(model: model, capacity: ids.count)
        let n = ids.count
        let d = c.hiddenSize
        let streams = [try session.embed(ids)] + (0..<L).map { _ in Tensor(shape: [n, d]) }
        let total = (0..<(1 << L)).filter { bigCounts.contains($0.nonzeroBitCount) }.count
        var results: [Int: Double] = [:]

        func visit(depth: Int, index: Int, bigs: Int) throws {
            if depth == L {
                guard shouldContinue() else { throw OracleStopped() }
                let logits = session.logits(of: streams[L])
                var sum = 0.0
                for t in 0..<(n - 1) {
                    sum += Ops.targetLoss(logits.row(t), count: c.vocabSize, target: ids[t + 1])
                }
                results[index] = sum
                progress(results.count, total)
                return
            }
            for (bit, route) in [(0, low), (1, Route.big)] {
                let nextBigs = bigs + bit
                // Prune subtrees that cannot reach an allowed number of big layers.
                guard nextBigs <= bigCounts.upperBound, nextBigs + (L - depth - 1) >= bigCounts.lowerBound else { continue }
                streams[depth + 1].data.update(from: streams[depth].data, count: n * d)
                try session.prefillLayer(depth, x: streams[depth + 1], route: route)
                try visit(depth: depth + 1, index: index << 1 | bit, bigs: nextBigs)
            }
        }
        try visit(depth: 0, index: 0, bigs: 0)
        return results
    }
}
