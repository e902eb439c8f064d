import Foundation
import TestSupport
import XCTest

/// `oracle`, `train-router`, `eval` and `perplexity` through the binary.
final class StudyCommandTests: XCTestCase {
    private let model = CLIRunner.fixtures.appendingPathComponent("tiny-model").path
    private let text = "In the beginning God created the heaven and the earth."
    private var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("duoscope-study-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        let corpus = (0..<40).map { "And God said, Let there be light: and there was light, day \($0).\n" }.joined(separator: "\n")
        try Data(corpus.utf8).write(to: scratch.appendingPathComponent("corpus.txt"))
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: scratch) }

    private func fails(_ arguments: [String], _ phrase: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let result = try CLIRunner.run(arguments)
        XCTAssertNotEqual(result.status, 0, file: file, line: line)
        // The first line says what is wrong (usage errors add the usage after it).
        let first = result.stderr.split(separator: "\n").first.map(String.init) ?? ""
        XCTAssertTrue(first.hasPrefix("Error: ") && first.contains(phrase), "\(phrase): \(result.stderr)", file: file, line: line)
    }

    /// A second `eval` of the same sweep comes from the result cache, byte for byte the same;
    /// another option is another sweep.
    func testEvalResultsPersistInTheCache() throws {
        let cache = scratch.appendingPathComponent("cache")
        let arguments = ["eval", model, "--text", text, "--trials", "3", "--format", "csv"]
        let first = try CLIRunner.run(arguments, environment: ["DUOSCOPE_CACHE_DIR": cache.path])
        XCTAssertEqual(first.status, 0, first.stderr)
        let stored = try FileManager.default.contentsOfDirectory(atPath: cache.path)
        XCTAssertEqual(stored.count, 1)
        let second = try CLIRunner.run(arguments, environment: ["DUOSCOPE_CACHE_DIR": cache.path])
        XCTAssertEqual(second.stdout, first.stdout)
        let uncached = try CLIRunner.run(arguments, environment: ["DUOSCOPE_NO_CACHE": "1"])
        XCTAssertEqual(uncached.stdout, first.stdout, "cached results equal freshly computed ones")
        _ = try CLIRunner.run(
            ["eval", model, "--text", text, "--trials", "4", "--format", "csv"], environment: ["DUOSCOPE_CACHE_DIR": cache.path])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: cache.path).count, 2)
    }

    /// One scoring convention: the same text gives the same all-big perplexity in `route`,
    /// `perplexity`, `eval` and `snapshot` (the explorer's analysis), and the same oracle in
    /// `oracle` and `eval` — every token after the first, nothing appended.
    func testEveryCommandScoresTheSameTokens() throws {
        let file = scratch.appendingPathComponent("line.txt")
        try Data(text.utf8).write(to: file)
        func json(_ arguments: [String]) throws -> Any {
            let r = try CLIRunner.run(arguments, environment: ["DUOSCOPE_NO_CACHE": "1"])
            XCTAssertEqual(r.status, 0, "\(arguments): \(r.stderr)")
            return try JSONSerialization.jsonObject(with: Data(r.stdout.utf8))
        }
        let route = try XCTUnwrap(try json(["route", model, "--text", text, "--policy", "big", "--format", "json"]) as? [String: Any])
        let summary = try XCTUnwrap(route["summary"] as? [String: Any])
        let routeLoss = try XCTUnwrap(summary["mean_loss"] as? Double)
        let scored = try XCTUnwrap(summary["scored"] as? Int)
        let perplexity = try XCTUnwrap(
            try json(["perplexity", model, "--file", file.path, "--policy", "big", "--format", "json"]) as? [[String: Any]])
        XCTAssertEqual(try XCTUnwrap(perplexity.first?["mean_loss"] as? Double), routeLoss, accuracy: 1e-9)
        XCTAssertEqual(perplexity.first?["tokens"] as? Int, scored)
        let eval = try XCTUnwrap(try json(["eval", model, "--file", file.path, "--trials", "2", "--format", "json"]) as? [String: Any])
        XCTAssertEqual(try XCTUnwrap(eval["all_big"] as? Double), routeLoss, accuracy: 1e-9)
        XCTAssertEqual(eval["tokens_scored"] as? Int, scored)
        let oracle = try XCTUnwrap(try json(["oracle", model, "--text", text, "--k", "1", "--format", "json"]) as? [String: Any])
        let oracleLoss = try XCTUnwrap((oracle["summary"] as? [String: Any])?["mean_loss"] as? Double)
        let curves = try XCTUnwrap(eval["curves"] as? [[String: Any]], "eval.json schema 2: curves per policy")
        let evalOracle = try XCTUnwrap(curves.first { $0["policy"] as? String == "oracle" }?["mean_loss"] as? [Double])
        // `oracle` grows its tree in halves on the two cores, `eval` searches every k side by side
        // with whole trees: BLAS rounds rows batched differently by about 1e-8, while scoring
        // other tokens would move the mean by far more than 1e-6.
        XCTAssertEqual(evalOracle[1], oracleLoss, accuracy: 1e-6)
        let snapshot = try XCTUnwrap(
            try json(["snapshot", model, file.path, "--view", "routes", "--policy", "all-big", "--format", "json", "--width", "80"])
                as? [String: Any])
        let runs = try XCTUnwrap(snapshot["policies"] as? [[String: Any]])
        let allBig = try XCTUnwrap(runs.first { ($0["kind"] as? String) == "all-big" })
        XCTAssertEqual(log(try XCTUnwrap(allBig["perplexity"] as? Double)), routeLoss, accuracy: 1e-9)
    }

    /// `--context fixed` is the explorer's name for the all-big context; an unknown router name
    /// lists the routers the model has.
    func testContextNamesAndRouterNamesAreUnderstood() throws {
        let fixed = try CLIRunner.run(["oracle", model, "--text", text, "--k", "1", "--context", "fixed", "--format", "csv"])
        let big = try CLIRunner.run(["oracle", model, "--text", text, "--k", "1", "--context", "big", "--format", "csv"])
        XCTAssertEqual(fixed.status, 0, fixed.stderr)
        XCTAssertEqual(fixed.stdout, big.stdout)
        try fails(["oracle", model, "--text", text, "--k", "1", "--context", "sideways"], "--context sideways: expected causal, fixed")
        let sample = FixturePaths.repository.appendingPathComponent("sample-models/duo-12L").path
        try fails(["route", sample, "--text", text, "--policy", "router:k5"], "(it has: k2, k4, k6, k8")
    }

    func testOracleOutputsAndBadArguments() throws {
        let json = try CLIRunner.run(["oracle", model, "--text", text, "--k", "1", "--format", "json"])
        XCTAssertEqual(json.status, 0, json.stderr)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let tokens = try XCTUnwrap(object["tokens"] as? [[String: Any]])
        XCTAssertTrue(tokens.allSatisfy { ($0["routes"] as? String)?.filter { $0 == "B" }.count == 1 })
        try fails(["oracle", model, "--text", text, "--k", "5"], "outside 0...4")
        try fails(["oracle", model, "--text", text, "--budget", "1.5"], "outside 0...1")
        try fails(["oracle", model, "--text", text, "--skips=-2"], "outside 0...4")
        try fails(["oracle", model, "--text", text], "exactly one of --k, --skips or --budget")
        try fails(
            ["oracle", CLIRunner.fixtures.appendingPathComponent("tiny-model-bf16-llama").path, "--text", text, "--k", "1"], "small FFN")
    }

    func testRouterTrainingEvalAndRouterForAnotherModel() throws {
        let corpus = scratch.appendingPathComponent("corpus.txt").path
        let routerFile = scratch.appendingPathComponent("routers/k2.safetensors").path
        // The training corpus's ids are kept in the user's cache folder, not left in the temporary folder.
        let cache = scratch.appendingPathComponent("user-cache")
        let temporary = FileManager.default.temporaryDirectory.path
        func leftInTemporary() throws -> Set<String> {
            Set(try FileManager.default.contentsOfDirectory(atPath: temporary).filter { $0.hasPrefix("duoscope-router-train") })
        }
        let before = try leftInTemporary()
        let trained = try CLIRunner.run(
            [
                "train-router", model, "--train", corpus, "--valid", corpus, "--budget", "0.5",
                "--steps", "3", "--batch", "2", "--out", routerFile,
            ], environment: ["DUOSCOPE_CACHE_DIR": cache.path])
        XCTAssertEqual(trained.status, 0, trained.stderr)
        XCTAssertTrue(trained.stdout.contains("compute share"), trained.stdout)
        XCTAssertEqual(try leftInTemporary(), before, "train-router left files in \(temporary)")
        let kept = try FileManager.default.contentsOfDirectory(atPath: cache.appendingPathComponent("corpora").path)
        XCTAssertEqual(kept.filter { $0.hasSuffix(".tokens") }.count, 1, "\(kept)")
        let routed = try CLIRunner.run(["route", model, "--text", text, "--policy", "router:" + routerFile])
        XCTAssertEqual(routed.status, 0, routed.stderr)

        let out = scratch.appendingPathComponent("eval").path
        let eval = try CLIRunner.run(["eval", model, "--file", corpus, "--router", routerFile, "--trials", "3", "--no-fixed", "--out", out])
        XCTAssertEqual(eval.status, 0, eval.stderr)
        XCTAssertTrue(eval.stdout.contains("| k | oracle | router | random best of 3 | random mean |"), eval.stdout)
        for name in ["eval.md", "eval.csv", "eval.json", "eval.svg"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/" + name), name)
        }
        XCTAssertNotNil(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/eval.json"))))

        // A router trained for one model is refused by another.
        let sharded = CLIRunner.fixtures.appendingPathComponent("tiny-model-bf16-llama").path
        try fails(["route", sharded, "--text", text, "--policy", "router:" + routerFile], "small FFN")
        try fails(["train-router", model, "--train", corpus, "--valid", corpus, "--budget=-0.1"], "outside 0...1")
        try fails(["eval", model, "--text", text, "--share-k", "9"], "outside 0...4")
    }

    func testPerplexityCommand() throws {
        let result = try CLIRunner.run([
            "perplexity", model, "--file", scratch.appendingPathComponent("corpus.txt").path, "--format", "json",
        ])
        XCTAssertEqual(result.status, 0, result.stderr)
        let rows = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(rows.map { $0["policy"] as? String }, ["all-big", "all-small", "random:small=0.5,big=0.5,seed=0"])
    }
}

/// One policy grammar in every command: a policy at a budget means the same in route,
/// perplexity and eval, and a rule still works beside it.
final class PolicyGrammarCommandTests: XCTestCase {
    private let model = CLIRunner.fixtures.appendingPathComponent("tiny-model").path
    private let text = "In the beginning God created the heaven and the earth."

    private func json(_ arguments: [String]) throws -> Any {
        let r = try CLIRunner.run(arguments)
        XCTAssertEqual(r.status, 0, r.stderr)
        return try JSONSerialization.jsonObject(with: Data(r.stdout.utf8))
    }

    func testRoutePerplexityAndOracleAgreeOnACataloguePolicy() throws {
        let route = try XCTUnwrap(try json(["route", model, "--text", text, "--policy", "oracle@1", "--format", "json"]) as? [String: Any])
        XCTAssertEqual(route["policy"] as? String, "oracle@1")
        let routeLoss = try XCTUnwrap((route["summary"] as? [String: Any])?["mean_loss"] as? Double)
        let oracle = try XCTUnwrap(try json(["oracle", model, "--text", text, "--k", "1", "--format", "json"]) as? [String: Any])
        let oracleLoss = try XCTUnwrap((oracle["summary"] as? [String: Any])?["mean_loss"] as? Double)
        XCTAssertEqual(routeLoss, oracleLoss, accuracy: 1e-9)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("duoscope-grammar-\(UUID().uuidString).txt")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data(text.utf8).write(to: file)
        let rows = try XCTUnwrap(
            try json(["perplexity", model, "--file", file.path, "--policy", "oracle@1", "--policy", "random:2,1", "--format", "json"])
                as? [[String: Any]])
        XCTAssertEqual(rows.map { $0["policy"] as? String }, ["oracle@1", "random:k=2,seed=1"])
        XCTAssertEqual(try XCTUnwrap(rows[0]["mean_loss"] as? Double), routeLoss, accuracy: 1e-9)
    }

    func testBadPoliciesNameTheGrammar() throws {
        for (policy, phrase) in [
            ("oracle", "needs a budget"), ("oracle@9", "outside 0...4"), ("router@2", "no router"), ("wat", "oracle@K"),
        ] {
            let r = try CLIRunner.run(["route", model, "--text", text, "--policy", policy])
            XCTAssertNotEqual(r.status, 0)
            XCTAssertTrue(r.stderr.contains(phrase), "\(policy): \(r.stderr)")
            XCTAssertEqual(r.stderr.trimmingCharacters(in: .newlines).split(separator: "\n").count, 1, r.stderr)
        }
    }
}
