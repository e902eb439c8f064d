import DuoEngine

/// Deterministic training batches and routes: everything drawn for step s comes from a
/// generator seeded by (seed, s), so a resumed run sees exactly what an uninterrupted one would.
public struct BatchSampler: Sendable {
    public let tokens: [Int32]
    public let batch: Int
    public let length: Int
    public let seed: UInt64

    public init(tokens: [Int32], batch: Int, length: Int, seed: UInt64) {
        self.tokens = tokens
        self.batch = batch
        self.length = length
        self.seed = seed
    }

    private func generator(step: Int, stream: UInt64) -> SplitMix64 {
        var mixer = SplitMix64(seed: seed ^ (UInt64(step) &* 0xD6E8_FEB8_6659_FD93) ^ (stream &* 0xA076_1D64_78BD_642F))
        return SplitMix64(seed: mixer.next())
    }

    /// Inputs and next-token targets of step `step`: `batch` random windows of `length + 1` tokens.
    public func batch(step: Int) -> (inputs: [Int], targets: [Int]) {
        var rng = generator(step: step, stream: 1)
        var inputs: [Int] = []
        var targets: [Int] = []
        inputs.reserveCapacity(batch * length)
        targets.reserveCapacity(batch * length)
        let span = tokens.count - length
        for _ in 0..<batch {
            let start = Int(rng.next() % UInt64(span))
            for t in 0..<length {
                inputs.append(Int(tokens[start + t]))
                targets.append(Int(tokens[start + t + 1]))
            }
        }
        return (inputs, targets)
    }

    /// Independent random routes for every token at every layer (the paper's stage-1 routing).
    public func routes(step: Int, layers: Int, probabilities p: RouteProbabilities) -> [Route] {
        var rng = generator(step: step, stream: 2)
        return (0..<(batch * length * layers)).map { _ in p.sample(using: &rng) }
    }

    /// Consecutive non-overlapping windows of `length + 1` tokens from the start (validation).
    public static func windows(_ tokens: [Int32], length: Int, count: Int) -> [(inputs: [Int], targets: [Int])] {
        var result: [(inputs: [Int], targets: [Int])] = []
        var start = 0
        while result.count < count, start + length + 1 <= tokens.count {
            let window = tokens[start...(start + length)].map(Int.init)
            result.append((Array(window.dropLast()), Array(window.dropFirst())))
            start += length + 1
        }
        return result
    }
}
