import DuoEngine

/// Everything that determines a stage-1 training run; recorded in checkpoints so a resume can
/// check it continues the same run.
public struct TrainingOptions: Sendable, Equatable, Codable {
    public var config: ModelConfig
    public var batch: Int
    /// Tokens per training window (at most the context length).
    public var length: Int
    public var steps: Int
    public var schedule: LearningRateSchedule
    public var adamW: AdamWSettings
    public var clipNorm: Double
    public var seed: UInt64
    /// Stage-1 route probabilities for every token at every layer (paper: small 0.5, big 0.5).
    public var routes: RouteProbabilities
    public var initStd: Float
    /// Not part of the run's identity: how often to checkpoint and validate.
    public var checkpointEvery: Int
    public var evalEvery: Int
    public var evalWindows: Int

    public init(
        config: ModelConfig, batch: Int, length: Int, steps: Int, schedule: LearningRateSchedule,
        adamW: AdamWSettings = AdamWSettings(), clipNorm: Double = 1, seed: UInt64 = 0,
        routes: RouteProbabilities = RouteProbabilities(skip: 0, small: 0.5, big: 0.5), initStd: Float = 0.02,
        checkpointEvery: Int = 100, evalEvery: Int = 100, evalWindows: Int = 32
    ) {
        self.config = config
        self.batch = batch
        self.length = length
        self.steps = steps
        self.schedule = schedule
        self.adamW = adamW
        self.clipNorm = clipNorm
        self.seed = seed
        self.routes = routes
        self.initStd = initStd
        self.checkpointEvery = checkpointEvery
        self.evalEvery = evalEvery
        self.evalWindows = evalWindows
    }

    /// The same run, ignoring how often it reports and saves.
    public func sameRun(as other: TrainingOptions) -> Bool {
        var a = self
        var b = other
        (a.checkpointEvery, a.evalEvery, a.evalWindows) = (0, 0, 0)
        (b.checkpointEvery, b.evalEvery, b.evalWindows) = (0, 0, 0)
        return a == b
    }

    public func validate() throws {
        func fail(_ problem: String) -> DuoError { DuoError(problem, file: "training options") }
        try config.validate(source: "model config")
        guard batch > 0 else { throw fail("batch must be positive") }
        guard length > 1, length <= config.maxPositions else { throw fail("window length \(length) must be in 2...\(config.maxPositions)") }
        guard steps > 0 else { throw fail("steps must be positive") }
        guard routes.skip >= 0, routes.small >= 0, routes.big >= 0, routes.skip + routes.small + routes.big > 0 else {
            throw fail("route probabilities must be non-negative and not all zero")
        }
        if !config.isDuo, routes.small > 0 { throw fail("a model without a small FFN cannot train small routes") }
        guard checkpointEvery > 0, evalEvery > 0 else { throw fail("checkpoint and eval intervals must be positive") }
    }
}

/// One line of the training history.
public struct TrainingRecord: Sendable, Equatable, Codable {
    public var step: Int
    public var loss: Double
    public var learningRate: Float
    public var gradientNorm: Double
    /// Validation losses by policy name ("all-big", "all-small", "random"), at evaluation steps.
    public var validation: [String: Double]?
}
