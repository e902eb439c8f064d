import DuoEngine
import Foundation

/// Stage 1 of Duo-LLM: trains all weights of a Duo model with random routing (every token at
/// every layer independently picks a module), AdamW with warmup + cosine decay and gradient
/// clipping. Checkpoints every N steps and when asked to stop; `resume` continues to exactly
/// the loss trajectory of an uninterrupted run.
public final class Trainer {
    public let options: TrainingOptions
    public let output: URL
    public let weights: ModelWeights
    public private(set) var history: [TrainingRecord] = []
    let gradients: ModelWeights
    let optimizer: AdamW
    let graph: TrainingGraph
    let sampler: BatchSampler
    let validation: [(inputs: [Int], targets: [Int])]
    let tokenizerJSON: Data?

    public var checkpointURL: URL { output.appendingPathComponent("checkpoint.safetensors") }
    public var step: Int { optimizer.step }

    /// Progress after each step, for a progress line.
    public struct Progress: Sendable {
        public var step: Int
        public var steps: Int
        public var loss: Double
        public var learningRate: Float
        public var tokensPerSecond: Double
        public var secondsLeft: Double
        public var record: TrainingRecord
    }

    public enum Outcome: Equatable, Sendable {
        case finished
        case interrupted(step: Int)
    }

    /// Sets up a run writing to `output`; with `resume`, continues from its checkpoint.
    public init(options: TrainingOptions, train: TokenCorpus, valid: TokenCorpus, tokenizerJSON: Data?, output: URL, resume: Bool) throws {
        try options.validate()
        guard train.tokens.count > options.length + 1 else {
            throw DuoError(
                file: URL(fileURLWithPath: train.source),
                "corpus has \(train.tokens.count) tokens, fewer than one training window of \(options.length + 1)")
        }
        let config = options.config
        if let bad = (train.tokens + valid.tokens).first(where: { Int($0) >= config.vocabSize || $0 < 0 }) {
            throw DuoError("token id \(bad) is outside the model's vocabulary of \(config.vocabSize)", file: train.source)
        }
        self.output = output
        self.tokenizerJSON = tokenizerJSON
        weights = RandomInit.weights(
            config, seed: options.seed, std: options.initStd, residualScale: 1 / Float(2 * config.numLayers).squareRoot())
        gradients = weights.zerosLike(config)
        optimizer = AdamW(parameters: weights.named(config), settings: options.adamW)
        graph = TrainingGraph(config: config, batch: options.batch, length: options.length)
        sampler = BatchSampler(tokens: train.tokens, batch: options.batch, length: options.length, seed: options.seed)
        let windows = BatchSampler.windows(valid.tokens, length: options.length, count: options.evalWindows)
        validation = Array(windows.prefix(windows.count / options.batch * options.batch))
        guard !validation.isEmpty else {
            throw DuoError(
                file: URL(fileURLWithPath: valid.source),
                "validation corpus has fewer than \(options.batch) windows of \(options.length + 1) tokens")
        }
        self.options = options
        do {
            try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        } catch {
            throw DuoError(file: output, "cannot create output directory")
        }
        if resume {
            guard FileManager.default.fileExists(atPath: checkpointURL.path) else {
                throw DuoError(file: checkpointURL, "no checkpoint to resume from")
            }
            let saved = try TrainingCheckpoint.read(from: checkpointURL, into: weights, optimizer: optimizer)
            guard saved.options.sameRun(as: options) else {
                throw DuoError(
                    file: checkpointURL,
                    "checkpoint belongs to a run with other options (model, batch, length, steps, schedule, seed or routes differ)")
            }
            history = saved.history
        }
    }

    /// Trains until the last step or until `shouldStop` returns true (then checkpoints).
    public func run(progress: (Progress) -> Void = { _ in }, shouldStop: () -> Bool = { false }) throws -> Outcome {
        let config = options.config
        let gradientList = gradients.named(config).map(\.1)
        let startTime = EngineBenchmark.now()
        let startStep = step
        while step < options.steps {
            if shouldStop() {
                try saveCheckpoint()
                return .interrupted(step: step)
            }
            let s = step
            let (inputs, targets) = sampler.batch(step: s)
            let routes = sampler.routes(step: s, layers: config.numLayers, probabilities: options.routes)
            ParameterList(gradientList).zero()
            let loss = graph.run(weights: weights, inputs: inputs, targets: targets, routes: routes, gradients: gradients)
            let (norm, clipping) = GradientClipping.scale(gradientList, maxNorm: options.clipNorm)
            let lr = options.schedule.rate(at: s)
            optimizer.update(gradients: gradientList, lr: lr, gradientScale: clipping)
            var record = TrainingRecord(step: s + 1, loss: loss, learningRate: lr, gradientNorm: norm, validation: nil)
            if (s + 1) % options.evalEvery == 0 || s + 1 == options.steps {
                record.validation = evaluate()
            }
            history.append(record)
            let elapsed = EngineBenchmark.now() - startTime
            let done = Double(step - startStep)
            let rate = done * Double(options.batch * options.length) / max(elapsed, 1e-9)
            progress(
                Progress(
                    step: step, steps: options.steps, loss: loss, learningRate: lr, tokensPerSecond: rate,
                    secondsLeft: elapsed / done * Double(options.steps - step), record: record))
            if step % options.checkpointEvery == 0 || step == options.steps {
                try saveCheckpoint()
            }
        }
        return .finished
    }

    /// Mean validation loss under all-big, all-small (Duo only) and random routing with the
    /// training probabilities (a fixed seed, so evaluations are comparable).
    public func evaluate() -> [String: Double] {
        let config = options.config
        var result: [String: Double] = [:]
        var policies: [(String, (Int) -> [Route])] = [("all-big", { Array(repeating: .big, count: $0) })]
        if config.isDuo { policies.append(("all-small", { Array(repeating: .small, count: $0) })) }
        policies.append(
            (
                "random",
                { count in
                    var rng = SplitMix64(seed: 0x5EED)
                    return (0..<count).map { _ in self.options.routes.sample(using: &rng) }
                }
            ))
        for (name, routes) in policies {
            var total = 0.0
            var batches = 0
            for start in stride(from: 0, to: validation.count, by: options.batch) {
                let windows = validation[start..<(start + options.batch)]
                let inputs = windows.flatMap(\.inputs)
                let targets = windows.flatMap(\.targets)
                total += graph.run(
                    weights: weights, inputs: inputs, targets: targets,
                    routes: routes(inputs.count * config.numLayers), gradients: nil)
                batches += 1
            }
            result[name] = total / Double(batches)
        }
        return result
    }

    /// Writes the checkpoint, then the model directory and the training log, each atomically.
    public func saveCheckpoint() throws {
        try TrainingCheckpoint.write(to: checkpointURL, options: options, weights: weights, optimizer: optimizer, history: history)
        try ModelWriter.write(
            config: options.config, weights: weights, tokenizerJSON: tokenizerJSON, to: output,
            metadata: ["duoscope_step": String(step)])
        try AtomicFile.write(Data(TrainingLog.csv(history).utf8), to: output.appendingPathComponent("training-log.csv"))
    }
}

/// The training history as CSV: step, loss, learning rate, gradient norm, validation losses.
public enum TrainingLog {
    public static func csv(_ history: [TrainingRecord]) -> String {
        var lines = ["step,loss,lr,grad_norm,val_all_big,val_all_small,val_random"]
        for r in history {
            let v = r.validation
            func f(_ key: String) -> String { v?[key].map { String(format: "%.5f", $0) } ?? "" }
            lines.append(
                "\(r.step),\(String(format: "%.5f", r.loss)),\(r.learningRate),\(String(format: "%.4f", r.gradientNorm)),"
                    + "\(f("all-big")),\(f("all-small")),\(f("random"))"
            )
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
