import Foundation

/// Throughput measurements of the engine: the machine's sgemm peak, batched prefill and
/// token-by-token decoding, each as tokens/s and achieved GFLOP/s.
public enum EngineBenchmark {
    /// One measured figure.
    public struct Figure: Sendable, Codable {
        public var name: String
        public var tokensPerSecond: Double?
        public var gflops: Double
        public var seconds: Double
        public var repetitions: Int
        /// Decoding: the bytes each token reads on average (the weights its routes use and its
        /// share of the KV cache, 4 bytes a float). Bandwidth over this is the rate at which the
        /// memory could deliver them: a decode step cannot beat it whatever the FLOPs.
        public var bytesPerToken: Double?

        public init(
            name: String, tokensPerSecond: Double?, gflops: Double, seconds: Double, repetitions: Int, bytesPerToken: Double? = nil
        ) {
            self.name = name
            self.tokensPerSecond = tokensPerSecond
            self.gflops = gflops
            self.seconds = seconds
            self.repetitions = repetitions
            self.bytesPerToken = bytesPerToken
        }
    }

    /// Monotonic seconds.
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// Runs `body` at least once and until `minimumSeconds` pass; returns (best seconds per run, runs).
    static func time(minimumSeconds: Double, _ body: () throws -> Void) rethrows -> (Double, Int) {
        try body()  // warm-up
        var best = Double.infinity
        var runs = 0
        let start = now()
        repeat {
            let t0 = now()
            try body()
            best = min(best, now() - t0)
            runs += 1
        } while now() - start < minimumSeconds
        return (best, runs)
    }

    /// Square single-precision GEMM of size n: the BLAS peak to compare the engine with.
    public static func sgemmPeak(size n: Int, minimumSeconds: Double = 1) -> Figure {
        let a = Tensor(shape: [n, n])
        let b = Tensor(shape: [n, n])
        let c = Tensor(shape: [n, n])
        for i in 0..<a.count {
            a.data[i] = Float(i % 7) * 0.1
            b.data[i] = Float(i % 5) * 0.1
        }
        let (seconds, runs) = time(minimumSeconds: minimumSeconds) {
            BLAS.gemmABt(m: n, n: n, k: n, a: a.data, lda: n, b: b.data, ldb: n, c: c.data, ldc: n)
        }
        return Figure(
            name: "sgemm \(n)x\(n)x\(n)", tokensPerSecond: nil, gflops: 2 * Double(n * n * n) / seconds / 1e9,
            seconds: seconds, repetitions: runs)
    }

    /// Read bandwidth in GB/s over a working set of `bytes` (the size of a model's weights: what
    /// a decode step streams from the caches or memory), all cores reading their own slice.
    public static func readBandwidth(bytes: Int, minimumSeconds: Double = 1) -> Double {
        let count = max(bytes / 4, 1 << 16)
        let buffer = Tensor(shape: [count])
        for i in 0..<count { buffer.data[i] = Float(i & 7) }
        let parts = Parallel.workers
        let (seconds, _) = time(minimumSeconds: minimumSeconds) {
            // The sum of each slice: one read stream per core, kept by the result. (A dot product
            // in one chain of adds measured the adds' latency instead: half this on the Zen 4.)
            Parallel.forEach(parts) { part in
                let slice = Parallel.share(part, of: parts, count: count)
                if Ops.readSum(buffer.data + slice.lowerBound, count: slice.count) < 0 {
                    buffer.data[slice.lowerBound] = 0
                }
            }
        }
        return Double(count * 4) / seconds / 1e9
    }

    /// A full-context prefill under `policy`.
    public static func prefill(model: DuoModel, tokens n: Int, policy: RoutingPolicy, minimumSeconds: Double = 1) throws -> Figure {
        try sequence(model: model, tokens: n, chunk: n, policy: policy, name: "prefill \(n) tokens", minimumSeconds: minimumSeconds)
    }

    /// Decoding `n` tokens one at a time with the KV cache.
    public static func decode(model: DuoModel, tokens n: Int, policy: RoutingPolicy, minimumSeconds: Double = 1) throws -> Figure {
        try sequence(model: model, tokens: n, chunk: 1, policy: policy, name: "decode \(n) tokens", minimumSeconds: minimumSeconds)
    }

    /// `n` tokens run `chunk` at a time through one session.
    static func sequence(
        model: DuoModel, tokens n: Int, chunk: Int, policy: RoutingPolicy, name: String,
        minimumSeconds: Double
    ) throws -> Figure {
        let ids = (0..<n).map { ($0 * 7919) % model.config.vocabSize }
        let session = InferenceSession(model: model, capacity: n)
        let (seconds, runs) = try time(minimumSeconds: minimumSeconds) {
            session.reset()
            for start in stride(from: 0, to: n, by: chunk) {
                _ = try session.forward(Array(ids[start..<min(start + chunk, n)]), policy: policy)
            }
        }
        let cost = model.cost
        let flops = (0..<n).reduce(0) { $0 + cost.total(pattern: session.routes[$1], position: $1) }
        // Decoding reads each weight its token's routes use once (2 FLOPs a weight) and each
        // layer's cached keys and values up to its position, 4 bytes a float.
        let bytesPerToken =
            chunk == 1
            ? (0..<n).reduce(0.0) { total, t in
                let weights = (cost.layers * cost.attentionProjections + cost.ffn(pattern: session.routes[t]) + cost.lmHead) / 2
                return total + 4 * Double(weights + cost.layers * 2 * model.config.kvWidth * (t + 1))
            } / Double(n) : nil
        return Figure(
            name: "\(name), \(policy.name)", tokensPerSecond: Double(n) / seconds,
            gflops: Double(flops) / seconds / 1e9, seconds: seconds, repetitions: runs, bytesPerToken: bytesPerToken)
    }
}

extension EngineBenchmark {
    /// The exhaustive big/small oracle (2^L patterns for one token) at position `position`,
    /// as tokens/s and achieved GFLOP/s of the work it does. With `.bestPerBigCount` it is the
    /// oracle as the policies run it (the best of each k, the LM head bounded): GFLOP/s then
    /// counts the shortlist bound for every leaf and the full LM head only for the leaves scored
    /// exactly (named in the figure).
    public static func oracleTree(
        model: DuoModel, position: Int, scoring: OracleTree.Scoring = .everyLeaf, minimumSeconds: Double = 1
    ) throws -> Figure {
        let ids = (0...position + 1).map { ($0 * 7919) % model.config.vocabSize }
        let session = InferenceSession(model: model, capacity: ids.count)
        _ = try session.forwardHidden(ids, policy: UniformPolicy(.big))
        let tree = OracleTree(model: model)
        let (seconds, runs) = time(minimumSeconds: minimumSeconds) {
            _ = tree.search(
                token: ids[position], target: ids[position + 1], cache: session.cache, contextLength: position,
                constraint: .anyBigSmall, scoring: scoring)
        }
        let cost = model.cost
        let attentionFLOPs = tree.rowsThroughAttention * (cost.attentionProjections + cost.attentionPerContextToken * (position + 1))
        let ffnFLOPs = (tree.rowsThroughFFN[.big] ?? 0) * cost.bigFFN + (tree.rowsThroughFFN[.small] ?? 0) * cost.smallFFN
        let bounded = scoring == .bestPerBigCount
        let boundFLOPs = bounded ? tree.leavesScored * 2 * OracleTree.shortlistSize * model.config.hiddenSize : 0
        let flops = attentionFLOPs + ffnFLOPs + boundFLOPs + tree.leavesScoredExactly * cost.lmHead
        let name =
            bounded
            ? "oracle bounded, \(tree.leavesScored) patterns, \(tree.leavesScoredExactly) full LM heads"
            : "oracle tree, \(tree.leavesScored) patterns at position \(position)"
        return Figure(
            name: name, tokensPerSecond: 1 / seconds, gflops: Double(flops) / seconds / 1e9, seconds: seconds, repetitions: runs)
    }

    /// The naive oracle: each of the 2^L patterns run separately as a one-token decode step
    /// after the shared context (timed on `sample` patterns and scaled to all of them).
    public static func oracleNaive(model: DuoModel, position: Int, sample: Int = 256, minimumSeconds: Double = 1) throws -> Figure {
        let ids = (0...position + 1).map { ($0 * 7919) % model.config.vocabSize }
        let layers = model.config.numLayers
        let patterns = (0..<sample).map { index in (0..<layers).map { (index >> $0) & 1 == 1 ? Route.big : .small } }
        let session = InferenceSession(model: model, capacity: ids.count)
        if position > 0 { _ = try session.forwardHidden(Array(ids[0..<position]), policy: UniformPolicy(.big)) }
        let (seconds, runs) = try time(minimumSeconds: minimumSeconds) {
            for pattern in patterns {
                session.rewind(to: position)
                _ = try session.forward([ids[position]], policy: PatternPolicy(pattern))
            }
        }
        let flops = patterns.reduce(0) { $0 + model.cost.total(pattern: $1, position: position) }
        let perPattern = seconds / Double(sample)
        return Figure(
            name: "oracle naive, each pattern separately", tokensPerSecond: 1 / (perPattern * Double(1 << layers)),
            gflops: Double(flops) / seconds / 1e9, seconds: perPattern * Double(1 << layers), repetitions: runs)
    }
}
