import DuoEngine
import Foundation
import XCTest

@testable import DuoTraining

/// The training loop on a tiny config: loss falls, resuming equals not stopping, bad input fails cleanly.
final class TrainerTests: XCTestCase {
    private var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("duoscope-train-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: scratch) }

    static let config = ModelConfig(
        vocabSize: 40, hiddenSize: 32, intermediateSize: 64, smallIntermediateSize: 4,
        numLayers: 2, numHeads: 4, numKVHeads: 2, maxPositions: 16, rmsNormEps: 1e-5,
        tieWordEmbeddings: true)

    /// A learnable toy stream: repeating short patterns with noise-free structure.
    private func corpus(_ count: Int, seed: UInt64) -> TokenCorpus {
        var rng = SplitMix64(seed: seed)
        var tokens: [Int32] = []
        while tokens.count < count {
            let start = Int32(rng.next() % 30)
            tokens += (0..<6).map { start + Int32($0) }
        }
        return TokenCorpus(source: "toy", tokens: Array(tokens.prefix(count)))
    }

    private func options(steps: Int, every: Int = 4) -> TrainingOptions {
        TrainingOptions(
            config: Self.config, batch: 4, length: 12, steps: steps,
            schedule: LearningRateSchedule(peak: 3e-3, warmupSteps: 3, totalSteps: steps),
            seed: 9, initStd: 0.05, checkpointEvery: every, evalEvery: every, evalWindows: 8)
    }

    func testLossDecreases() throws {
        let trainer = try Trainer(
            options: options(steps: 40, every: 20), train: corpus(4000, seed: 1), valid: corpus(600, seed: 2),
            tokenizerJSON: nil, output: scratch, resume: false)
        XCTAssertEqual(try trainer.run(), .finished)
        let losses = trainer.history.map(\.loss)
        XCTAssertEqual(losses.count, 40)
        let first = losses.prefix(5).reduce(0, +) / 5
        let last = losses.suffix(5).reduce(0, +) / 5
        XCTAssertLessThan(last, first * 0.7, "training loss \(first) -> \(last)")
        let validation = try XCTUnwrap(trainer.history.last?.validation)
        XCTAssertEqual(Set(validation.keys), ["all-big", "all-small", "random"])
        XCTAssertLessThan(validation["all-big"]!, log(40.0), "validation beats a uniform guess")
        // The output is a loadable model directory, and it scores what the trainer measured.
        let model = try DuoModel.load(directory: scratch, requireTokenizer: false)
        XCTAssertEqual(model.config, Self.config)
        let log = try String(contentsOf: scratch.appendingPathComponent("training-log.csv"), encoding: .utf8)
        XCTAssertEqual(log.split(separator: "\n").count, 41)
    }

    func testResumeAfterInterruptEqualsUninterruptedRun() throws {
        let train = corpus(3000, seed: 3)
        let valid = corpus(400, seed: 4)
        let straightDir = scratch.appendingPathComponent("straight")
        let resumedDir = scratch.appendingPathComponent("resumed")
        let straight = try Trainer(
            options: options(steps: 10), train: train, valid: valid, tokenizerJSON: nil, output: straightDir, resume: false)
        XCTAssertEqual(try straight.run(), .finished)

        let first = try Trainer(
            options: options(steps: 10), train: train, valid: valid, tokenizerJSON: nil, output: resumedDir, resume: false)
        var calls = 0
        XCTAssertEqual(
            try first.run(shouldStop: {
                calls += 1
                return calls > 6
            }), .interrupted(step: 6))
        let second = try Trainer(
            options: options(steps: 10), train: train, valid: valid, tokenizerJSON: nil, output: resumedDir, resume: true)
        XCTAssertEqual(second.step, 6)
        XCTAssertEqual(try second.run(), .finished)

        XCTAssertEqual(second.history, straight.history, "same loss trajectory")
        for ((name, a), (_, b)) in zip(straight.weights.named(Self.config), second.weights.named(Self.config)) {
            XCTAssertEqual(a.array, b.array, name)
        }
    }

    func testResumeRefusesOtherOptionsAndMissingCheckpoint() throws {
        let train = corpus(3000, seed: 3)
        let valid = corpus(400, seed: 4)
        XCTAssertThrowsError(
            try Trainer(options: options(steps: 10), train: train, valid: valid, tokenizerJSON: nil, output: scratch, resume: true)
        ) {
            XCTAssertTrue("\($0)".contains("no checkpoint to resume from"), "\($0)")
        }
        let trainer = try Trainer(
            options: options(steps: 4), train: train, valid: valid, tokenizerJSON: nil, output: scratch, resume: false)
        _ = try trainer.run()
        var other = options(steps: 4)
        other.seed = 10
        XCTAssertThrowsError(try Trainer(options: other, train: train, valid: valid, tokenizerJSON: nil, output: scratch, resume: true)) {
            XCTAssertTrue("\($0)".contains("other options"), "\($0)")
        }
    }

    func testBadConfigsAndCorporaAreClearErrors() throws {
        var bad = options(steps: 4)
        bad.config.numHeads = 3
        XCTAssertThrowsError(
            try Trainer(
                options: bad, train: corpus(3000, seed: 1), valid: corpus(400, seed: 2), tokenizerJSON: nil, output: scratch, resume: false)
        ) {
            XCTAssertTrue("\($0)".contains("not a multiple of num_key_value_heads"), "\($0)")
        }
        bad = options(steps: 4)
        bad.config.numLayers = 0
        XCTAssertThrowsError(
            try Trainer(
                options: bad, train: corpus(3000, seed: 1), valid: corpus(400, seed: 2), tokenizerJSON: nil, output: scratch, resume: false)
        ) {
            XCTAssertTrue("\($0)".contains("num_hidden_layers must be positive"), "\($0)")
        }
        XCTAssertThrowsError(
            try Trainer(
                options: options(steps: 4), train: corpus(10, seed: 1), valid: corpus(400, seed: 2), tokenizerJSON: nil, output: scratch,
                resume: false)
        ) {
            XCTAssertTrue("\($0)".contains("fewer than one training window"), "\($0)")
        }
        XCTAssertThrowsError(
            try Trainer(
                options: options(steps: 4), train: TokenCorpus(source: "x", tokens: Array(repeating: 99, count: 500)),
                valid: corpus(400, seed: 2), tokenizerJSON: nil, output: scratch, resume: false)
        ) {
            XCTAssertTrue("\($0)".contains("outside the model's vocabulary"), "\($0)")
        }
    }

    func testCheckpointWriteFailureKeepsThePreviousCheckpoint() throws {
        let train = corpus(3000, seed: 3)
        let valid = corpus(400, seed: 4)
        let trainer = try Trainer(
            options: options(steps: 4), train: train, valid: valid, tokenizerJSON: nil, output: scratch, resume: false)
        _ = try trainer.run()
        let before = try Data(contentsOf: trainer.checkpointURL)
        // A write that cannot complete (the target's directory vanished) reports an error and
        // leaves no partial file behind.
        let gone = scratch.appendingPathComponent("gone/checkpoint.safetensors")
        XCTAssertThrowsError(try AtomicFile.write(before, to: gone)) { XCTAssertTrue("\($0)".contains(gone.path)) }
        XCTAssertEqual(try Data(contentsOf: trainer.checkpointURL), before)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: scratch.path).filter { $0.contains(".tmp-") }
        XCTAssertEqual(leftovers, [])
    }
}
