import Foundation
import TestSupport
import XCTest

/// One command line: the same `--format` names in every command (or a one-line refusal), the old
/// spellings still accepted, snake_case keys in every JSON, the same `--context` help, and
/// nothing from a file or a model reaching a terminal raw.
final class OutputFormatTests: XCTestCase {
    private let model = CLIRunner.fixtures.appendingPathComponent("tiny-model").path
    private var scratch: URL!
    private var file: String!
    private var cache: [String: String] = [:]

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("duoscope-formats-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        file = scratch.appendingPathComponent("text.txt").path
        try Data("In the beginning God created the heaven and the earth.".utf8).write(to: URL(fileURLWithPath: file))
        cache = ["DUOSCOPE_CACHE_DIR": scratch.appendingPathComponent("cache").path]
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: scratch) }

    /// Every command with `--format`, the arguments of a quick run and the formats it writes.
    private func commands(model: String? = nil, file: String? = nil) -> [(arguments: [String], formats: [String])] {
        let model = model ?? self.model
        let file = file ?? self.file!
        return [
            (["route", model, "--file", file], ["table", "json", "csv", "md"]),
            (["oracle", model, "--file", file, "--k", "1"], ["table", "json", "csv", "md"]),
            (["oracle", model, "--file", file, "--k", "1", "--compare-beams", "2,4"], ["table", "json", "csv", "md"]),
            (["perplexity", model, "--file", file, "--policy", "big", "--policy", "oracle@1"], ["table", "json", "csv", "md"]),
            (["eval", model, "--file", file, "--trials", "2", "--no-fixed"], ["md", "csv", "json"]),
            (["info", model], ["table", "json"]),
            (["snapshot", model, file, "--k", "1", "--trials", "2", "--width", "80"], ["table", "ansi", "svg", "json"]),
            (["bench", model, "--seconds", "0.01", "--only", "decode"], ["table", "json"]),
        ]
    }

    private func run(_ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let r = try CLIRunner.run(arguments, environment: cache)
        XCTAssertEqual(r.status, 0, "\(arguments): \(r.stderr)", file: file, line: line)
        XCTAssertFalse(r.stdout.isEmpty, "\(arguments)", file: file, line: line)
        return r.stdout
    }

    private func refuses(_ arguments: [String], _ phrase: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try CLIRunner.run(arguments, environment: cache)
        XCTAssertNotEqual(r.status, 0, "\(arguments)", file: file, line: line)
        let message = r.stderr.trimmingCharacters(in: .newlines)
        XCTAssertFalse(message.contains("\n"), "one line: \(message)", file: file, line: line)
        XCTAssertTrue(message.hasPrefix("Error: ") && message.contains(phrase), "\(phrase): \(message)", file: file, line: line)
    }

    func testEveryCommandWritesItsFormatsAndRefusesTheOthersInOneLine() throws {
        for (arguments, formats) in commands() {
            let command = arguments[0]
            for format in ["table", "json", "csv", "md", "ansi", "svg", "png"] {
                if formats.contains(format) {
                    let out = try run(arguments + ["--format", format])
                    if format == "json" { XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(out.utf8)), command) }
                } else {
                    let list = formats.dropLast().joined(separator: ", ") + " or " + formats.last!
                    try refuses(arguments + ["--format", format], "--format \(format): \(command) writes \(list)")
                }
            }
        }
        try refuses(["bench", "--json", "--format", "table"], "--json is --format json")
    }

    /// The spellings of earlier versions: `markdown` (md), `text` and `txt` (table), `bench --json`.
    func testOldSpellingsStillWork() throws {
        let route = ["route", model, "--file", file!]
        XCTAssertEqual(try run(route + ["--format", "text"]), try run(route + ["--format", "table"]))
        let perplexity = ["perplexity", model, "--file", file!, "--policy", "big"]
        XCTAssertEqual(try run(perplexity + ["--format", "markdown"]), try run(perplexity + ["--format", "md"]))
        let eval = ["eval", model, "--file", file!, "--trials", "2", "--no-fixed"]
        XCTAssertEqual(try run(eval + ["--format", "markdown"]), try run(eval + ["--format", "md"]))
        XCTAssertEqual(try run(eval + ["--format", "markdown"]), try run(eval))
        XCTAssertEqual(try run(["info", model, "--format", "text"]), try run(["info", model]))
        let snapshot = ["snapshot", model, file!, "--k", "1", "--trials", "2", "--width", "80"]
        XCTAssertEqual(try run(snapshot + ["--format", "txt"]), try run(snapshot + ["--format", "table"]))
        let bench = try run(["bench", "--seconds", "0.01", "--only", "decode", "--json"])
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(bench.utf8)) as? [String: Any])
        XCTAssertEqual(object["schema"] as? String, "duoscope.bench/2")
        XCTAssertNotNil(object["sgemm_peak_gflops"] as? Double)
        XCTAssertGreaterThan(try XCTUnwrap(object["read_bandwidth_gbs"] as? Double), 0)
        // An all-big decode of the sample shape's 256 tokens reads, per token, every layer's q, k,
        // v, o (192x192, 64x192, 64x192, 192x192) and big FFN (3 x 768x192), the LM head
        // (4096x192), and the cached keys and values of 64 floats each for its position + 1 in
        // each of the 12 layers (129 on average): 4 bytes a float.
        let figures = try XCTUnwrap(object["figures"] as? [[String: Any]])
        let allBig = try XCTUnwrap(figures.first { ($0["name"] as? String)?.hasPrefix("decode 256 tokens, all-big") == true })
        let weights = 12 * (2 * 192 * 192 + 2 * 64 * 192 + 3 * 768 * 192) + 4096 * 192
        let cache = 12 * 2 * 64 * 257 / 2
        XCTAssertEqual(try XCTUnwrap(allBig["bytes_per_token"] as? Double), Double(4 * (weights + cache)), accuracy: 1e-6)
    }

    /// Keys that are not snake_case, below `path`; the keys of `dataKeyed` dictionaries are data (policy names).
    private func badKeys(_ value: Any, path: String = "", dataKeyed: Set<String> = ["layer_shares"]) -> [String] {
        if let object = value as? [String: Any] {
            return object.flatMap { key, child -> [String] in
                let bad = key.range(of: "^[a-z0-9_]+$", options: .regularExpression) == nil ? [path + "." + key] : []
                if dataKeyed.contains(key), let data = child as? [String: Any] {
                    return bad + data.values.flatMap { badKeys($0, path: path + "." + key + ".*", dataKeyed: dataKeyed) }
                }
                return bad + badKeys(child, path: path + "." + key, dataKeyed: dataKeyed)
            }
        }
        if let array = value as? [Any] { return array.flatMap { badKeys($0, path: path + "[]", dataKeyed: dataKeyed) } }
        return []
    }

    func testEveryJSONHasSnakeCaseKeysAndEvalJSONReadsBack() throws {
        var schemas: [String: String] = [:]
        for (arguments, formats) in commands() where formats.contains("json") {
            let object = try JSONSerialization.jsonObject(with: Data(try run(arguments + ["--format", "json"]).utf8))
            XCTAssertEqual(badKeys(object), [], "\(arguments)")
            if let schema = (object as? [String: Any])?["schema"] { schemas[arguments[0]] = "\(schema)" }
        }
        XCTAssertEqual(
            schemas,
            [
                "route": "duoscope.route/1", "oracle": "duoscope.route/1", "eval": "2", "info": "duoscope.info/2",
                "snapshot": "duoscope.snapshot/2", "bench": "duoscope.bench/2",
            ])
        // eval --out writes the same JSON, and --from-json renders the same reports from it.
        let out = scratch.appendingPathComponent("eval").path
        let eval = ["eval", model, "--file", file!, "--trials", "2", "--no-fixed"]
        let markdown = try run(eval + ["--out", out])
        let saved = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/eval.json")))
        XCTAssertEqual(badKeys(saved), [])
        XCTAssertNotNil((saved as? [String: Any])?["layer_shares"] as? [String: Any])
        let fromJSON = ["eval", model, "--from-json", out + "/eval.json"]
        XCTAssertEqual(try run(fromJSON), markdown)
        XCTAssertEqual(try run(fromJSON + ["--format", "json"]), try String(contentsOfFile: out + "/eval.json", encoding: .utf8))
        XCTAssertEqual(try run(fromJSON + ["--format", "csv"]), try run(eval + ["--format", "csv"]))
    }

    func testContextHelpSaysTheSameEverywhere() throws {
        func help(_ command: String) throws -> String {
            let r = try CLIRunner.run([command, "--help"])
            return r.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        }
        let words = "The oracle's context: causal (earlier tokens keep their own oracle routes)"
        for command in ["oracle", "eval"] {
            XCTAssertTrue(try help(command).contains(words + ", fixed (earlier tokens all-big) or a policy"), command)
        }
        for command in ["explore", "snapshot"] {
            XCTAssertTrue(try help(command).contains(words + " or fixed (earlier tokens all-big)"), command)
        }
        for command in ["route", "oracle", "perplexity", "eval", "info", "snapshot", "bench"] {
            XCTAssertTrue(try help(command).contains("--format <format> Output format: "), command)
        }
    }

    /// A model whose directory name and a text whose file name and tokens hold escape sequences:
    /// every format printed to a terminal stays inert, JSON stays valid.
    func testNamesAndTextsFromFilesNeverReachTheTerminalRaw() throws {
        let hostile = scratch.appendingPathComponent("evil\u{1B}]0;owned\u{07}|model").path
        try FileManager.default.copyItem(atPath: model, toPath: hostile)
        let text = scratch.appendingPathComponent("t\u{1B}[2J|.txt").path
        try Data("ok \u{1B}[2J\u{1B}]0;owned\u{07} and \u{9B}31m | end\u{202E}".utf8).write(to: URL(fileURLWithPath: text))
        for (arguments, formats) in commands(model: hostile, file: text) {
            for format in formats {
                let out = try run(arguments + ["--format", format])
                let raw = out.unicodeScalars.filter { $0 != "\n" && Self.steersTerminal($0) && !(format == "ansi" && $0 == "\u{1B}") }
                XCTAssertTrue(raw.isEmpty, "\(arguments[0]) \(format): raw \(raw.map(\.value))")
                if format == "json" { XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(out.utf8)), arguments[0]) }
            }
        }
    }

    /// `TerminalSafe.steersTerminal`, restated so the test does not trust the code it checks.
    private static func steersTerminal(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: return true
        default: return false
        }
    }
}
