import Foundation

/// The architecture of a Duo (or plain Llama, Mistral or Qwen2) model, read from `config.json`.
public struct ModelConfig: Sendable, Equatable, Codable {
    /// The architecture family (`model_type`).
    public var family: ModelFamily
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
    /// How RoPE's frequencies are scaled (`rope_parameters.rope_type`).
    public var ropeScaling: RoPEScaling
    /// Sliding-window attention: a token attends to itself and the `slidingWindow - 1` positions
    /// before it (on the layers `slidingWindowLayers` lists, or every layer when that is nil);
    /// nil: full causal attention.
    public var slidingWindow: Int?
    /// The layers with sliding-window attention, when not all (Qwen2's `layer_types`).
    public var slidingWindowLayers: [Int]?
    public var tieWordEmbeddings: Bool
    /// Route probabilities the model was trained with (skip, small, big), when the config records them.
    public var trainRouteProbabilities: RouteProbabilities?

    public init(
        vocabSize: Int, hiddenSize: Int, intermediateSize: Int, smallIntermediateSize: Int?,
        numLayers: Int, numHeads: Int, numKVHeads: Int, headDim: Int? = nil, maxPositions: Int,
        rmsNormEps: Float = 1e-5, ropeTheta: Float = 10000, ropeScaling: RoPEScaling = .none,
        tieWordEmbeddings: Bool = false, trainRouteProbabilities: RouteProbabilities? = nil,
        family: ModelFamily = .llama, slidingWindow: Int? = nil, slidingWindowLayers: [Int]? = nil
    ) {
        self.family = family
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
        self.ropeScaling = ropeScaling
        self.slidingWindow = slidingWindow
        self.slidingWindowLayers = slidingWindowLayers
        self.tieWordEmbeddings = tieWordEmbeddings
        self.trainRouteProbabilities = trainRouteProbabilities
    }

    /// Decodes configs recorded before the family, RoPE scaling and window existed as Llama ones.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        family = try c.decodeIfPresent(ModelFamily.self, forKey: .family) ?? .llama
        vocabSize = try c.decode(Int.self, forKey: .vocabSize)
        hiddenSize = try c.decode(Int.self, forKey: .hiddenSize)
        intermediateSize = try c.decode(Int.self, forKey: .intermediateSize)
        smallIntermediateSize = try c.decodeIfPresent(Int.self, forKey: .smallIntermediateSize)
        numLayers = try c.decode(Int.self, forKey: .numLayers)
        numHeads = try c.decode(Int.self, forKey: .numHeads)
        numKVHeads = try c.decode(Int.self, forKey: .numKVHeads)
        headDim = try c.decode(Int.self, forKey: .headDim)
        maxPositions = try c.decode(Int.self, forKey: .maxPositions)
        rmsNormEps = try c.decode(Float.self, forKey: .rmsNormEps)
        ropeTheta = try c.decode(Float.self, forKey: .ropeTheta)
        ropeScaling = try c.decodeIfPresent(RoPEScaling.self, forKey: .ropeScaling) ?? .none
        slidingWindow = try c.decodeIfPresent(Int.self, forKey: .slidingWindow)
        slidingWindowLayers = try c.decodeIfPresent([Int].self, forKey: .slidingWindowLayers)
        tieWordEmbeddings = try c.decode(Bool.self, forKey: .tieWordEmbeddings)
        trainRouteProbabilities = try c.decodeIfPresent(RouteProbabilities.self, forKey: .trainRouteProbabilities)
    }

    /// The attention window of `layer`: how many positions (itself included) a token sees; nil: all before it.
    public func attentionWindow(layer: Int) -> Int? {
        guard let window = slidingWindow else { return nil }
        if let layers = slidingWindowLayers, !layers.contains(layer) { return nil }
        return window
    }

    /// RoPE's inverse frequencies for this config.
    public var ropeInverseFrequencies: [Float] { ropeScaling.inverseFrequencies(headDim: headDim, theta: ropeTheta) }

    public var isDuo: Bool { smallIntermediateSize != nil }
    /// Routes this model can take at each layer.
    public var availableRoutes: [Route] { isDuo ? [.skip, .small, .big] : [.skip, .big] }
    public var qWidth: Int { numHeads * headDim }
    public var kvWidth: Int { numKVHeads * headDim }

    /// Checks the numbers are usable; `source` names the file in the error.
    public func validate(source: String) throws {
        func fail(_ problem: String) -> DuoError { DuoError(problem, file: source) }
        for (name, value) in [
            ("vocab_size", vocabSize), ("hidden_size", hiddenSize), ("intermediate_size", intermediateSize),
            ("num_hidden_layers", numLayers), ("num_attention_heads", numHeads),
            ("num_key_value_heads", numKVHeads), ("max_position_embeddings", maxPositions),
        ] where value <= 0 {
            throw fail("\(name) must be positive, got \(value)")
        }
        // Plausibility bounds, checked before any size is multiplied or anything allocated: each far
        // above the largest Llama-family model, and small enough that no product of them overflows.
        let bounds = [
            ("vocab_size", vocabSize, 1 << 22), ("hidden_size", hiddenSize, 1 << 17),
            ("intermediate_size", intermediateSize, 1 << 20), ("duo.small_intermediate_size", smallIntermediateSize ?? 1, 1 << 20),
            ("num_hidden_layers", numLayers, 1 << 10), ("num_attention_heads", numHeads, 1 << 10),
            ("num_key_value_heads", numKVHeads, 1 << 10), ("head_dim", headDim, 1 << 12),
            ("max_position_embeddings", maxPositions, 1 << 24), ("sliding_window", slidingWindow ?? 1, 1 << 24),
        ]
        for (name, value, limit) in bounds where value > limit {
            throw fail("\(name) \(value) is implausibly large (the limit is \(limit))")
        }
        if let small = smallIntermediateSize, small <= 0 { throw fail("duo.small_intermediate_size must be positive, got \(small)") }
        guard numHeads % numKVHeads == 0 else {
            throw fail("num_attention_heads (\(numHeads)) is not a multiple of num_key_value_heads (\(numKVHeads))")
        }
        guard headDim > 0, headDim % 2 == 0 else { throw fail("head dimension \(headDim) must be positive and even for RoPE") }
        guard rmsNormEps > 0, rmsNormEps.isFinite else { throw fail("rms_norm_eps must be positive") }
        guard ropeTheta > 0, ropeTheta.isFinite else { throw fail("rope_theta must be positive") }
        if let window = slidingWindow, window <= 0 { throw fail("sliding_window must be positive, got \(window)") }
        switch ropeScaling {
        case .none: break
        case .linear(let factor):
            guard factor > 0, factor.isFinite else { throw fail("rope_parameters.factor must be positive, got \(factor)") }
        case .llama3(let factor, let low, let high, let original):
            guard factor > 0, factor.isFinite, low > 0, high > low, high.isFinite, original > 0 else {
                throw fail(
                    "rope_parameters for llama3 need factor > 0, 0 < low_freq_factor < high_freq_factor "
                        + "and original_max_position_embeddings > 0")
            }
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
