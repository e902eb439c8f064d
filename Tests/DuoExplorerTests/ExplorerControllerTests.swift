import DuoEngine
import Foundation
import TestSupport
import XCTest

@testable import DuoExplorer

/// The controller without a terminal: keys change state, work fills the store, snapshots land
/// in files. Uses the tiny fixture model.
final class ExplorerControllerTests: XCTestCase {
    func makeExplorer(text: String = "the cat sat on the mat and the dog ran", folder: URL? = nil) throws -> Explorer {
        let model = try DuoModel.load(directory: AnalyzerTests.modelURL)
        let doc = try ExplorerDocument(text: text, label: "test.txt", model: model)
        var state = ExplorerState()
        state.k = 2
        return Explorer(
            model: model, analyzer: Analyzer(model: model, routers: [], randomTrials: 2), document: doc, state: state,
            choices: [.typed], snapshotFolder: folder ?? FileManager.default.temporaryDirectory)
    }

    func testKeysMoveCursorsSwitchViewsAndPolicies() throws {
        let e = try makeExplorer()
        let n = e.document.count
        XCTAssertTrue(e.handle(.right))
        XCTAssertTrue(e.handle(.character("l")))
        XCTAssertEqual(e.state.token, 2)
        _ = e.handle(.left)
        XCTAssertEqual(e.state.token, 1)
        _ = e.handle(.end)
        XCTAssertEqual(e.state.token, n - 1)
        _ = e.handle(.right)
        XCTAssertEqual(e.state.token, n - 1, "stays on the last token")
        _ = e.handle(.home)
        XCTAssertEqual(e.state.token, 0)
        _ = e.handle(.down)
        _ = e.handle(.character("j"))
        _ = e.handle(.character("j"))
        _ = e.handle(.character("j"))
        XCTAssertEqual(e.state.layer, 3, "clamped to the last of 4 layers")
        _ = e.handle(.character("k"))
        XCTAssertEqual(e.state.layer, 2)

        _ = e.handle(.tab)
        XCTAssertEqual(e.state.view, .compare)
        _ = e.handle(.backTab)
        _ = e.handle(.backTab)
        XCTAssertEqual(e.state.view, .summary)
        _ = e.handle(.character("3"))
        XCTAssertEqual(e.state.view, .difficulty)

        _ = e.handle(.character("r"))
        XCTAssertEqual(e.state.primary, .router)
        _ = e.handle(.character("S"))
        XCTAssertEqual(e.state.partner, .allSmall)
        _ = e.handle(.character(" "))
        XCTAssertEqual(e.state.primary, .allSmall)
        XCTAssertEqual(e.state.partner, .router)

        for _ in 0..<6 { _ = e.handle(.character("+")) }
        XCTAssertEqual(e.state.k, 4)
        for _ in 0..<6 { _ = e.handle(.character("-")) }
        XCTAssertEqual(e.state.k, 0)
        _ = e.handle(.character("c"))
        XCTAssertEqual(e.state.context, .fixed)
        _ = e.handle(.character("d"))
        XCTAssertEqual(e.state.metric, .rawLoss)
        _ = e.handle(.character("?"))
        XCTAssertTrue(e.state.showHelp)
        _ = e.handle(.character("x"))
        XCTAssertFalse(e.state.showHelp, "any key closes help without acting")
        XCTAssertEqual(e.state.primary, .allSmall)
        XCTAssertFalse(e.handle(.character("q")))
        XCTAssertFalse(e.handle(.interrupt))
    }

    func testFindTypeAndOpenText() throws {
        let e = try makeExplorer()
        _ = e.handle(.character("/"))
        for c in "g" { _ = e.handle(.character(c)) }
        _ = e.handle(.enter)
        XCTAssertTrue(e.document.rawTokenTexts[e.state.token].contains("g"), e.document.rawTokenTexts.joined(separator: "|"))
        let first = e.state.token
        _ = e.handle(.home)
        _ = e.handle(.character("n"))
        XCTAssertEqual(e.state.token, first)
        // A phrase spanning several tokens is found at the token where it starts.
        _ = e.handle(.home)
        _ = e.handle(.character("/"))
        for c in "DOG RAN" { _ = e.handle(.character(c)) }
        _ = e.handle(.enter)
        let rest = e.document.rawTokenTexts[e.state.token...].joined()
        XCTAssertTrue(rest.lowercased().contains("dog ran"), rest)
        XCTAssertFalse(e.document.rawTokenTexts[(e.state.token + 1)...].joined().contains("dog ran"))
        XCTAssertTrue(e.state.message?.hasPrefix("found") == true)
        _ = e.handle(.character("/"))
        for c in "zebra" { _ = e.handle(.character(c)) }
        _ = e.handle(.enter)
        XCTAssertEqual(e.state.message, "not found: zebra")

        let revision = e.document.revision
        _ = e.handle(.character("i"))
        for c in "a new text here" { _ = e.handle(.character(c)) }
        _ = e.handle(.backspace)
        _ = e.handle(.enter)
        XCTAssertEqual(e.document.text, "a new text her")
        XCTAssertEqual(e.document.revision, revision + 1)
        XCTAssertEqual(e.store.snapshot().document.revision, revision + 1)

        _ = e.handle(.character("i"))
        _ = e.handle(.enter)
        XCTAssertEqual(e.document.text, "a new text her", "an empty text is refused")
        XCTAssertTrue(e.state.message?.hasPrefix("error:") == true, e.state.message ?? "")

        _ = e.handle(.character("p"))
        XCTAssertTrue(e.state.showPicker)
        _ = e.handle(.enter)
        XCTAssertFalse(e.state.showPicker)
        XCTAssertEqual(e.state.input?.purpose, .text, "the typed-text choice opens the input line")
        _ = e.handle(.escape)
        XCTAssertNil(e.state.input)
    }

    /// After `g`, the text's label and the status line say which policy generated the continuation.
    func testGenerationSaysWhichPolicyGenerated() throws {
        let e = try makeExplorer()
        _ = e.handle(.character("b"))  // all-big generates without waiting for a search
        let before = e.document.count
        _ = e.handle(.character("g"))
        guard e.waitForGeneration(from: before) else { return XCTFail("generation did not finish") }
        XCTAssertGreaterThan(e.document.count, before)
        XCTAssertTrue(e.document.label.contains("generated under all-big"), e.document.label)
        XCTAssertTrue(e.state.message?.contains("under all-big") == true, e.state.message ?? "no message")
        e.stop()
    }

    func testMouseSelectsWhatWasDrawnUnderIt() throws {
        let e = try makeExplorer()
        let grid = e.frame(width: 100, height: 30, color: false)
        var target: (Int, Int, Int, Int)?
        for y in 0..<grid.height {
            for x in 0..<grid.width { if case .cell(let t, let l)? = grid.target(x: x, y: y), t == 3, l == 1 { target = (x, y, t, l) } }
        }
        let (x, y, _, _) = try XCTUnwrap(target)
        _ = e.handle(.mouse(x: x, y: y))
        XCTAssertEqual(e.state.token, 3)
        XCTAssertEqual(e.state.layer, 1)
        var tab: (Int, Int)?
        for x in 0..<grid.width { if grid.target(x: x, y: 1) == .view(.summary) { tab = (x, 1) } }
        _ = e.handle(.mouse(x: tab!.0, y: tab!.1))
        XCTAssertEqual(e.state.view, .summary)
    }

    func testComputesWhatTheScreenNeedsAndExportsSnapshots() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("duoscope-ctl-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let e = try makeExplorer(folder: folder)
        _ = e.handle(.character("4"))
        e.computeSynchronously()
        let a = e.store.snapshot()
        for kind in [PolicyKind.oracle, .allSmall, .allBig, .fixed, .random] {
            XCTAssertEqual(a.runs[e.state.key(kind)]?.isComplete, true, "\(kind)")
        }
        XCTAssertNotNil(a.failures[e.state.key(.router).description], "no router in the tiny model: a clear failure, not a hang")
        XCTAssertEqual(a.flips[FlipKey(policy: e.state.primaryKey, token: 0)]?.count, 4, "the layers view asks for flips")
        // The logit lens is computed for the run the Layers view shows, and only for it: its
        // readout after the last layer is that run's own top prediction.
        let primary = try XCTUnwrap(a.runs[e.state.primaryKey])
        XCTAssertEqual(primary.lens.count, e.document.count)
        for (t, read) in primary.lens.enumerated() {
            XCTAssertEqual(read.count, 4)
            XCTAssertEqual(read.last?.id, primary.top[t].first?.id, "token \(t)")
        }
        XCTAssertEqual(a.runs[e.state.key(.allBig)]?.lens.isEmpty, true, "no lens for runs the Layers view does not show")
        let text = e.frame(width: 100, height: 30, color: false).text
        XCTAssertTrue(text.contains("logit lens"), text)
        XCTAssertTrue(text.contains("error: router@2: no router"), "the partner's failure is on the status line:\n\(text)")

        _ = e.handle(.character("e"))
        XCTAssertTrue(e.state.message?.hasPrefix("snapshot:") == true, e.state.message ?? "")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        XCTAssertEqual(
            files, ["duoscope-layers-001.ansi", "duoscope-layers-001.json", "duoscope-layers-001.svg", "duoscope-layers-001.txt"])
        let json =
            try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("duoscope-layers-001.json")))
            as? [String: Any]
        XCTAssertEqual(json?["view"] as? String, "layers")
        _ = e.handle(.character("e"))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path).count, 8, "a second export never overwrites")
    }

    func testBackgroundWorkersFillTheStore() throws {
        let e = try makeExplorer()
        e.start()
        defer { e.stop() }
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, e.store.snapshot().runs[e.state.primaryKey]?.isComplete != true { usleep(20_000) }
        XCTAssertEqual(e.store.snapshot().runs[e.state.primaryKey]?.isComplete, true)
        // Changing k asks for the new budget; the old result stays cached.
        _ = e.handle(.character("+"))
        while Date() < deadline, e.store.snapshot().runs[e.state.primaryKey]?.isComplete != true { usleep(20_000) }
        XCTAssertEqual(e.store.snapshot().runs[e.state.primaryKey]?.key.k, 3)
        XCTAssertEqual(e.store.snapshot().runs[PolicyKey(.oracle, k: 2)]?.isComplete, true)
    }
}

/// A plain Llama model (no small FFN) is explored with big/skip routing: every policy of the
/// catalogue that needs no small FFN runs, choosing between big and skip; the rest say why not.
final class PlainLlamaExplorerTests: XCTestCase {
    func testBigSkipExplorationOnAPlainLlamaModel() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("duoscope-llama-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let text = folder.appendingPathComponent("t.txt")
        try Data("the cat sat on the mat and the dog ran".utf8).write(to: text)
        let e = try Explorer.open(
            modelDirectory: FixturePaths.url("tiny-model-bf16-llama"), textFiles: [text], randomTrials: 2, snapshotFolder: folder,
            cache: nil
        ) { _ in
            var s = ExplorerState()
            s.k = 2
            return s
        }
        XCTAssertFalse(e.model.config.isDuo)
        XCTAssertEqual(e.state.primary, .oracle)
        XCTAssertNotEqual(e.state.partner, .router, "no router: another partner")
        XCTAssertTrue(e.state.message?.contains("comparing oracle with") == true, e.state.message ?? "")
        e.computeSynchronously()
        let a = e.store.snapshot()
        let L = e.model.config.numLayers
        for kind in [PolicyKind.oracle, .fixed, .random, .earlyExit, .allBig] {
            let run = try XCTUnwrap(a.runs[e.state.key(kind)], "\(kind)")
            XCTAssertTrue(run.isComplete, "\(kind)")
            for t in 0..<run.routes.tokens {
                let row = run.routes.row(t)
                XCTAssertFalse(row.contains(.small), "\(kind): no small FFN to route to")
                if kind != .allBig { XCTAssertEqual(row.filter { $0 == .big }.count, 2, "\(kind): k = 2 big, the rest skip") }
            }
        }
        // The oracle is the best big/skip pattern per token: no worse than early exit at the same budget.
        let oracle = try XCTUnwrap(a.runs[e.state.key(.oracle)])
        let early = try XCTUnwrap(a.runs[e.state.key(.earlyExit)])
        XCTAssertLessThanOrEqual(
            oracle.losses[0], early.losses[0] + 1e-6, "token 0 has no context: the oracle is the minimum over its patterns")
        XCTAssertEqual(L, e.layers)
        XCTAssertNotNil(PolicyKind.allSmall.unavailable(in: e.analyzer.evaluator))
    }
}

extension Explorer {
    /// Polls until a continuation started on a text of `before` tokens has finished; false after
    /// `seconds` without that.
    func waitForGeneration(from before: Int, seconds: TimeInterval = 60) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while state.generating != nil || document.count == before {
            _ = poll()
            if Date() > deadline { return false }
            usleep(10_000)
        }
        return true
    }
}
