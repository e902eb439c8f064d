/// Seeded random routing. Each (position, layer) draw comes from a hash of the seed and the
/// position, so a token's routes do not depend on how the sequence is batched.
public struct RandomPolicy: RoutingPolicy {
    public enum Mode: Sendable, Equatable {
        /// Exactly `k` of the layers take `high`, the rest `low`, chosen uniformly per token.
        case exactly(Int)
        /// Each layer independently: skip, small, big with these probabilities.
        case probabilities(RouteProbabilities)
    }

    public let mode: Mode
    public let seed: UInt64
    public let layers: Int
    /// The expensive and cheap routes for `.exactly` (big/small; big/skip for a plain Llama model).
    public let high: Route
    public let low: Route

    public init(mode: Mode, seed: UInt64, layers: Int, high: Route = .big, low: Route = .small) {
        self.mode = mode
        self.seed = seed
        self.layers = layers
        self.high = high
        self.low = low
    }

    public var name: String {
        switch mode {
        case .exactly(let k): return "random:k=\(k),seed=\(seed)"
        case .probabilities(let p):
            var parts: [String] = []
            if p.skip > 0 { parts.append("skip=\(p.skip)") }
            if p.small > 0 { parts.append("small=\(p.small)") }
            if p.big > 0 { parts.append("big=\(p.big)") }
            return "random:" + parts.joined(separator: ",") + ",seed=\(seed)"
        }
    }

    /// The full pattern of the token at `position`.
    public func pattern(position: Int) -> [Route] {
        var rng = SplitMix64(seed: seed &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(truncatingIfNeeded: position) &+ 0x632B_E59B_D9B4_E019)
        switch mode {
        case .exactly(let k):
            var order = Array(0..<layers)
            for i in stride(from: layers - 1, to: 0, by: -1) {
                order.swapAt(i, Int(rng.next() % UInt64(i + 1)))
            }
            var result = Array(repeating: low, count: layers)
            for layer in order.prefix(k) { result[layer] = high }
            return result
        case .probabilities(let p):
            return (0..<layers).map { _ in p.sample(using: &rng) }
        }
    }

    public func routes(layer: Int, positions: Range<Int>, ffnInput: UnsafePointer<Float>, width: Int) -> [Route] {
        positions.map { pattern(position: $0)[layer] }
    }
}

/// SplitMix64: a small, fast, well-mixed deterministic generator.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    public mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1.0p-53 }
}
