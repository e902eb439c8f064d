import ArgumentParser
import DuoEngine
import DuoTraining
import Foundation

/// `duoscope train`: stage 1, training a Duo model from scratch with random routing.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Stage 1: train a Duo model with random routing (checkpoints; Ctrl-C saves and stops; --resume continues).")

    @Option(help: "Training text (UTF-8; documents separated by blank lines).")
    var train: String
    @Option(help: "Validation text.")
    var valid: String
    @Option(help: "tokenizer.json to use (copied into the output).")
    var tokenizer: String
    @Option(help: "Output model directory (config.json, model.safetensors, checkpoint, training-log.csv).")
    var out: String

    @Option(help: "Layers.") var layers = 12
    @Option(help: "Hidden size.") var hidden = 192
    @Option(help: "Attention heads.") var heads = 6
    @Option(name: .customLong("kv-heads"), help: "Key/value heads (GQA).") var kvHeads = 2
    @Option(help: "Big FFN inner size (default 4 x hidden).") var intermediate: Int?
    @Option(help: "Small FFN inner size (default big / 16).") var small: Int?
    @Option(help: "Context length.") var context = 256
    @Flag(name: .customLong("untied"), help: "Separate LM head instead of tying it to the embedding.") var untied = false

    @Option(help: "Sequences per step.") var batch = 8
    @Option(help: "Training steps.") var steps = 2000
    @Option(help: "Peak learning rate.") var lr: Float = 3e-3
    @Option(help: "Warmup steps.") var warmup = 100
    @Option(name: .customLong("weight-decay"), help: "AdamW weight decay.") var weightDecay: Float = 0.1
    @Option(help: "Seed for initialisation, batches and routes.") var seed: UInt64 = 0
    @Option(name: .customLong("p-big"), help: "Probability of the big route.") var pBig = 0.5
    @Option(name: .customLong("p-small"), help: "Probability of the small route.") var pSmall = 0.5
    @Option(name: .customLong("p-skip"), help: "Probability of skipping the FFN.") var pSkip = 0.0
    @Option(name: .customLong("checkpoint-every"), help: "Steps between checkpoints.") var checkpointEvery = 50
    @Option(name: .customLong("eval-every"), help: "Steps between validations.") var evalEvery = 100
    @Option(name: .customLong("eval-windows"), help: "Validation windows.") var evalWindows = 64
    @Flag(help: "Continue from the output's checkpoint.") var resume = false

    func run() throws {
        Interrupt.install()
        StandardOutput.lineBuffered()  // validation lines reach a log file as they happen
        let tokenizerURL = URL(fileURLWithPath: tokenizer)
        let tokenizerJSON = try InputFile.contents(tokenizerURL, what: "a tokenizer file")
        let tok = try Tokenizer(jsonData: tokenizerJSON, source: tokenizerURL.path)
        let inner = intermediate ?? 4 * hidden
        let config = ModelConfig(
            vocabSize: tok.vocabSize, hiddenSize: hidden, intermediateSize: inner,
            smallIntermediateSize: small ?? max(1, inner / 16), numLayers: layers, numHeads: heads,
            numKVHeads: kvHeads, headDim: heads > 0 && hidden % heads == 0 ? hidden / heads : nil,
            maxPositions: context, rmsNormEps: 1e-5, tieWordEmbeddings: !untied,
            trainRouteProbabilities: RouteProbabilities(skip: pSkip, small: pSmall, big: pBig))
        if heads <= 0 || hidden % heads != 0 {
            throw DuoError("hidden size \(hidden) is not divisible by \(heads) heads", file: "--hidden/--heads")
        }
        let options = TrainingOptions(
            config: config, batch: batch, length: context, steps: steps,
            schedule: LearningRateSchedule(peak: lr, warmupSteps: warmup, totalSteps: steps),
            adamW: AdamWSettings(weightDecay: weightDecay), seed: seed,
            routes: RouteProbabilities(skip: pSkip, small: pSmall, big: pBig),
            checkpointEvery: checkpointEvery, evalEvery: evalEvery, evalWindows: evalWindows)
        try options.validate()
        let output = URL(fileURLWithPath: out)
        try? FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        let line = ProgressLine()
        line.update("tokenizing \(TerminalSafe.escape(train)) ...", force: true)
        let trainCorpus = try TokenCorpus.load(
            file: URL(fileURLWithPath: train), tokenizer: tok, tokenizerJSON: tokenizerJSON,
            cache: output.appendingPathComponent("train.tokens"))
        let validCorpus = try TokenCorpus.load(
            file: URL(fileURLWithPath: valid), tokenizer: tok, tokenizerJSON: tokenizerJSON,
            cache: output.appendingPathComponent("valid.tokens"))
        line.clear()
        let trainer = try Trainer(
            options: options, train: trainCorpus, valid: validCorpus, tokenizerJSON: tokenizerJSON,
            output: output, resume: resume)
        print(
            "training \(layers) layers, hidden \(hidden), \(trainCorpus.tokens.count) train / \(validCorpus.tokens.count) valid tokens, "
                + "\(steps) steps of \(batch)x\(context) tokens\(resume ? ", resuming at step \(trainer.step)" : "")")
        let outcome = try trainer.run(
            progress: { p in
                line.update(
                    String(
                        format: "step %d/%d  loss %.4f  lr %.2e  %.0f tok/s  ETA %@", p.step, p.steps, p.loss,
                        p.learningRate, p.tokensPerSecond, DurationText.short(p.secondsLeft)))
                if let v = p.record.validation {
                    line.clear()
                    print(
                        String(
                            format: "step %d  train %.4f  valid all-big %.4f  all-small %.4f  random %.4f", p.step, p.loss,
                            v["all-big"] ?? .nan, v["all-small"] ?? .nan, v["random"] ?? .nan))
                }
            }, shouldStop: { Interrupt.isRequested })
        line.clear()
        switch outcome {
        case .finished: print("finished: model in \(TerminalSafe.escape(output.path))")
        case .interrupted(let step):
            print(
                "interrupted at step \(step): checkpoint saved in \(TerminalSafe.escape(trainer.checkpointURL.path)); "
                    + "continue with --resume"
            )
            throw ExitCode(130)
        }
    }
}
