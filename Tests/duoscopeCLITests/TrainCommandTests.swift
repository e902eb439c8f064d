import Foundation
import XCTest

/// `duoscope train` end to end on a tiny configuration, and its failures.
final class TrainCommandTests: XCTestCase {
    private var scratch: URL!
    private let tokenizer = CLIRunner.fixtures.appendingPathComponent("tiny-model/tokenizer.json").path

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("duoscope-train-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        let text = (0..<60).map { i in "And on day \(i) the light was divided from the darkness.\nAnd it was good.\n" }
            .joined(separator: "\n")
        try Data(text.utf8).write(to: scratch.appendingPathComponent("train.txt"))
        try Data(text.prefix(900).utf8).write(to: scratch.appendingPathComponent("valid.txt"))
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: scratch) }

    private func trainArguments(out: String, train: String? = nil, steps: Int = 4) -> [String] {
        [
            "train", "--train", train ?? scratch.appendingPathComponent("train.txt").path,
            "--valid", scratch.appendingPathComponent("valid.txt").path, "--tokenizer", tokenizer,
            "--out", out, "--layers", "2", "--hidden", "32", "--heads", "4", "--kv-heads", "2", "--context", "16",
            "--batch", "2", "--steps", String(steps), "--warmup", "1", "--checkpoint-every", "2", "--eval-every", "2",
            "--eval-windows", "4",
        ]
    }

    func testTrainWritesALoadableModelAndResumes() throws {
        let out = scratch.appendingPathComponent("model").path
        let first = try CLIRunner.run(trainArguments(out: out))
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertTrue(first.stdout.contains("valid all-big"), first.stdout)
        XCTAssertEqual(first.stderr, "", "no progress line when stderr is not a terminal")
        for file in ["config.json", "model.safetensors", "tokenizer.json", "checkpoint.safetensors", "training-log.csv"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/" + file), file)
        }
        let info = try CLIRunner.run(["info", out, "--format", "json"])
        XCTAssertEqual(info.status, 0, info.stderr)
        let route = try CLIRunner.run(["route", out, "--text", "And it was good.", "--policy", "random"])
        XCTAssertEqual(route.status, 0, route.stderr)
        let again = try CLIRunner.run(trainArguments(out: out) + ["--resume"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stdout.contains("resuming at step 4"), again.stdout)
    }

    /// Ctrl-C: the run checkpoints, says so, exits 130; `--resume` carries on from there.
    func testInterruptCheckpointsAndResumes() throws {
        let out = scratch.appendingPathComponent("interrupted").path
        var arguments = trainArguments(out: out, steps: 4000)
        for flag in ["--checkpoint-every", "--eval-every"] { arguments[arguments.firstIndex(of: flag)! + 1] = "1000" }
        let process = Process()
        process.executableURL = CLIRunner.binary
        process.arguments = arguments
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = Pipe()
        try process.run()
        let log = out + "/valid.tokens"
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: log), Date() < deadline { usleep(20_000) }
        usleep(50_000)
        process.interrupt()
        let printed = String(decoding: stdout.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 130, printed)
        XCTAssertTrue(printed.contains("interrupted at step"), printed)
        let checkpoint = try XCTUnwrap(try? Data(contentsOf: URL(fileURLWithPath: out + "/checkpoint.safetensors")))
        XCTAssertGreaterThan(checkpoint.count, 1000)
        let resumed = try CLIRunner.run(arguments + ["--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stdout.contains("resuming at step"), resumed.stdout)
        XCTAssertTrue(resumed.stdout.contains("finished"), resumed.stdout)
    }

    func testBadCorporaAndConfigs() throws {
        let out = scratch.appendingPathComponent("bad").path
        let missing = scratch.appendingPathComponent("missing.txt").path
        var result = try CLIRunner.run(trainArguments(out: out, train: missing))
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains(missing) && result.stderr.contains("file not found"), result.stderr)

        let empty = scratch.appendingPathComponent("empty.txt")
        try Data().write(to: empty)
        result = try CLIRunner.run(trainArguments(out: out, train: empty.path))
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains(empty.path) && result.stderr.contains("empty text"), result.stderr)

        let binary = scratch.appendingPathComponent("binary.txt")
        try Data([0x41, 0x42, 0xFF, 0xFE, 0x43]).write(to: binary)
        result = try CLIRunner.run(trainArguments(out: out, train: binary.path))
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(
            result.stderr.contains(binary.path) && result.stderr.contains("not valid UTF-8 (first bad byte at offset 2)"), result.stderr)

        var arguments = trainArguments(out: out)
        arguments[arguments.firstIndex(of: "--heads")! + 1] = "5"
        result = try CLIRunner.run(arguments)
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("not divisible by 5 heads"), result.stderr)

        arguments = trainArguments(out: out)
        arguments[arguments.firstIndex(of: "--layers")! + 1] = "0"
        result = try CLIRunner.run(arguments)
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("num_hidden_layers must be positive"), result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/checkpoint.safetensors"))
    }

    /// A full disk (here: a file-size limit, which makes writes fail with EFBIG) during the
    /// checkpoint: a clear error, a non-zero exit, and no partial checkpoint left behind.
    func testCheckpointWriteFailureIsCleanError() throws {
        let out = scratch.appendingPathComponent("full").path
        let command = ([CLIRunner.binary.path] + trainArguments(out: out)).map { "'\($0)'" }.joined(separator: " ")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-c", "ulimit -f 400; exec \(command)"]
        let err = Pipe()
        process.standardError = err
        process.standardOutput = Pipe()
        try process.run()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertNotEqual(process.terminationStatus, 0)
        XCTAssertEqual(process.terminationReason, .exit, "an error exit, not a signal")
        XCTAssertTrue(stderr.contains("checkpoint.safetensors") && stderr.contains("cannot write"), stderr)
        XCTAssertEqual(stderr.trimmingCharacters(in: .newlines).split(separator: "\n").count, 1, stderr)
        let files = (try? FileManager.default.contentsOfDirectory(atPath: out)) ?? []
        XCTAssertFalse(files.contains("checkpoint.safetensors"), "\(files)")
        XCTAssertFalse(files.contains { $0.contains(".tmp-") }, "no partial files: \(files)")
    }
}
