import Foundation
import TestSupport
import XCTest

/// One command line: snake_case keys in every JSON duoscope prints or writes.
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

    private func run(_ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let r = try CLIRunner.run(arguments, environment: cache)
        XCTAssertEqual(r.status, 0, "\(arguments): \(r.stderr)", file: file, line: line)
        XCTAssertFalse(r.stdout.isEmpty, "\(arguments)", file: file, line: line)
        return r.stdout
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
        let commands = [
            ["route", model, "--file", file!, "--format", "json"],
            ["oracle", model, "--file", file!, "--k", "1", "--format", "json"],
            ["perplexity", model, "--file", file!, "--policy", "big", "--policy", "oracle@1", "--format", "json"],
            ["eval", model, "--file", file!, "--trials", "2", "--no-fixed", "--format", "json"],
            ["info", model, "--format", "json"],
            ["snapshot", model, file!, "--k", "1", "--trials", "2", "--width", "80", "--format", "json"],
            ["bench", model, "--seconds", "0.01", "--only", "decode", "--json"],
        ]
        var schemas: [String: String] = [:]
        for arguments in commands {
            let object = try JSONSerialization.jsonObject(with: Data(try run(arguments).utf8))
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
}
