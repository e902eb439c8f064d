/// Which route patterns an oracle may choose from.
public enum OracleConstraint: Sendable, Equatable, CustomStringConvertible {
    /// Exactly `k` layers big, the rest small.
    case exactlyBig(Int)
    /// Every big/small pattern (2^L leaves); group the leaves by their number of big layers to
    /// get the best pattern for every k from one search.
    case anyBigSmall
    /// Big or skip at each layer with exactly `skips` layers skipped.
    case bigOrSkip(skips: Int)
    /// Skip, small or big at each layer with FFN compute at most this fraction of all-big.
    case budget(Double)

    /// Routes a layer may take.
    public var routes: [Route] {
        switch self {
        case .exactlyBig, .anyBigSmall: return [.small, .big]
        case .bigOrSkip: return [.skip, .big]
        case .budget: return [.skip, .small, .big]
        }
    }

    public var description: String {
        switch self {
        case .exactlyBig(let k): return "exactly \(k) big"
        case .anyBigSmall: return "any big/small"
        case .bigOrSkip(let s): return "big or skip, \(s) skipped"
        case .budget(let f): return "FFN budget \(f)"
        }
    }

    /// Checks the constraint fits a model.
    public func validate(config: ModelConfig) throws {
        let layers = config.numLayers
        switch self {
        case .exactlyBig(let k):
            guard config.isDuo else { throw DuoError("--k needs a Duo model with a small FFN") }
            guard (0...layers).contains(k) else { throw DuoError("--k \(k) is outside 0...\(layers)") }
        case .anyBigSmall:
            guard config.isDuo else { throw DuoError("big/small search needs a Duo model with a small FFN") }
        case .bigOrSkip(let s):
            guard (0...layers).contains(s) else { throw DuoError("--skips \(s) is outside 0...\(layers)") }
        case .budget(let f):
            guard config.isDuo else { throw DuoError("--budget needs a Duo model with a small FFN") }
            guard f.isFinite, (0...1).contains(f) else { throw DuoError("--budget \(f) is outside 0...1") }
        }
    }

    /// Whether a prefix (route counts so far, FFN FLOPs so far, `remaining` layers to go) can
    /// still end in an admissible pattern. At `remaining == 0` this is the leaf test.
    func admits(big: Int, skip: Int, ffnFLOPs: Int, remaining: Int, cost: ComputeCost) -> Bool {
        switch self {
        case .exactlyBig(let k): return big <= k && big + remaining >= k
        case .anyBigSmall: return true
        case .bigOrSkip(let s): return skip <= s && skip + remaining >= s
        case .budget(let f): return Double(ffnFLOPs) <= f * Double(cost.layers * cost.bigFFN) * (1 + 1e-12)
        }
    }
}
