import Foundation

/// Scores every fixed big/small pattern (the same routes for every token) on a sequence by
/// walking a tree of layer prefixes: each node runs one layer's attention over the whole
/// sequence once (`InferenceSession.prefillAttention`), each child adds its route's FFN
/// (`prefillFFN`) and hands its residual stream on, so 2^L patterns cost about 2^L attention
/// and 2^(L+1) FFN passes instead of L x 2^L layers.
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
        var results: [Int: Double] = [:]
        try walk(model: model, ids: ids, bigCounts: bigCounts, low: low, shouldContinue: shouldContinue, progress: progress) {
            index, normed, logits, jobs in
            lmHead(model: model, normed, into: logits)
            let loss = summedLoss(model: model, ids: ids, logits: logits)
            jobs.locked { results[index] = loss }
        }
        return results
    }

    /// The best pattern for each number of big layers in `bigCounts`: the lowest summed loss
    /// (ties: the lowest index), as the minimum of `losses` gives, by number of big layers.
    /// A pattern whose lower bound (`TangentBound`, two dot products per token) already exceeds
    /// the best of its budget found so far never gets the full LM head.
    public static func best(
        model: DuoModel, ids: [Int], bigCounts: ClosedRange<Int>, low: Route = .small,
        shouldContinue: () -> Bool = { true },
        progress: (Int, Int) -> Void = { _, _ in }
    ) throws -> (winners: [Int: (index: Int, loss: Double)], scoredExactly: Int) {
        // Shared by the subtrees searched side by side, under the jobs' lock: the best so far of
        // each budget, and the tangent points.
        var winners: [Int: (index: Int, loss: Double)] = [:]
        var bound = TangentBound(model: model, targets: Array(ids.dropFirst()))
        var exact = 0
        try walk(model: model, ids: ids, bigCounts: bigCounts, low: low, shouldContinue: shouldContinue, progress: progress) {
            index, normed, logits, jobs in
            let k = index.nonzeroBitCount
            let (points, incumbent) = jobs.locked { (bound, winners[k]) }
            let lower = points.lowerBound(normed)
            if let incumbent, let lower, lower > incumbent.loss + TangentBound.margin * Double(ids.count - 1) { return }
            lmHead(model: model, normed, into: logits)
            let loss = summedLoss(model: model, ids: ids, logits: logits)
            let point = points.point(logits: logits, loss: loss, lowerBound: lower)
            jobs.locked {
                exact += 1
                if let point { bound.add(point) }
                // The lowest loss, ties to the lowest index.
                if let best = winners[k], !(loss < best.loss || (loss == best.loss && index < best.index)) { return }
                winners[k] = (index, loss)
            }
        }
        return (winners, exact)
    }

    /// Walks the prefix tree; `leaf(index, normed, logits, jobs)` sees each admissible pattern's
    /// final-norm output `[ids.count, d]` and a buffer for its logits `[ids.count, vocab]` (one per
    /// job, reused from leaf to leaf). The subtrees below the first `splitDepth` layers run
    /// side by side on the cores (`Parallel.forEachJob`), each from its highest pattern index down;
    /// `leaf` guards what they share with `jobs.locked`.
    private static func walk(
        model: DuoModel, ids: [Int], bigCounts: ClosedRange<Int>, low: Route, shouldContinue: () -> Bool,
        progress: (Int, Int) -> Void, leaf: (Int, Tensor, Tensor, JobControl) throws -> Void
    ) throws {
        let c = model.config
        let L = c.numLayers
        guard c.isDuo || low != .small else { throw DuoError("the fixed-pattern search over small needs a Duo model with a small FFN") }
        guard ids.count >= 2 else { throw DuoError("the fixed-pattern search needs at least 2 tokens") }
        let n = ids.count
        let d = c.hiddenSize
        let total = (0..<(1 << L)).filter { bigCounts.contains($0.nonzeroBitCount) }.count
        let split = min(L, splitDepth)
        // The control lives only while the jobs run.
        try withoutActuallyEscaping(shouldContinue) { shouldContinue in
            try withoutActuallyEscaping(progress) { progress in
                let jobs = JobControl(shouldContinue: shouldContinue, progress: progress)
                try run(jobs)
            }
        }
        func run(_ jobs: JobControl) throws {
            Parallel.withSingleThreadedBLAS {
                Parallel.forEachJob(1 << split) { top in
                    jobs.run {
                        let session = InferenceSession(model: model, capacity: n)
                        let streams = [try session.embed(ids)] + (0..<L).map { _ in Tensor(shape: [n, d]) }
                        // Each layer's input plus its attention, kept for the node's second child.
                        let attended = (0..<L).map { _ in Tensor(shape: [n, d]) }
                        let normed = Tensor(shape: [n, d])
                        let logits = Tensor(shape: [n, c.vocabSize])
                        func visit(depth: Int, index: Int, bigs: Int) throws {
                            if depth == L {
                                guard jobs.proceed() else { throw OracleStopped() }
                                Ops.rmsNorm(
                                    streams[L].data, rows: n, width: d, weight: model.weights.finalNorm.data, eps: c.rmsNormEps,
                                    into: normed.data)
                                try leaf(index, normed, logits, jobs)
                                jobs.advance(total: total)
                                return
                            }
                            // The first layers follow this job's subtree; subtrees that cannot reach an
                            // allowed number of big layers are pruned.
                            let bits = (depth < split ? [(top >> (split - 1 - depth)) & 1] : [0, 1]).filter {
                                bigs + $0 <= bigCounts.upperBound && bigs + $0 + (L - depth - 1) >= bigCounts.lowerBound
                            }
                            guard !bits.isEmpty else { return }
                            // The children share the layer's attention; only the FFN's route differs.
                            attended[depth].data.update(from: streams[depth].data, count: n * d)
                            try session.prefillAttention(depth, x: attended[depth])
                            // Big first: good patterns found early rule more of the rest out by
                            // their bound (on quotes.txt at k = 4: 166-171 full LM heads, not 179-212).
                            for bit in bits.reversed() {
                                streams[depth + 1].data.update(from: attended[depth].data, count: n * d)
                                try session.prefillFFN(depth, x: streams[depth + 1], policy: UniformPolicy(bit == 1 ? .big : low))
                                try visit(depth: depth + 1, index: index << 1 | bit, bigs: bigs + bit)
                            }
                        }
                        try visit(depth: 0, index: 0, bigs: 0)
                    }
                }
            }
            try jobs.finish()
        }
    }

    /// Layers whose routes pick a subtree: 2^splitDepth jobs, enough for the two cores to
    /// share uneven subtrees (a budget of k big layers leaves more patterns below "small").
    static let splitDepth = 3

    /// The LM head of `normed` into `logits` (overwritten).
    private static func lmHead(model: DuoModel, _ normed: Tensor, into logits: Tensor) {
        LayerKernels.splitLinear(normed.data, normed.rows, model.weights.lmHead, logits.data, false)
    }

    /// The summed loss over the targets, rows spread over the cores and added in order.
    private static func summedLoss(model: DuoModel, ids: [Int], logits: Tensor) -> Double {
        let vocab = model.config.vocabSize
        var losses = [Double](repeating: 0, count: ids.count - 1)
        losses.withUnsafeMutableBufferPointer { out in
            Parallel.forEachSlice(out.count, minimum: 16) { rows in
                for t in rows { out[t] = Ops.targetLoss(logits.row(t), count: vocab, target: ids[t + 1]) }
            }
        }
        return losses.reduce(0, +)
    }
}

/// A lower bound of a pattern's summed loss from patterns already scored. log-sum-exp is
/// convex, so it lies above its tangent at any point z0: LSE(z) >= LSE(z0) + p0 . (z - z0)
/// with p0 = softmax(z0). For logits z = W h of a final-norm output h this is c + u . h with
/// u = W^T p0 and c = LSE(z0) - p0 . z0, so a token's bound costs two dot products of the hidden
/// width (the tangent and the target's logit) instead of the LM head; the gap is
/// KL(p0 || softmax(z)). Each token takes the best of the tangents kept (up to `maxPoints`,
/// added from scored patterns whose bound was loose).
struct TangentBound {
    let model: DuoModel
    /// The target of each scored row.
    let targets: [Int]
    /// Per tangent point: u `[rows, d]` and c per row.
    private(set) var points: [(u: Tensor, c: [Double])] = []

    static let maxPoints = 16
    /// Per token: how far a bound must exceed the best found to rule a pattern out (far above
    /// the rounding of the dot products), and how loose a bound must have been to add its
    /// pattern as a tangent point.
    static let margin = 1e-3
    static let looseness = 0.01

    init(model: DuoModel, targets: [Int]) {
        self.model = model
        self.targets = targets
    }

    /// The bound for a pattern's final-norm output (nil before any pattern was scored).
    func lowerBound(_ normed: Tensor) -> Double? {
        guard !points.isEmpty else { return nil }
        let d = model.config.hiddenSize
        let w = model.weights.lmHead
        var total = 0.0
        for (t, target) in targets.enumerated() {
            let h = normed.row(t)
            var tangent = -Double.infinity
            for point in points { tangent = max(tangent, point.c[t] + Double(Ops.dot(point.u.row(t), h, count: d))) }
            total += tangent - Double(Ops.dot(w.row(target), h, count: d))
        }
        return total
    }

    /// A scored pattern's logits `[rows, vocab]` as a tangent point when the bound was missing
    /// or loose for it and there is room for one more (nil otherwise).
    func point(logits: Tensor, loss: Double, lowerBound: Double?) -> (u: Tensor, c: [Double])? {
        guard points.count < Self.maxPoints else { return nil }
        if let lowerBound, loss - lowerBound < Self.looseness * Double(targets.count) { return nil }
        let vocab = model.config.vocabSize
        let rows = targets.count
        let probabilities = Tensor(shape: [rows, vocab])
        var c = [Double](repeating: 0, count: rows)
        c.withUnsafeMutableBufferPointer { c in
            Parallel.forEachSlice(rows, minimum: 16) { slice in
                for t in slice {
                    let z = logits.row(t)
                    let p = probabilities.row(t)
                    p.update(from: z, count: vocab)
                    Ops.softmax(p, count: vocab)
                    c[t] = Ops.logSumExp(z, count: vocab) - Double(Ops.dot(p, z, count: vocab))
                }
            }
        }
        let u = Tensor(shape: [rows, model.config.hiddenSize])
        // u = p W: the LM head's weight transposed, rows split across the cores.
        Parallel.forEachSlice(rows, minimum: 16) { slice in
            BLAS.gemmAB(
                m: slice.count, n: model.config.hiddenSize, k: vocab, a: probabilities.row(slice.lowerBound), lda: vocab,
                b: model.weights.lmHead.data, ldb: model.config.hiddenSize, c: u.row(slice.lowerBound), ldc: model.config.hiddenSize)
        }
        return (u, c)
    }

    /// Adds a tangent point (while there is room).
    mutating func add(_ point: (u: Tensor, c: [Double])) {
        if points.count < Self.maxPoints { points.append(point) }
    }
}
