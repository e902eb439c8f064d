import Foundation

/// The architecture of a Duo (or plain Llama) model, read from `config.json`.
public struct ModelConfig: Sendable, Equatable, Codable {
    public var vocabSize: Int
    public var hiddenSize: Int
    /// Inner width of the big FFN.
    public var intermediateSize: Int
    /// Inner width of the small FFN; nil for a plain Llama model (routes: big and skip only).
    public var smallIntermediateSize: Int?
    public var numLayers: Int
    public var numHeads: Int
    public var numKVHeads: Int
    public var headDim: Int
    public var maxPositions: Int
    public var rmsNormEps: Float
    public var ropeTheta: Float
    public var tieWordEmbeddings: Bool
    /// Route probabilities the model was trained with (skip, small, big), when the config records them.
    public var trainRouteProbabilities: RouteProbabilities?

    public init(vocabSize: Int, hiddenSize: Int, intermediateSize: Int, smallIntermediateSize: Int?,
                numLayers: Int, numHeads: Int, numKVHeads: Int, headDim: Int? = nil, maxPositions: Int,
                rmsNormEps: Float = 1e-5, ropeTheta: Float = 10000, tieWordEmbeddings: Bool = false,
                trainRouteProbabilities: RouteProbabilities? = nil) {
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.smallIntermediateSize = smallIntermediateSize
        self.numLayers = numLayers
        self.numHeads = numHeads
        self.numKVHeads = numKVHeads
        self.headDim = headDim ?? (numHeads > 0 ? hiddenSize / numHeads : 0)
        self.maxPositions = maxPositions
        self.rmsNormEps = rmsNormEps
        self.ropeTheta = ropeTheta
        self.tieWordEmbeddings = tieWordEmbeddings
        self.trainRouteProbabilities = trainRouteProbabilities
    }

    public var isDuo: Bool { smallIntermediateSize != nil }
    /// Routes this model can take at each layer.
    public var availableRoutes: [Route] { isDuo ? [.skip, .small, .big] : [.skip, .big] }
    public var qWidth: Int { numHeads * headDim }
    public var kvWidth: Int { numKVHeads * headDim }

    /// Checks the numbers are usable; `source` names the file in the error.
    public func validate(source: String) throws {
        func fail(_ problem: String) -> DuoError { DuoError(problem, file: source) }
        for (name, value) in [("vocab_size", vocabSize), ("hidden_size", hiddenSize), ("intermediate_size", intermediateSize),
                              ("num_hidden_layers", numLayers), ("num_attention_heads", numHeads),
                              ("num_key_value_heads", numKVHeads), ("max_position_embeddings", maxPositions)] where value <= 0 {
            throw fail("\(name) must be positive, got \(value)")
        }
        if let small = smallIntermediateSize, small <= 0 { throw fail("duo.small_intermediate_size must be positive, got \(small)") }
        guard numHeads % numKVHeads == 0 else {
            throw fail("num_attention_heads (\(numHeads)) is not a multiple of num_key_value_heads (\(numKVHeads))")
        }
        guard headDim > 0, headDim % 2 == 0 else { throw fail("head dimension \(headDim) must be positive and even for RoPE") }
        guard rmsNormEps > 0, rmsNormEps.isFinite else { throw fail("rms_norm_eps must be positive") }
        guard ropeTheta > 0, ropeTheta.isFinite else { throw fail("rope_theta must be positive") }
        let limit = 1 << 26
        for (name, value) in [("vocab_size", vocabSize), ("hidden_size", hiddenSize), ("intermediate_size", intermediateSize),
                              ("max_position_embeddings", maxPositions)] where value > limit {
            throw fail("\(name) \(value) is implausibly large")
        }
    }
}

/// Probabilities of the three routes, e.g. the paper's stage-1 training mix (small 0.5, big 0.5).
public struct RouteProbabilities: Sendable, Equatable, Codable {
    public var skip: Double
    public var small: Double
    public var big: Double

    public init(skip: Double, small: Double, big: Double) {
        self.skip = skip
        self.small = small
        self.big = big
    }

    /// Draws one route with these probabilities (they need not sum to 1).
    public func sample(using rng: inout SplitMix64) -> Route {
        let u = rng.nextUnit() * (skip + small + big)
        if u < skip { return .skip }
        if u < skip + small { return .small }
        return .big
    }
}
