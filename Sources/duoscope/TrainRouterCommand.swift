import ArgumentParser
import DuoEngine
import DuoTraining
import Foundation

/// `duoscope train-router MODEL --train F --valid F --budget B --out FILE`: stage 3.
struct TrainRouterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-router",
        abstract: "Stage 3: train a linear router per layer with the LM frozen (soft mix, budget penalty, annealed temperature).",
        discussion: "Big/small routers aim at a mean P(big) of --budget (k/L for k big layers); routers with skip at an FFN FLOP fraction.")

    @Argument(help: "Model directory.") var model: String
    @Option(help: "Training text.") var train: String
    @Option(help: "Validation text.") var valid: String
    @Option(help: "Compute budget in 0...1.") var budget: Double
    @Option(help: "Routes: small,big or skip,small,big or skip,big.") var routes = "small,big"
    @Option(help: "Output router file (default MODEL/routers/NAME.safetensors).") var out: String?
    @Option(help: "Router name for the default output path.") var name: String?
    @Option(help: "Steps.") var steps = 300
    @Option(help: "Sequences per step.") var batch = 8
    @Option(help: "Learning rate.") var lr: Float = 3e-3
    @Option(help: "Weight of the budget penalty.") var alpha = 10.0
    @Option(name: .customLong("temperature-start"), help: "Initial softmax temperature.") var temperatureStart: Float = 1
    @Option(name: .customLong("temperature-end"), help: "Final softmax temperature.") var temperatureEnd: Float = 0.1
    @Option(help: "Seed.") var seed: UInt64 = 0

    func run() throws {
        Interrupt.install()
        StandardOutput.lineBuffered()
        let duo = try Loader.model(model)
        guard let tokenizer = duo.tokenizer, let directory = duo.directory else {
            throw DuoError("model has no tokenizer.json", file: model)
        }
        let tokenizerJSON = try InputFile.contents(ModelDirectory(directory).tokenizer, what: "a tokenizer file")
        let parsed = routes.split(separator: ",").map { name in
            Route.allCases.first { $0.name == name.trimmingCharacters(in: .whitespaces) }
        }
        guard !parsed.contains(nil) else { throw DuoError("--routes \(TerminalSafe.escape(routes)): expected names from skip, small, big") }
        let options = RouterTrainingOptions(
            routes: parsed.map { $0! }, budget: budget, alpha: alpha, batch: batch,
            length: duo.config.maxPositions, steps: steps, learningRate: lr,
            temperatureStart: temperatureStart, temperatureEnd: temperatureEnd, seed: seed)
        try options.validate(config: duo.config)
        let label = name ?? (parsed.contains(.skip) ? "budget-\(budget)-skip" : "big-\(budget)")
        let output = out.map { URL(fileURLWithPath: $0) } ?? ModelDirectory(directory).router(named: label)
        let trainFile = URL(fileURLWithPath: train)
        let trainCorpus = try TokenCorpus.load(
            file: trainFile, tokenizer: tokenizer, tokenizerJSON: tokenizerJSON, cache: TokenCorpus.userCache(for: trainFile))
        let validCorpus = try TokenCorpus.load(
            file: URL(fileURLWithPath: valid), tokenizer: tokenizer, tokenizerJSON: tokenizerJSON, cache: nil)
        let trainer = try RouterTrainer(model: duo, options: options, train: trainCorpus, valid: validCorpus)
        let line = ProgressLine()
        let start = Date()
        trainer.run(
            progress: { step, loss, share in
                let elapsed = Date().timeIntervalSince(start)
                line.update(
                    String(
                        format: "router step %d/%d  loss %.4f  share %.3f  %.1f steps/s  ETA %@", step, steps, loss, share,
                        Double(step) / max(elapsed, 1e-9), DurationText.short(elapsed / Double(step) * Double(steps - step))))
            }, shouldStop: { Interrupt.isRequested })
        line.clear()
        try trainer.router.write(to: output)
        let (loss, share) = try trainer.evaluate()
        print(
            String(
                format: "router %@: validation loss %.4f (perplexity %.2f) with hard routing, compute share %.3f (budget %.3f)",
                TerminalSafe.escape(output.path), loss, exp(loss), share, budget))
        if Interrupt.isRequested { throw ExitCode(130) }
    }
}
