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
    /// A pattern whose lower bound (`TangentBound`: two dot products per token, then a shortlist of
    /// the vocabulary) already exceeds the best of its budget found so far never gets the full
    /// LM head.
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
            let slack = TangentBound.margin * Double(ids.count - 1)
            if let incumbent, let lower, lower > incumbent.loss + slack { return }
            // The second, closer bound only where the first could not rule the pattern out.
            if let incumbent, let closer = points.shortlistBound(normed, scratch: logits), closer > incumbent.loss + slack { return }
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
///
/// A closer bound (`shortlistBound`) takes a shortlist S of the vocabulary exactly and the rest R
/// by tangent: LSE(z) = log(exp(LSE_S(z)) + exp(LSE_R(z))), and LSE_R(z) >= c_R + u_R . h with
/// u_R = W^T q, c_R = LSE_R(z0) - q . z0 for q the softmax of z0 over R alone. The gap is then the
/// rest's tangent gap, weighted by the rest's share of the probability: small where the tokens
/// that carry the mass are in S. It costs the LM head over S (an eighth of the vocabulary here).
struct TangentBound {
    let model: DuoModel
    /// The target of each scored row.
    let targets: [Int]
    /// Per tangent point: u `[rows, d]` and c per row, and the same over the rest of the
    /// vocabulary outside `shortlist` (nil when the point was made for another shortlist; c is
    /// -infinity at a row whose rest holds no probability).
    private(set) var points: [(u: Tensor, c: [Double], rest: (u: Tensor, c: [Double])?)] = []
    /// The rows of the LM head of the shortlist: the tokens with the highest logit at any row of
    /// the first point, and their ids.
    private(set) var shortlist: (weights: Tensor, tokens: [Int])?

    /// Tokens in the shortlist.
    static let shortlistSize = 512

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

    /// The closer bound for a pattern's final-norm output, by the shortlist and the rest's
    /// tangents (nil before a point was made, or on a vocabulary too small for a shortlist);
    /// `scratch` holds at least `rows x shortlistSize` floats and is overwritten.
    func shortlistBound(_ normed: Tensor, scratch: Tensor) -> Double? {
        guard let shortlist else { return nil }
        let d = model.config.hiddenSize
        let s = shortlist.tokens.count
        precondition(scratch.count >= targets.count * s, "TangentBound: scratch too small")
        LayerKernels.splitLinear(normed.data, targets.count, shortlist.weights, scratch.data, false)
        let w = model.weights.lmHead
        var total = 0.0
        for (t, target) in targets.enumerated() {
            let h = normed.row(t)
            let head = Ops.logSumExp(scratch.data + t * s, count: s)
            var rest = -Double.infinity
            for case (_, _, let tangent?) in points where tangent.c[t] > -.infinity {
                rest = max(rest, tangent.c[t] + Double(Ops.dot(tangent.u.row(t), h, count: d)))
            }
            let all = rest == -.infinity ? head : max(head, rest) + Foundation.log1p(Foundation.exp(-abs(head - rest)))
            total += all - Double(Ops.dot(w.row(target), h, count: d))
        }
        return total
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
            for (u, c, _) in points { tangent = max(tangent, c[t] + Double(Ops.dot(u.row(t), h, count: d))) }
            total += tangent - Double(Ops.dot(w.row(target), h, count: d))
        }
        return total
    }

    /// A scored pattern's logits `[rows, vocab]` as a tangent point when the bound was missing
    /// or loose for it and there is room for one more (nil otherwise), with its tangent over the
    /// rest of the vocabulary outside the shortlist (the first point chooses the shortlist).
    func point(logits: Tensor, loss: Double, lowerBound: Double?) -> Point? {
        guard points.count < Self.maxPoints else { return nil }
        if let lowerBound, loss - lowerBound < Self.looseness * Double(targets.count) { return nil }
        let vocab = model.config.vocabSize
        let rows = targets.count
        let list = shortlist ?? Self.shortlist(logits: logits, model: model)
        let inList = list.map { list in
            var member = [Bool](repeating: false, count: vocab)
            for token in list.tokens { member[token] = true }
            return member
        }
        // Per row: the softmax p, and p over the rest alone (zero on the shortlist) in `restP`.
        let probabilities = Tensor(shape: [rows, vocab])
        let restP = Tensor(shape: inList == nil ? [0, vocab] : [rows, vocab])
        var c = [Double](repeating: 0, count: rows)
        var restC = [Double](repeating: -.infinity, count: rows)
        c.withUnsafeMutableBufferPointer { c in
            restC.withUnsafeMutableBufferPointer { restC in
                Parallel.forEachSlice(rows, minimum: 16) { slice in
                    for t in slice {
                        let z = logits.row(t)
                        let p = probabilities.row(t)
                        p.update(from: z, count: vocab)
                        Ops.softmax(p, count: vocab)
                        let lse = Ops.logSumExp(z, count: vocab)
                        c[t] = lse - Double(Ops.dot(p, z, count: vocab))
                        guard let inList else { continue }
                        // q = p / m over the rest (m its share): c_R = LSE(z) + log m - q . z.
                        let q = restP.row(t)
                        var (mass, weighted) = (0.0, 0.0)
                        for j in 0..<vocab where !inList[j] {
                            mass += Double(p[j])
                            weighted += Double(p[j]) * Double(z[j])
                        }
                        guard mass > 1e-12 else { continue }
                        for j in 0..<vocab { q[j] = inList[j] ? 0 : Float(Double(p[j]) / mass) }
                        restC[t] = lse + Foundation.log(mass) - weighted / mass
                    }
                }
            }
        }
        let u = Self.transposedProduct(probabilities, model: model)
        let rest = list.map { _ in (u: Self.transposedProduct(restP, model: model), c: restC) }
        return Point(u: u, c: c, rest: rest, shortlist: list)
    }

    /// A tangent point, its tangent over the rest, and the shortlist that rest is outside of.
    struct Point {
        var u: Tensor
        var c: [Double]
        var rest: (u: Tensor, c: [Double])?
        var shortlist: (weights: Tensor, tokens: [Int])?
    }

    /// `p W` for probabilities p `[rows, vocab]`: the LM head's weight transposed, rows split
    /// across the cores.
    private static func transposedProduct(_ p: Tensor, model: DuoModel) -> Tensor {
        let d = model.config.hiddenSize
        let u = Tensor(shape: [p.rows, d])
        Parallel.forEachSlice(p.rows, minimum: 16) { slice in
            BLAS.gemmAB(
                m: slice.count, n: d, k: p.columns, a: p.row(slice.lowerBound), lda: p.columns, b: model.weights.lmHead.data, ldb: d,
                c: u.row(slice.lowerBound), ldc: d)
        }
        return u
    }

    /// The `shortlistSize` tokens with the highest logit at any row (nil when the vocabulary is
    /// too small for a shortlist to pay).
    private static func shortlist(logits: Tensor, model: DuoModel) -> (weights: Tensor, tokens: [Int])? {
        guard logits.columns >= 4 * shortlistSize else { return nil }
        let tokens = OracleTree.shortlist(logits, size: shortlistSize)
        return (model.weights.lmHead.rows(tokens), tokens)
    }

    /// Adds a tangent point (while there is room); the first point's shortlist becomes the
    /// shortlist, and a point made for another (by a job that ran beside the first) keeps only its
    /// full tangent.
    mutating func add(_ point: Point) {
        guard points.count < Self.maxPoints else { return }
        if shortlist == nil { shortlist = point.shortlist }
        let sameList = point.shortlist.map { $0.tokens } == shortlist.map { $0.tokens }
        points.append((point.u, point.c, sameList ? point.rest : nil))
    }
}
