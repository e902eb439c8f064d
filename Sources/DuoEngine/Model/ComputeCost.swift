/// FLOP accounting (one multiply-add = 2 FLOPs) per token, per layer and per route.
public struct ComputeCost: Sendable, Equatable, Codable {
    /// q, k, v and o projections of one layer.
    public let attentionProjections: Int
    /// Attention scores and weighted values of one layer, per context position attended.
    public let attentionPerContextToken: Int
    public let bigFFN: Int
    public let smallFFN: Int
    public let lmHead: Int
    public let layers: Int

    public init(_ c: ModelConfig) {
        attentionProjections = 2 * c.hiddenSize * (c.qWidth + 2 * c.kvWidth) + 2 * c.qWidth * c.hiddenSize
        attentionPerContextToken = 4 * c.qWidth
        bigFFN = 6 * c.hiddenSize * c.intermediateSize
        smallFFN = 6 * c.hiddenSize * (c.smallIntermediateSize ?? 0)
        lmHead = 2 * c.hiddenSize * c.vocabSize
        layers = c.numLayers
    }

    public func ffn(_ route: Route) -> Int {
        switch route {
        case .skip: return 0
        case .small: return smallFFN
        case .big: return bigFFN
        }
    }

    /// FFN FLOPs of a token's route pattern.
    public func ffn<S: Sequence>(pattern: S) -> Int where S.Element == Route {
        pattern.reduce(0) { $0 + ffn($1) }
    }

    /// FFN compute of a pattern as a fraction of all-big (the budget axis of the paper).
    public func ffnFraction<S: Sequence>(pattern: S) -> Double where S.Element == Route {
        Double(ffn(pattern: pattern)) / Double(layers * bigFFN)
    }

    /// Every FLOP of one token at `position` (0-based): attention, routed FFNs and LM head.
    public func total<S: Sequence>(pattern: S, position: Int) -> Int where S.Element == Route {
        layers * (attentionProjections + attentionPerContextToken * (position + 1)) + ffn(pattern: pattern) + lmHead
    }

    /// Total FLOPs of a token as a fraction of the same token routed all-big.
    public func totalFraction<S: Sequence>(pattern: S, position: Int) -> Double where S.Element == Route {
        Double(total(pattern: pattern, position: position))
            / Double(total(pattern: Array(repeating: Route.big, count: layers), position: position))
    }
}
