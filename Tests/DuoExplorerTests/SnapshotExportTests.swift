import DuoEngine
import Foundation
import XCTest

@testable import DuoExplorer

#if canImport(FoundationXML)
    import FoundationXML
#endif

final class SnapshotExportTests: XCTestCase {
    static let texts = ["Hello", " world", "\u{1B}[2J", " <&>", "\n", " the", " end", "."]
    static let oraclePatterns = ["BBSS", "BSBS", "SBBS", "BBSK", "SSBB", "BSSB", "SBSB", "BBSS"]
    static let routerPatterns = ["BBSS", "BSSB", "SBBS", "BBSS", "SSBB", "BSBS", "SBSB", "BBSS"]
    static let oracleLosses = [2.0, 1.5, 3.0, 0.5, 1.0, 2.5, 0.8]
    static let routerLosses = [2.2, 1.6, 3.5, 0.5, 1.4, 2.5, 0.9]
    static let smallLosses = [3.0, 2.0, 4.0, 1.0, 1.0, 3.5, 1.8]

    static func matrix(_ patterns: [String]) -> RouteMatrix {
        RouteMatrix(rows: patterns.map { $0.map { Route(letter: $0)! } })
    }

    static func run(_ key: PolicyKey, _ patterns: [String], _ losses: [Double], completed: Int? = nil) -> PolicyRun {
        let routes = matrix(patterns)
        return PolicyRun(
            key: key, routes: routes, completed: completed ?? routes.tokens, losses: losses, top: [], lens: [],
            ffnFractions: Array(repeating: 0.5, count: routes.tokens), note: "note for \(key)")
    }

    static func analysis(texts: [String] = texts) -> AnalysisSnapshot {
        let document = ExplorerDocument(label: "synthetic", ids: Array(1...texts.count), rawTokenTexts: texts, revision: 1)
        var analysis = AnalysisSnapshot(document: document, modelName: "tiny", layers: 4)
        let patterns = { (base: [String]) in (0..<texts.count).map { base[$0 % base.count] } }
        let losses = { (base: [Double]) in (0..<texts.count - 1).map { base[$0 % base.count] } }
        for run in [
            run(PolicyKey(.oracle, k: 2), patterns(oraclePatterns), losses(oracleLosses)),
            run(PolicyKey(.router, k: 2), patterns(routerPatterns), losses(routerLosses)),
            run(PolicyKey(.allSmall, k: 2), patterns(["SSSS"]), losses(smallLosses)),
            run(PolicyKey(.fixed, k: 2), patterns(["BBKK"]), [], completed: 0),
        ] { analysis.runs[run.key] = run }
        return analysis
    }

    static func grid(color: Bool) -> CellGrid {
        var grid = CellGrid(width: 32, height: 4)
        let theme = Theme(color: color)
        grid.put(" Routes  oracle@2 ", x: 0, y: 0, style: theme.title)
        grid.put("L0", x: 0, y: 1, style: theme.label)
        for (x, route) in [Route.big, .small, .skip, .big].enumerated() {
            let (character, style) = theme.routeCell(route)
            grid.put(String(character), x: 3 + x, y: 1, style: style)
        }
        grid.put("token <&> \u{1B}[2J 漢字", x: 0, y: 2, style: theme.emphasis)
        grid.put("ppl 3.14", x: 0, y: 3, style: theme.heatStyle(0.8))
        return grid
    }

    static func content(_ view: ViewKind, analysis: AnalysisSnapshot = analysis(), metric: DifficultyMetric = .potential) -> SnapshotContent
    {
        var state = ExplorerState()
        state.view = view
        state.k = 2
        state.metric = metric
        if view == .layers { state.token = 3 }  // the Layers figure is about one token: " <&>"
        return SnapshotContent(view: view, state: state, analysis: analysis, colorGrid: grid(color: true), plainGrid: grid(color: false))
    }

    // MARK: JSON

    func jsonObject(_ c: SnapshotContent) throws -> [String: Any] {
        let text = SnapshotJSON.render(c)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    func testJSONHoldsTokensRoutesAndLosses() throws {
        let json = try jsonObject(Self.content(.routes))
        XCTAssertEqual(json["schema"] as? String, "duoscope.snapshot/2")
        XCTAssertEqual(json["model"] as? String, "tiny")
        XCTAssertEqual(json["label"] as? String, "synthetic")
        XCTAssertEqual(json["text"] as? String, Self.texts.joined())
        XCTAssertEqual(json["view"] as? String, "routes")
        XCTAssertEqual(json["k"] as? Int, 2)
        XCTAssertEqual(json["layers"] as? Int, 4)
        XCTAssertEqual(json["context"] as? String, "causal")
        XCTAssertEqual(json["primary"] as? String, "oracle@2")
        XCTAssertEqual(json["partner"] as? String, "router@2")

        let tokens = try XCTUnwrap(json["tokens"] as? [[String: Any]])
        XCTAssertEqual(tokens.map { $0["text"] as? String }, Self.texts)
        XCTAssertEqual(tokens.map { $0["index"] as? Int }, Array(0..<8))
        XCTAssertEqual(tokens.map { $0["id"] as? Int }, Array(1...8))

        let policies = try XCTUnwrap(json["policies"] as? [[String: Any]])
        XCTAssertEqual(policies.map { $0["name"] as? String }, ["oracle@2", "router@2", "all-small", "fixed@2"])
        let oracle = policies[0]
        XCTAssertEqual(oracle["kind"] as? String, "oracle")
        XCTAssertEqual(oracle["k"] as? Int, 2)
        XCTAssertEqual(oracle["complete"] as? Bool, true)
        XCTAssertEqual(oracle["routes"] as? [String], Self.oraclePatterns)
        XCTAssertEqual(oracle["losses"] as? [Double], Self.oracleLosses)
        XCTAssertEqual(oracle["mean_ffn_fraction"] as? Double, 0.5)
        XCTAssertEqual(oracle["note"] as? String, "note for oracle@2")
        let mean = Self.oracleLosses.reduce(0, +) / 7
        XCTAssertEqual(try XCTUnwrap(oracle["perplexity"] as? Double), exp(mean), accuracy: 1e-9)
        XCTAssertEqual(policies[1]["routes"] as? [String], Self.routerPatterns)
    }

    func testJSONWritesNullForUnknownNumbers() throws {
        let json = try jsonObject(Self.content(.routes))
        let policies = try XCTUnwrap(json["policies"] as? [[String: Any]])
        let fixed = try XCTUnwrap(policies.first { $0["name"] as? String == "fixed@2" })
        XCTAssertEqual(fixed["complete"] as? Bool, false)
        XCTAssertTrue(fixed["perplexity"] is NSNull, "perplexity of an empty run is NaN and must be null")
        XCTAssertTrue(fixed["mean_ffn_fraction"] is NSNull)
        XCTAssertEqual(fixed["routes"] as? [String], [])

        let difficulty = try XCTUnwrap(json["difficulty"] as? [Any])
        XCTAssertEqual(difficulty.count, 8)
        for t in 0..<7 {
            XCTAssertEqual(try XCTUnwrap(difficulty[t] as? Double), Self.smallLosses[t] - Self.oracleLosses[t], accuracy: 1e-12)
        }
        XCTAssertTrue(difficulty[7] is NSNull, "the last token has no target")
    }

    func testJSONDifficultyIsNullWithoutOracle() throws {
        var analysis = Self.analysis()
        analysis.runs[PolicyKey(.oracle, k: 2)] = nil
        let json = try jsonObject(Self.content(.difficulty, analysis: analysis))
        let difficulty = try XCTUnwrap(json["difficulty"] as? [Any])
        XCTAssertTrue(difficulty.allSatisfy { $0 is NSNull })
    }

    func testJSONEscapesControlCharacters() throws {
        let text = SnapshotJSON.render(Self.content(.routes))
        XCTAssertFalse(text.unicodeScalars.contains("\u{1B}"), "no raw ESC in the JSON")
        XCTAssertTrue(text.lowercased().contains(#""\u001b[2j""#), "the escape is written as \\u001b")
        XCTAssertTrue(text.contains(#"" <&>""#))
        XCTAssertTrue(text.hasSuffix("}\n"))
    }

    func testPoliciesListViewKeysFirstWithoutDuplicates() {
        var c = Self.content(.compare)
        XCTAssertEqual(c.policies().map(\.description), ["oracle@2", "router@2", "all-small", "fixed@2"])
        c.state.partner = .oracle
        XCTAssertEqual(c.policies().map(\.description), ["oracle@2", "all-small", "fixed@2", "router@2"])
    }

    // MARK: SVG

    func assertWellFormedSVG(_ svg: String, file: StaticString = #filePath, line: UInt = #line) {
        let parser = XMLParser(data: Data(svg.utf8))
        XCTAssertTrue(parser.parse(), "SVG does not parse: \(parser.parserError.map { "\($0)" } ?? "?")", file: file, line: line)
        XCTAssertFalse(svg.unicodeScalars.contains("\u{1B}"), "no ESC in the SVG", file: file, line: line)
        XCTAssertTrue(svg.hasPrefix("<?xml"), file: file, line: line)
        XCTAssertTrue(svg.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""), file: file, line: line)
    }

    func svgWidth(_ svg: String) throws -> Double {
        let range = try XCTUnwrap(svg.range(of: #"<svg [^>]*width="([0-9.]+)""#, options: .regularExpression))
        let match = String(svg[range])
        let value = match[match.range(of: #"width=""#)!.upperBound...].dropLast()
        return try XCTUnwrap(Double(value))
    }

    func testEveryViewRendersWellFormedSVG() {
        for view in ViewKind.allCases {
            let svg = SVGFigure.render(Self.content(view))
            assertWellFormedSVG(svg)
            // The Summary is a chart (no token text); every other figure shows the tokens, escaped.
            if view != .summary { XCTAssertTrue(svg.contains("&lt;&amp;&gt;"), "\(view): the <&> token is escaped") }
            XCTAssertTrue(svg.contains("tiny · synthetic"), "\(view): title names model and label")
        }
    }

    func testRoutesFigureShowsPolicyColorsAndLayers() throws {
        let svg = SVGFigure.render(Self.content(.routes))
        XCTAssertTrue(svg.contains("oracle@2 · ppl "))
        XCTAssertTrue(svg.contains("FFN 50%"))
        XCTAssertTrue(svg.contains(Theme.big.hex) && svg.contains(Theme.small.hex))
        XCTAssertTrue(svg.contains(">L0<") && svg.contains(">L3<") && !svg.contains(">L4<"))
        XCTAssertTrue(svg.contains("\\e[2J"), "the ESC token shows as its terminal-safe escape")
        XCTAssertTrue(svg.contains("␣world"), "leading spaces shown as ␣")
    }

    func testCompareFigureOutlinesDisagreements() {
        let svg = SVGFigure.render(Self.content(.compare))
        let cells = Self.oraclePatterns.count * 4
        let differing = zip(Self.oraclePatterns, Self.routerPatterns).map { zip($0, $1).filter { $0 != $1 }.count }.reduce(0, +)
        XCTAssertTrue(svg.contains("oracle@2 vs router@2"))
        XCTAssertTrue(svg.contains(String(format: "agreement %.1f%%", 100 * Double(cells - differing) / Double(cells))))
        // One outline per differing cell, plus the legend's swatch.
        XCTAssertEqual(svg.components(separatedBy: "stroke=\"\(Theme.ink.hex)\"").count - 1, differing + 1)
        XCTAssertTrue(svg.contains("Δloss (oracle@2 − router@2)"), "the same sign as the Compare view")
    }

    func testLayersFigureIsATableOfEveryPolicy() {
        let svg = SVGFigure.render(Self.content(.layers))
        XCTAssertFalse(svg.contains("font-family=\"monospace\""), "a figure, not the terminal grid")
        for kind in PolicyKind.allCases { XCTAssertTrue(svg.contains(">\(kind.name)<"), "a column for \(kind.name)") }
        for l in 0..<4 { XCTAssertTrue(svg.contains(">L\(l)<"), "a row for layer \(l)") }
        XCTAssertTrue(svg.contains("router P(big)") && svg.contains("flip Δloss") && svg.contains("logit lens (oracle@2)"))
        XCTAssertTrue(svg.contains("token 4/8") && svg.contains("&lt;&amp;&gt;"), "the current token, escaped")
        // oracle, router and all-small are complete; fixed has no token yet; the others were never run.
        let missing = (PolicyKind.allCases.count - 3) * 4
        XCTAssertTrue(svg.contains("partial: \(missing) of \(PolicyKind.allCases.count * 4) route cells"), "says what is missing")
    }

    func testDifficultyFigureNamesItsMetric() {
        let potential = SVGFigure.render(Self.content(.difficulty))
        XCTAssertTrue(potential.contains("potential loss reduction"))
        let raw = SVGFigure.render(Self.content(.difficulty, metric: .rawLoss))
        assertWellFormedSVG(raw)
        XCTAssertTrue(raw.contains("raw loss (oracle@2)"))
    }

    func testMissingRunsFallBackToTheGrid() {
        var analysis = Self.analysis()
        analysis.runs = [:]
        for view in ViewKind.allCases {
            let svg = SVGFigure.render(Self.content(view, analysis: analysis))
            assertWellFormedSVG(svg)
            if view == .summary || view == .layers {
                XCTAssertTrue(svg.contains("partial: "), "an unfinished \(view) figure says so")
                continue
            }
            XCTAssertTrue(svg.contains("font-family=\"monospace\""), "\(view) falls back to the grid")
            XCTAssertTrue(svg.contains("&lt;&amp;&gt;"))
        }
    }

    func testLongTextsWrapIntoBands() throws {
        let texts = (0..<300).map { " w\($0)" }
        let c = Self.content(.routes, analysis: Self.analysis(texts: texts))
        let svg = SVGFigure.render(c)
        assertWellFormedSVG(svg)
        XCTAssertLessThan(try svgWidth(svg), 1800)
        XCTAssertEqual(svg.components(separatedBy: ">L0<").count - 1, 3, "300 tokens in three bands")
        let flowed = SVGFigure.render(Self.content(.difficulty, analysis: Self.analysis(texts: texts)))
        assertWellFormedSVG(flowed)
        XCTAssertLessThanOrEqual(try svgWidth(flowed), 1000)
    }

    func testXMLEscapingReplacesForbiddenCharacters() {
        XCTAssertEqual(SVGFigure.escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;")
        XCTAssertEqual(SVGFigure.escape("x\u{1B}y\u{FFFF}"), "x\u{FFFD}y\u{FFFD}")
    }

    // MARK: Writer

    func temporaryFolder() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("duoscope-snapshots-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: folder) }
        return folder
    }

    func testWriterPicksFreshStemsAndLeavesNoTemporaries() throws {
        let root = try temporaryFolder()
        let folder = root.appendingPathComponent("nested/snaps")
        let c = Self.content(.routes)
        let first = try SnapshotWriter.write(c, to: folder)
        XCTAssertEqual(
            first.map(\.lastPathComponent),
            ["duoscope-routes-001.txt", "duoscope-routes-001.ansi", "duoscope-routes-001.svg", "duoscope-routes-001.json"])
        XCTAssertEqual(try String(contentsOf: first[0], encoding: .utf8), c.plainGrid.text)
        XCTAssertEqual(try String(contentsOf: first[1], encoding: .utf8), ANSIRenderer.render(c.colorGrid, depth: .truecolor))
        XCTAssertEqual(try String(contentsOf: first[2], encoding: .utf8), SVGFigure.render(c))
        XCTAssertEqual(try String(contentsOf: first[3], encoding: .utf8), SnapshotJSON.render(c))

        let second = try SnapshotWriter.write(c, to: folder)
        XCTAssertEqual(second.map(\.lastPathComponent), first.map { $0.lastPathComponent.replacingOccurrences(of: "001", with: "002") })

        // A stem with any one of its files taken is skipped.
        XCTAssertTrue(
            FileManager.default.createFile(
                atPath: folder.appendingPathComponent("duoscope-routes-003.svg").path, contents: Data("mine".utf8)))
        let third = try SnapshotWriter.write(c, to: folder, formats: [.txt, .svg])
        XCTAssertEqual(third.map(\.lastPathComponent), ["duoscope-routes-004.txt", "duoscope-routes-004.svg"])
        XCTAssertEqual(try String(contentsOf: folder.appendingPathComponent("duoscope-routes-003.svg"), encoding: .utf8), "mine")

        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        XCTAssertEqual(names.count, 11)
        XCTAssertFalse(names.contains { $0.hasPrefix(".") || $0.hasSuffix(".tmp") }, "temporaries left: \(names)")
    }

    func testWriterReportsAnUnusableFolder() throws {
        let root = try temporaryFolder()
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let file = root.appendingPathComponent("plain-file")
        XCTAssertTrue(FileManager.default.createFile(atPath: file.path, contents: Data()))
        XCTAssertThrowsError(try SnapshotWriter.write(Self.content(.summary), to: file)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.hasPrefix(file.path + ": cannot write snapshot: "), message)
            XCTAssertFalse(message.contains("\n"))
        }
    }

    func testWriteSingleRefusesToOverwrite() throws {
        let folder = try temporaryFolder()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let url = folder.appendingPathComponent("figure.svg")
        try SnapshotWriter.writeSingle("first", to: url)
        XCTAssertEqual(try String(contentsOf: url, encoding: .utf8), "first")
        XCTAssertThrowsError(try SnapshotWriter.writeSingle("second", to: url)) { error in
            XCTAssertEqual(error as? DuoError, DuoError("exists; choose another --out", file: url.path))
        }
        XCTAssertEqual(try String(contentsOf: url, encoding: .utf8), "first")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), ["figure.svg"])
    }
}
