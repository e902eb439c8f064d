import DuoEngine
import Foundation
import XCTest

@testable import DuoExplorer

/// The command palette driven by keys, on the tiny fixture model (4 layers): `:` opens the
/// prompt, Enter runs the command, Esc cancels; results and errors show on the status line.
final class ExplorerPaletteTests: XCTestCase {
    /// A fresh folder, removed after the test.
    func folder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("duoscope-palette-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    func makeExplorer(modelDirectory: URL = AnalyzerTests.modelURL) throws -> Explorer {
        let model = try DuoModel.load(directory: modelDirectory)
        let doc = try ExplorerDocument(text: "the cat sat on the mat and the dog ran", label: "test.txt", model: model)
        var state = ExplorerState()
        state.k = 2
        return Explorer(
            model: model, analyzer: Analyzer(model: model, routers: [], randomTrials: 2), document: doc, state: state,
            choices: [.typed], snapshotFolder: FileManager.default.temporaryDirectory)
    }

    /// Types `:`, the line and Enter.
    func command(_ e: Explorer, _ line: String) {
        XCTAssertTrue(e.handle(.character(":")))
        XCTAssertEqual(e.state.input?.purpose, .command)
        for c in line { _ = e.handle(.character(c)) }
        _ = e.handle(.enter)
        XCTAssertNil(e.state.input)
    }

    /// The message starts with "error:" and is one line with nothing that acts on a terminal.
    func assertError(_ e: Explorer, contains part: String, file: StaticString = #filePath, line: UInt = #line) {
        let message = e.state.message ?? "no message"
        XCTAssertTrue(message.hasPrefix("error: "), message, file: file, line: line)
        XCTAssertTrue(message.contains(part), message, file: file, line: line)
        XCTAssertFalse(message.unicodeScalars.contains(where: TerminalSafe.steersTerminal), message, file: file, line: line)
    }

    /// A router over `routes` with fixed pseudo-random weights, written to `url`.
    func writeRouter(_ routes: [Route] = [.small, .big], to url: URL, model: DuoModel) throws {
        let r = RouterWeights(routes: routes, layers: model.config.numLayers, hidden: model.config.hiddenSize, budget: 0.5)
        var rng = SplitMix64(seed: 11)
        for w in r.weights { for i in 0..<(w.rows * w.columns) { w.data[i] = Float(rng.nextUnit() - 0.5) } }
        try r.write(to: url)
    }

    func testPromptSetsKAndShowsItsErrorsOnTheStatusLine() throws {
        let e = try makeExplorer()
        command(e, "k 3")
        XCTAssertEqual(e.state.k, 3)
        XCTAssertEqual(e.state.message, "k = 3")
        XCTAssertTrue(e.frame(width: 100, height: 30, color: false).text.contains("k = 3"))

        command(e, "k 5")
        XCTAssertEqual(e.state.k, 3, "beyond the model's 4 layers: refused")
        XCTAssertEqual(e.state.message, "error: k: expected a number of big layers in 0...4, got \"5\"")
        command(e, "frobnicate")
        assertError(e, contains: "unknown command \"frobnicate\"")

        // Esc cancels, Backspace edits, and the prompt shows what is typed, escaped.
        _ = e.handle(.character(":"))
        for c in "k 1\u{1B}" { _ = e.handle(.character(c)) }
        let frame = e.frame(width: 100, height: 30, color: false).text
        XCTAssertTrue(frame.contains(":k 1\\e█"), frame)
        _ = e.handle(.escape)
        XCTAssertNil(e.state.input)
        XCTAssertEqual(e.state.k, 3)
        _ = e.handle(.character(":"))
        for c in "k 01" { _ = e.handle(.character(c)) }
        _ = e.handle(.backspace)
        _ = e.handle(.enter)
        XCTAssertEqual(e.state.k, 0)
        command(e, "  ")
        XCTAssertNil(e.state.message, "a blank command does nothing")

        // The settings kept at exit are what the palette set.
        command(e, "trials 9")
        let kept = ExplorerSettings(e.state, trials: e.analyzer.randomTrials)
        XCTAssertEqual(kept.k, 0)
        XCTAssertEqual(kept.trials, 9)
    }

    func testTrialsRebuildTheAnalyzerAndRecomputeTheRandomRun() throws {
        let e = try makeExplorer()
        let random = e.state.key(.random)
        e.computeSynchronously()
        XCTAssertTrue(e.store.snapshot().runs[random]?.note.contains("best of 2 random trials") == true)
        let oracle = try XCTUnwrap(e.store.snapshot().runs[e.state.primaryKey])
        XCTAssertTrue(oracle.isComplete)
        let stale = e.request(.run(random))

        command(e, "trials 7")
        XCTAssertEqual(e.analyzer.randomTrials, 7)
        XCTAssertEqual(e.state.message, "random: best of 7 trials")
        let after = e.store.snapshot()
        XCTAssertNil(after.runs[random], "the random run is computed again")
        XCTAssertEqual(after.runs[e.state.primaryKey]?.losses, oracle.losses, "the oracle's run stays")
        // A run still being computed with the old trials is dropped when it arrives.
        try stale.body({ true }, { _, _ in })
        XCTAssertNil(e.store.snapshot().runs[random])
        XCTAssertEqual(e.wantedJobs().filter { !e.store.isSettled($0) }, [.run(random)])

        e.computeSynchronously()
        let run = try XCTUnwrap(e.store.snapshot().runs[random])
        XCTAssertTrue(run.isComplete)
        XCTAssertTrue(run.note.contains("best of 7 random trials"), run.note)
        XCTAssertEqual(e.analyzer.cacheKey(random, ids: e.document.ids).filter { $0.hasPrefix("trials=") }, ["trials=7"])

        command(e, "policy random@1x3")
        XCTAssertEqual(e.state.primary, .random)
        XCTAssertEqual(e.state.k, 1)
        XCTAssertEqual(e.analyzer.randomTrials, 3, "trials in the policy grammar set the trials too")
        XCTAssertEqual(e.state.message, "primary: random@1 (random: best of 3 trials)")
    }

    func testOpenTextsAndOneLineErrors() throws {
        let dir = try folder()
        let e = try makeExplorer()
        let revision = e.document.revision

        command(e, "open \(dir.path)/missing.txt")
        assertError(e, contains: "missing.txt: file not found")
        let fifo = dir.appendingPathComponent("pipe.txt")
        XCTAssertEqual(mkfifo(fifo.path, 0o600), 0)
        command(e, "open \(fifo.path)")
        assertError(e, contains: "a FIFO, not a text file")
        let binary = dir.appendingPathComponent("bytes.txt")
        try Data([0x61, 0x62, 0xFF, 0xFE]).write(to: binary)
        command(e, "open \(binary.path)")
        assertError(e, contains: "not valid UTF-8 (first bad byte at offset 2)")
        let hostile = dir.appendingPathComponent("evil\u{1B}[31m.txt")
        command(e, "open \(hostile.path)")
        assertError(e, contains: "evil\\e[31m.txt: file not found")
        command(e, "open \(dir.path)")
        assertError(e, contains: "a directory, not a text file")
        XCTAssertEqual(e.document.revision, revision, "nothing opened")

        let good = dir.appendingPathComponent("my notes.txt")
        try "a new text for the palette".write(to: good, atomically: true, encoding: .utf8)
        command(e, "open \(good.path)")
        XCTAssertEqual(e.document.label, "my notes.txt")
        XCTAssertEqual(e.document.text, "a new text for the palette")
        XCTAssertTrue(e.state.message?.hasPrefix("opened my notes.txt:") == true, e.state.message ?? "")
        XCTAssertEqual(e.choices, [.file(good), .typed], "the picker offers it too")
        XCTAssertEqual(e.state.pickerChoices, ["my notes.txt", "type or paste a text…"])
    }

    func testRouterPicksARouterFileOrAName() throws {
        // A copy of the tiny model with two routers in its routers/ folder.
        let dir = try folder()
        let modelDir = dir.appendingPathComponent("model")
        try FileManager.default.copyItem(at: AnalyzerTests.modelURL, to: modelDir)
        let model = try DuoModel.load(directory: modelDir)
        let folder = ModelDirectory(modelDir)
        try writeRouter(to: folder.router(named: "k1"), model: model)
        try writeRouter(to: folder.router(named: "k3"), model: model)
        let mine = dir.appendingPathComponent("mine.safetensors")
        try writeRouter(to: mine, model: model)
        let skip = dir.appendingPathComponent("skip.safetensors")
        try writeRouter([.skip, .big], to: skip, model: model)

        let e = try makeExplorer(modelDirectory: modelDir)
        let router = e.state.key(.router)
        e.computeSynchronously()
        XCTAssertNotNil(e.store.snapshot().failures[router.description], "no router yet")
        let allBig = try XCTUnwrap(e.store.snapshot().runs[e.state.key(.allBig)])

        command(e, "router \(mine.path)")
        XCTAssertEqual(e.state.message, "router policy: router mine at every k")
        XCTAssertEqual(e.analyzer.routers.map(\.name), ["mine"])
        for k in 0...4 { XCTAssertEqual(e.analyzer.router(for: k)?.name, "mine") }
        let snapshot = e.store.snapshot()
        XCTAssertNil(snapshot.failures[router.description], "the router's failure is gone")
        XCTAssertEqual(snapshot.runs[e.state.key(.allBig)]?.losses, allBig.losses, "other runs stay")
        e.computeSynchronously()
        let run = try XCTUnwrap(e.store.snapshot().runs[router])
        XCTAssertTrue(run.isComplete)
        XCTAssertTrue(run.note.hasPrefix("router mine,"), run.note)

        command(e, "router k3")
        XCTAssertEqual(e.state.message, "router policy: router k3 at every k")
        XCTAssertEqual(e.analyzer.routers.map(\.name), ["k3"])
        XCTAssertNil(e.store.snapshot().runs[router], "the router run is computed again")
        e.computeSynchronously()
        XCTAssertTrue(e.store.snapshot().runs[router]?.note.hasPrefix("router k3,") == true)

        command(e, "router auto")
        XCTAssertEqual(e.analyzer.routers.map(\.name), ["k1", "k3"])
        XCTAssertTrue(e.state.message?.contains("nearest the budget") == true, e.state.message ?? "")

        command(e, "router k9")
        assertError(e, contains: "no router file k9 and no router of that name in the model's routers/ folder (it has k1, k3)")
        command(e, "router \(skip.path)")
        assertError(e, contains: "router skip chooses skip, big; the router policy needs one over small and big")
        command(e, "router \(AnalyzerTests.modelURL.path)/config.json")
        assertError(e, contains: "config.json")
        XCTAssertEqual(e.analyzer.routers.map(\.name), ["k1", "k3"], "a failed choice changes nothing")

        // A router that can also skip is reachable: exactly k big, the other layers small or skip.
        let ternary = dir.appendingPathComponent("ternary.safetensors")
        try writeRouter([.skip, .small, .big], to: ternary, model: model)
        command(e, "router \(ternary.path)")
        XCTAssertEqual(e.state.message, "router policy: router ternary at every k")
        e.computeSynchronously()
        let three = try XCTUnwrap(e.store.snapshot().runs[router])
        XCTAssertTrue(three.isComplete && three.note.hasPrefix("router ternary,"), three.note)
        for t in 0..<three.routes.tokens { XCTAssertEqual(three.routes.row(t).filter { $0 == .big }.count, e.state.k) }
    }

    func testPolicyCompareAndHelp() throws {
        let e = try makeExplorer()
        command(e, "policy oracle@3:fixed")
        XCTAssertEqual(e.state.primary, .oracle)
        XCTAssertEqual(e.state.k, 3)
        XCTAssertEqual(e.state.context, .fixed)
        XCTAssertEqual(e.state.message, "primary: oracle@3:fixed")
        command(e, "compare fixed")
        XCTAssertEqual(e.state.partner, .fixed)
        XCTAssertEqual(e.state.k, 3, "no @K: the budget stays")
        command(e, "compare small")
        XCTAssertEqual(e.state.partner, .allSmall)
        XCTAssertEqual(e.state.message, "partner: all-small")
        command(e, "policy oracle@9")
        assertError(e, contains: "k = 9 is outside 0...4")
        XCTAssertEqual(e.state.k, 3)

        command(e, "help")
        XCTAssertTrue(e.state.showHelp)
        XCTAssertEqual(e.state.helpPage, .commands)
        let text = e.frame(width: 80, height: 24, color: false).text
        for (usage, _) in Overlays.commands { XCTAssertTrue(text.contains(usage), "\(usage) missing:\n\(text)") }
        _ = e.handle(.character("x"))
        XCTAssertFalse(e.state.showHelp)
        _ = e.handle(.character("?"))
        XCTAssertEqual(e.state.helpPage, .keys, "? shows the keys")
    }
}

extension ExplorerPaletteTests {
    /// `:gen` and `:temperature` change how `g` generates; the label says so and settings keep it.
    func testGenerationLengthAndSampling() throws {
        let e = try makeExplorer()
        defer { e.stop() }
        _ = e.handle(.character("b"))  // all-big generates without waiting for a search
        command(e, "gen 3")
        command(e, "temp 1.5 7")
        XCTAssertEqual(e.state.generation, GenerationSettings(length: 3, temperature: 1.5, seed: 7))
        XCTAssertTrue(e.state.message?.contains("T=1.5, seed 7") == true, e.state.message ?? "")
        let before = e.document.count
        _ = e.handle(.character("g"))
        guard e.waitForGeneration(from: before) else { return XCTFail("generation did not finish") }
        XCTAssertEqual(e.document.count, before + 3, "up to 3 tokens")
        XCTAssertTrue(e.document.label.contains("generated under all-big, T=1.5, seed 7"), e.document.label)
        let kept = ExplorerSettings(e.state, trials: 2)
        XCTAssertEqual(kept.generation, e.state.generation)
        XCTAssertEqual(kept.state(layers: 4).generation, e.state.generation)
        // An older settings file without the key keeps the default.
        let old = try JSONDecoder().decode(ExplorerSettings.self, from: Data(#"{"k": 3, "trials": 5}"#.utf8))
        XCTAssertEqual(old.k, 3)
        XCTAssertEqual(old.generation, GenerationSettings())
    }
}

extension ExplorerPaletteTests {
    /// The router chosen with `:router` is remembered (as an absolute path) and chosen again when
    /// the explorer opens; one that can no longer be read is dropped with a note.
    func testTheChosenRouterIsRemembered() throws {
        let dir = try folder()
        let model = try DuoModel.load(directory: AnalyzerTests.modelURL)
        let file = dir.appendingPathComponent("mine.safetensors")
        try writeRouter(to: file, model: model)
        let text = dir.appendingPathComponent("t.txt")
        try Data("the cat sat on the mat".utf8).write(to: text)
        let e = try makeExplorer()
        command(e, "router \(file.path)")
        XCTAssertEqual(e.state.router, file.path)
        let settings = ExplorerSettings(e.state, trials: 2)
        func open(_ settings: ExplorerSettings) throws -> Explorer {
            try Explorer.open(modelDirectory: AnalyzerTests.modelURL, textFiles: [text], randomTrials: 2, cache: nil) {
                settings.state(layers: $0.numLayers)
            }
        }
        let reopened = try open(settings)
        XCTAssertEqual(reopened.analyzer.routers.map(\.name), ["mine"])
        XCTAssertEqual(reopened.state.partner, .router, "the router policy is available again")
        try FileManager.default.removeItem(at: file)
        let broken = try open(settings)
        XCTAssertNil(broken.state.router)
        XCTAssertTrue(broken.state.message?.contains("ignored the remembered router") == true, broken.state.message ?? "")
    }
}
