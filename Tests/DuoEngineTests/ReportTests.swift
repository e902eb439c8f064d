import Foundation
import XCTest

@testable import DuoEngine
@testable import DuoReports

/// The outputs of `duoscope route` (table, CSV, Markdown, JSON), `eval` and `info`, and text input handling.
final class ReportTests: XCTestCase {
    private func report(_ text: String, policy: String = "random:2,1") throws -> RouteReport {
        let model = try Fixtures.model("tiny-model")
        let ids = try TextSource(text: text).tokenize(for: model)
        let routing = try PolicySpec.parse(policy, config: model.config)
        let evaluation = try SequenceEvaluation.run(model: model, ids: ids, policy: routing, topK: 3)
        return RouteReport(model: model, policy: routing.name, text: text, evaluation: evaluation)
    }

    func testJSONFollowsTheDocumentedSchema() throws {
        let r = try report("In the beginning God created the heaven.")
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.json().utf8)) as? [String: Any])
        XCTAssertEqual(object["schema"] as? String, "duoscope.route/1")
        XCTAssertEqual(object["policy"] as? String, "random:k=2,seed=1")
        let tokens = try XCTUnwrap(object["tokens"] as? [[String: Any]])
        XCTAssertEqual(tokens.count, r.evaluation.ids.count)
        for (t, token) in tokens.enumerated() {
            XCTAssertEqual(token["position"] as? Int, t)
            XCTAssertEqual(token["id"] as? Int, r.evaluation.ids[t])
            XCTAssertEqual((token["routes"] as? String)?.count, 4)
            XCTAssertEqual((token["routes"] as? String)?.filter { $0 == "B" }.count, 2)
            XCTAssertEqual((token["top"] as? [Any])?.count, 3)
            if t + 1 < tokens.count {
                XCTAssertEqual(token["loss"] as? Double ?? -1, r.evaluation.losses[t], accuracy: 1e-12)
                XCTAssertEqual(token["next_id"] as? Int, r.evaluation.ids[t + 1])
            } else {
                XCTAssertTrue(token["loss"] is NSNull)
            }
        }
        let summary = try XCTUnwrap(object["summary"] as? [String: Any])
        XCTAssertEqual(summary["perplexity"] as? Double ?? 0, r.evaluation.perplexity, accuracy: 1e-9)
        XCTAssertEqual(summary["ffn_fraction"] as? Double ?? 0, 0.53125, accuracy: 1e-12, "2 of 4 big, 2 small at 1/16")
    }

    func testCSVQuotesFieldsAndHasOneRowPerToken() throws {
        let r = try report("He said, \"yes\", then left.")
        let lines = r.csv().split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        XCTAssertEqual(lines.first, "position,id,token,next_id,loss,routes,ffn_fraction")
        XCTAssertEqual(lines.count, 1 + r.evaluation.ids.count)
        XCTAssertEqual(CSVText.field("a,b"), "\"a,b\"")
        XCTAssertEqual(CSVText.field("say \"hi\""), "\"say \"\"hi\"\"\"")
        XCTAssertEqual(CSVText.field("plain"), "plain")
        // Escape sequences and bells in token text never reach the terminal raw.
        XCTAssertEqual(CSVText.field("\u{1B}[31mred\u{07}"), "\\e[31mred\\u{7}")
        XCTAssertEqual(CSVText.field("a\nb"), "a\\nb")
    }

    func testUntrustedTextCannotReachTheTerminalRaw() throws {
        let hostile = "ok \u{1B}[2J\u{1B}]0;owned\u{07} and \u{9B}31m \r\n end\u{202E}"
        let table = try report(hostile, policy: "big").table()
        XCTAssertFalse(
            table.unicodeScalars.contains {
                $0.value == 0x1B || $0.value == 0x07 || $0.value == 0x9B || $0.value == 0x0D || $0.value == 0x202E
            })
        XCTAssertTrue(table.contains("\\e"), table)
        XCTAssertEqual(TerminalSafe.escape("a\u{1B}[0m\tb\\"), "a\\e[0m\\tb\\\\")
        XCTAssertEqual(TerminalSafe.escape("\u{9B}\u{7F}\u{0}"), "\\u{9B}\\u{7F}\\u{0}")
        XCTAssertTrue(TerminalSafe.isSafe("héllo wörld 日本 🙂"))
    }

    func testTextSourceValidation() throws {
        XCTAssertThrowsError(try TextSource(data: Data([0x61, 0xE2, 0x82]), label: "f.txt")) {
            XCTAssertEqual("\($0)", "f.txt: not valid UTF-8 (first bad byte at offset 1)")
        }
        XCTAssertThrowsError(
            try TextSource(data: Data([0xED, 0xA0, 0x80]), label: "surrogate.txt"), "UTF-8-encoded surrogates are invalid")
        XCTAssertEqual(try TextSource(data: Data("\u{FEFF}héllo".utf8), label: "bom.txt").text, "\u{FEFF}héllo")
        XCTAssertThrowsError(try TextSource(text: "")) { XCTAssertEqual("\($0)", "--text: empty text") }
        let model = try Fixtures.model("tiny-model")
        XCTAssertThrowsError(try TextSource(text: "a").tokenize(for: model)) { XCTAssertTrue("\($0)".contains("at least 2")) }
        let long = try TextSource(text: String(repeating: "light and darkness ", count: 40))
        XCTAssertThrowsError(try long.tokenize(for: model)) { XCTAssertTrue("\($0)".contains("longer than the model's context of 64")) }
        XCTAssertEqual(try long.tokenize(for: model, truncate: true).count, 64)
    }

    func testInfoSummary() throws {
        let model = try Fixtures.model("tiny-model")
        let text = ModelSummary(model: model).text()
        XCTAssertTrue(text.contains("parameters   307,776 total"), text)
        XCTAssertTrue(text.contains("small FFN    inner 16 (16.0x narrower)"), text)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(ModelSummary(model: model).json().utf8)) as? [String: Any])
        XCTAssertEqual(json["parameters_total"] as? Int, 307_776)
        XCTAssertEqual((json["flops"] as? [String: Any])?["big_ffn"] as? Int, 6 * 64 * 256)
    }

    /// Every JSON goes through `JSONOutput`: snake_case keys, dictionary keys (data) as they are.
    func testJSONOutputWritesSnakeCaseKeysAndKeepsDictionaryKeys() throws {
        struct Sample: Encodable {
            var meanFFNFraction = 0.5
            var sgemmPeakGflops = 1.0
            var numKVHeads = 2
            var nextID = 3
            var shares = ["random mean": 1, "router_x": 2, "earlyExit": 3]
        }
        let json = try JSONOutput.string(Sample())
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        XCTAssertEqual(Set(object.keys), ["mean_ffn_fraction", "sgemm_peak_gflops", "num_kv_heads", "next_id", "shares"])
        XCTAssertEqual(Set((object["shares"] as? [String: Int])?.keys ?? [:].keys), ["random mean", "router_x", "earlyExit"])
        // Reading back needs names without acronyms: mean_ffn_fraction comes back as meanFfnFraction.
        struct Readable: Codable, Equatable {
            var meanLoss = 0.5
            var shareK = 2
            var shares = ["random mean": 1, "router_x": 2, "earlyExit": 3]
        }
        let readable = try JSONOutput.string(Readable())
        XCTAssertTrue(readable.contains(#""share_k" : 2"#), readable)
        XCTAssertEqual(try JSONOutput.decode(Readable.self, from: Data(readable.utf8)), Readable())
        XCTAssertTrue(json.hasSuffix("}\n"))
        XCTAssertTrue(try JSONOutput.string(["\u{1B}[2J\u{202E}"]).contains(#""\u001b[2J\u202e""#))
    }

    /// A sweep with a hostile policy name, as an edited eval.json could hold.
    private func sweep() -> BudgetSweep.Result {
        let curve = BudgetSweep.Curve(policy: "oracle", meanLoss: [2, 1.5, 1], notes: ["a", "b", "c"])
        let hostile = BudgetSweep.Curve(policy: "evil|\u{1B}[2J,x", meanLoss: [3, 2, 1], notes: ["", "", ""])
        let token = BudgetSweep.TokenRow(id: 1, target: 2, lossAllSmall: 3, lossAllBig: 1, lossOracle: [3, 2, 1], difficulty: 1)
        return BudgetSweep.Result(
            schema: BudgetSweep.Result.currentSchema, layers: 2, tokensScored: 1, context: "causal", randomTrials: 3, shareK: 1,
            allBig: 1, allSmall: 3, curves: [curve, hostile],
            layerShares: ["oracle": [[1, 0, 0], [0, 1, 0]], "random_x |\u{1B}": [[0.5, 0.5, 0], [0.5, 0.5, 0]]], tokens: [token])
    }

    /// eval.json (schema 2, snake_case keys) reads back what eval wrote, policy names as they were.
    func testEvalJSONRoundTrips() throws {
        let json = try SweepReport(result: sweep(), title: "t").json()
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        XCTAssertEqual(object["tokens_scored"] as? Int, 1)
        XCTAssertEqual(object["share_k"] as? Int, 1)
        XCTAssertEqual((object["curves"] as? [[String: Any]])?.first?["mean_loss"] as? [Double], [2, 1.5, 1])
        XCTAssertEqual(Set((object["layer_shares"] as? [String: Any])?.keys ?? [:].keys), ["oracle", "random_x |\u{1B}"])
        XCTAssertNotNil((object["tokens"] as? [[String: Any]])?.first?["loss_all_small"])
        let back = try JSONOutput.decode(BudgetSweep.Result.self, from: Data(json.utf8))
        XCTAssertEqual(try SweepReport(result: back, title: "t").json(), json)
        XCTAssertEqual(back.curves.map(\.policy), ["oracle", "evil|\u{1B}[2J,x"])
        XCTAssertEqual(back.layerShares["random_x |\u{1B}"]?[0], [0.5, 0.5, 0])
    }

    /// Names read from an eval.json are data: escaped in the Markdown and CSV reports.
    func testNamesReadFromEvalJSONAreEscaped() throws {
        let report = SweepReport(result: sweep(), title: "t")
        for text in [report.markdown(), report.csv()] {
            XCTAssertFalse(text.unicodeScalars.contains { TerminalSafe.steersTerminal($0) && $0 != "\n" }, text)
        }
        XCTAssertTrue(report.markdown().contains("| evil\\|\\\\e\\[2J,x |"), report.markdown())
        XCTAssertTrue(report.markdown().contains("| random\\_x \\|\\\\e big |"), report.markdown())
        XCTAssertTrue(report.csv().hasPrefix("k,oracle,\"evil|\\e[2J,x\",all_big,all_small\n"), report.csv())
    }

    func testMarkdownCellsEscapeTheTerminalAndMarkdown() {
        XCTAssertEqual(MarkdownText.cell("a|b"), "a\\|b")
        XCTAssertEqual(
            MarkdownText.cell("*x* _y_ `z` <b> [l] ~s~ &amp; \\"), "\\*x\\* \\_y\\_ \\`z\\` \\<b\\> \\[l\\] \\~s\\~ \\&amp; \\\\\\\\")
        XCTAssertEqual(MarkdownText.cell("\u{1B}[1m"), "\\\\e\\[1m")
        XCTAssertEqual(MarkdownText.cell("oracle@4 random:k=2,seed=1"), "oracle@4 random:k=2,seed=1")
    }

    func testInfoEscapesWhatComesFromFiles() throws {
        let hostile = try Fixtures.temporaryDirectory(self).appendingPathComponent("evil\u{1B}]0;owned\u{07}model")
        try FileManager.default.copyItem(at: Fixtures.url("tiny-model"), to: hostile)
        let model = try DuoModel.load(directory: hostile)
        let text = ModelSummary(model: model).text()
        XCTAssertFalse(text.unicodeScalars.contains { TerminalSafe.steersTerminal($0) && $0 != "\n" }, text)
        XCTAssertTrue(text.contains("evil\\e]0;owned\\u{7}model"), text)
    }

    func testMarkdownTableEscapesTokensForTheTerminalAndForMarkdown() throws {
        let r = try report("a | b \u{1B}[2J *c*", policy: "big")
        let markdown = r.markdown()
        XCTAssertFalse(markdown.unicodeScalars.contains { TerminalSafe.steersTerminal($0) && $0 != "\n" })
        let rows = markdown.split(separator: "\n").filter { $0.hasPrefix("| ") }
        XCTAssertEqual(rows.count, 1 + r.evaluation.ids.count, markdown)
        // Every row has the header's seven cell borders: no token text ends a cell.
        for row in rows { XCTAssertEqual(row.replacingOccurrences(of: "\\|", with: "").filter { $0 == "|" }.count, 7, String(row)) }
        XCTAssertTrue(markdown.hasPrefix("Model tiny-model, policy all-big: "), markdown)
    }
}

/// Errors and JSON that cannot be steered: a control character in a path or value is shown as
/// an escape; a non-finite number is still valid JSON.
final class OutputSafetyTests: XCTestCase {
    func testErrorMessagesShowControlCharactersAsEscapes() {
        let error = DuoError("bad value \u{1B}[31mred\u{07} in C:\\path", file: "/tmp/a\u{1B}]0;title\u{07}.json")
        XCTAssertFalse(error.description.unicodeScalars.contains(where: TerminalSafe.steersTerminal), error.description)
        XCTAssertTrue(error.description.contains("\\e[31mred\\u{7}"), error.description)
        XCTAssertTrue(error.description.contains("C:\\path"), "backslashes already in a message stay as they are")
        XCTAssertEqual(DuoError("plain", file: "f").description, "f: plain")
    }

    func testNonFiniteNumbersAreValidJSON() throws {
        struct Row: Codable, Equatable { var meanLoss: Double }
        let json = try JSONOutput.string([Row(meanLoss: .infinity), Row(meanLoss: 1.5)])
        XCTAssertNotNil(try JSONSerialization.jsonObject(with: Data(json.utf8)))
        XCTAssertEqual(try JSONOutput.decode([Row].self, from: Data(json.utf8)), [Row(meanLoss: .infinity), Row(meanLoss: 1.5)])
    }
}
