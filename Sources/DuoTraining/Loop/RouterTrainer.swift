import DuoEngine
import Foundation

/// Settings of a stage-3 router training run.
public struct RouterTrainingOptions: Sendable, Equatable, Codable {
    /// The routes the router chooses among: [.small, .big] or [.skip, .small, .big].
    public var routes: [Route]
    /// Target compute share: mean P(big) for a big/small router (k/L), the FFN FLOP fraction with skip.
    public var budget: Double
    /// Weight of the squared budget penalty.
    public var alpha: Double
    public var batch: Int
    public var length: Int
    public var steps: Int
    public var learningRate: Float
    /// The softmax temperature falls geometrically from `temperatureStart` to `temperatureEnd`.
    public var temperatureStart: Float
    public var temperatureEnd: Float
    public var seed: UInt64
    public var evalWindows: Int

    public init(
        routes: [Route], budget: Double, alpha: Double = 10, batch: Int = 8, length: Int, steps: Int,
        learningRate: Float = 3e-3, temperatureStart: Float = 1, temperatureEnd: Float = 0.1, seed: UInt64 = 0,
        evalWindows: Int = 16
    ) {
        self.routes = routes
        self.budget = budget
        self.alpha = alpha
        self.batch = batch
        self.length = length
        self.steps = steps
        self.learningRate = learningRate
        self.temperatureStart = temperatureStart
        self.temperatureEnd = temperatureEnd
        self.seed = seed
        self.evalWindows = evalWindows
    }

    public func temperature(at step: Int) -> Float {
        let progress = Float(step) / Float(max(steps - 1, 1))
        return temperatureStart * powf(temperatureEnd / temperatureStart, progress)
    }

    public func validate(config: ModelConfig) throws {
        func fail(_ problem: String) -> DuoError { DuoError(problem, file: "router options") }
        guard Set(routes) == [.small, .big] || Set(routes) == [.skip, .small, .big] || Set(routes) == [.skip, .big] else {
            throw fail("routes must be small,big or skip,small,big or skip,big")
        }
        if routes.contains(.small), !config.isDuo { throw fail("the model has no small FFN") }
        guard budget.isFinite, (0...1).contains(budget) else { throw DuoError("--budget \(budget) is outside 0...1") }
        guard batch > 0, steps > 0, length > 1, length <= config.maxPositions else {
            throw fail("batch and steps must be positive and the window within the context")
        }
        guard temperatureStart > 0, temperatureEnd > 0 else { throw fail("temperatures must be positive") }
    }
}

/// Stage 3 of Duo-LLM: trains a linear router per layer with the LM frozen. During training the
/// FFN output is the router-probability-weighted mix of the modules; the loss is cross-entropy
/// plus `alpha * (mean share - budget)^2`; the temperature is annealed toward hard choices.
public final class RouterTrainer {
    public let model: DuoModel
    public let options: RouterTrainingOptions
    public let router: RouterWeights
    public private(set) var history: [(step: Int, loss: Double, share: Double, temperature: Float)] = []
    let mixing: RouterMixing
    let optimizer: AdamW
    let graph: TrainingGraph
    let sampler: BatchSampler
    let validation: [[Int]]

    public init(model: DuoModel, options: RouterTrainingOptions, train: TokenCorpus, valid: TokenCorpus) throws {
        try options.validate(config: model.config)
        guard train.tokens.count > options.length + 1 else {
            throw DuoError(
                file: URL(fileURLWithPath: train.source),
                "corpus has \(train.tokens.count) tokens, fewer than one window of \(options.length + 1)")
        }
        self.model = model
        self.options = options
        let c = model.config
        router = RouterWeights(
            routes: options.routes, layers: c.numLayers, hidden: c.hiddenSize, budget: options.budget,
            temperature: Double(options.temperatureEnd), modelName: model.name)
        var rng = SplitMix64(seed: options.seed ^ 0x0A_0B)
        for w in router.weights { for i in 0..<w.count { w.data[i] = 0.02 * Float(rng.nextUnit() * 2 - 1) } }
        mixing = RouterMixing(
            router: router, config: c, temperature: options.temperatureStart, budget: options.budget, alpha: options.alpha)
        optimizer = AdamW(parameters: router.named, settings: AdamWSettings(weightDecay: 0))
        graph = TrainingGraph(config: c, batch: options.batch, length: options.length)
        sampler = BatchSampler(tokens: train.tokens, batch: options.batch, length: options.length, seed: options.seed)
        let windows = BatchSampler.windows(valid.tokens, length: options.length - 1, count: options.evalWindows).map {
            $0.inputs + [$0.targets.last!]
        }
        // A text shorter than one window is scored whole.
        validation = windows.isEmpty ? [valid.tokens.map(Int.init)] : windows
        guard validation[0].count >= 2 else {
            throw DuoError(file: URL(fileURLWithPath: valid.source), "validation text has fewer than 2 tokens")
        }
    }

    /// Trains for `options.steps`; `progress(step, loss, share)` after each step.
    public func run(progress: (Int, Double, Double) -> Void = { _, _, _ in }, shouldStop: () -> Bool = { false }) {
        let gradients = mixing.gradients.named.map(\.1)
        for step in 0..<options.steps where !shouldStop() {
            let (inputs, targets) = sampler.batch(step: step)
            mixing.temperature = options.temperature(at: step)
            ParameterList(gradients).zero()
            let loss = graph.run(weights: model.weights, inputs: inputs, targets: targets, routing: .soft(mixing), gradients: nil)
            let clipping = GradientClipping.scale(gradients, maxNorm: 1).scale
            optimizer.update(gradients: gradients, lr: options.learningRate, gradientScale: clipping)
            history.append((step + 1, loss, mixing.meanShare, mixing.temperature))
            progress(step + 1, loss, mixing.meanShare)
        }
        router.temperature = Double(mixing.temperature)
    }

    /// The training objective (cross-entropy + budget penalty under soft mixing) at a fixed
    /// temperature on the training batches of `steps`, without updating anything.
    public func objective(temperature: Float, steps: Range<Int>) -> Double {
        let probe = RouterMixing(
            router: router, config: model.config, temperature: temperature, budget: options.budget, alpha: options.alpha)
        var total = 0.0
        for step in steps {
            let (inputs, targets) = sampler.batch(step: step)
            total += graph.run(weights: model.weights, inputs: inputs, targets: targets, routing: .soft(probe), gradients: nil)
        }
        return total / Double(steps.count)
    }

    /// Hard (argmax) routing on the validation windows: mean loss and compute share.
    public func evaluate() throws -> (loss: Double, share: Double) {
        let policy = RouterPolicy(router: router)
        var loss = 0.0
        var scored = 0
        var share = 0.0
        var decisions = 0
        for window in validation {
            let result = try SequenceEvaluation.run(model: model, ids: window, policy: policy, topK: 0)
            loss += result.losses.reduce(0, +)
            scored += result.losses.count
            for route in result.routes.values {
                share += Double(mixing.share[router.routes.firstIndex(of: route)!])
                decisions += 1
            }
        }
        return (loss / Double(max(scored, 1)), share / Double(max(decisions, 1)))
    }
}
