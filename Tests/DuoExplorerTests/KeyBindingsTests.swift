import DuoEngine
import XCTest

@testable import DuoExplorer

/// The one key table: no key bound twice, every action reachable, and the help overlay and the
/// on-screen hints read from it.
final class KeyBindingsTests: XCTestCase {
    func testEveryKeyIsBoundOnceAndEveryActionIsReachable() {
        let keys = KeyBindings.all.flatMap(\.keys)
        XCTAssertEqual(keys.count, Set(keys.map { "\($0)" }).count, "a key bound twice")
        let actions = KeyBindings.all.flatMap { binding in binding.keys.compactMap { binding.action?($0) } }
        var expected: [ExplorerAction] = [
            .quit, .cancelGeneration, .tokenLeft, .tokenRight, .layerUp, .layerDown, .pageBack, .pageForward, .firstToken,
            .lastToken, .nextView, .previousView, .swapPolicies, .budgetUp, .budgetDown, .toggleContext, .toggleMetric,
            .transpose, .help, .find, .findNext, .openText, .typeText, .command, .generate, .export,
        ]
        expected += ViewKind.allCases.map { .view($0) }
        expected += PolicyKind.allCases.map { .primary($0) } + PolicyKind.allCases.map { .partner($0) }
        for action in expected { XCTAssertTrue(actions.contains(action), "\(action) has no key") }
        XCTAssertEqual(KeyBindings.action(for: .character("3")), .view(.difficulty))
        XCTAssertEqual(KeyBindings.action(for: .character("R")), .partner(.router))
        XCTAssertEqual(KeyBindings.action(for: .character("_")), .budgetDown)
        XCTAssertEqual(KeyBindings.action(for: .character("i")), .typeText)
        XCTAssertEqual(KeyBindings.action(for: .character(":")), .command)
        XCTAssertNil(KeyBindings.action(for: .character("Z")))
    }

    func testHelpAndHintsComeFromTheTable() {
        XCTAssertEqual(Overlays.keys.map(\.0), KeyBindings.all.map(\.label))
        XCTAssertEqual(KeyBindings.hints(.tabBar), "[+/-] budget")
        let policies = PolicyKind.allCases.map { String($0.key) }.joined(separator: "/")
        let narrow = "1-5 views  \(policies) policy  O/R… partner  e export  ? help  q quit"
        let wide = "1-5 views  \(policies) policy  O/R… partner  : command  e export  ? help  q quit"
        XCTAssertEqual(KeyBindings.hints(.statusLine), wide)
        XCTAssertEqual(KeyBindings.hints(.statusLine, room: wide.count), wide)
        XCTAssertEqual(KeyBindings.hints(.statusLine, room: wide.count - 1), narrow, "the : hint only where there is room")
        XCTAssertEqual(KeyBindings.hints(.statusLineIfRoom), ": command")
        for binding in KeyBindings.all where binding.hint != nil {
            XCTAssertFalse(binding.keys.isEmpty, "\(binding.label): a hint for no key")
        }
    }
}

/// The explorer's remembered settings: a round trip, and a damaged file gives the defaults and
/// a note instead of an error.
final class ExplorerSettingsTests: XCTestCase {
    func testRoundTripAndDamagedFiles() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("duoscope-settings-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("explorer.json")
        XCTAssertEqual(ExplorerSettings.load(from: file).0, ExplorerSettings())
        var state = ExplorerState()
        state.view = .summary
        state.k = 7
        state.primary = .fixed
        state.metric = .rawLoss
        let settings = ExplorerSettings(state, trials: 30)
        settings.save(to: file)
        let (loaded, note) = ExplorerSettings.load(from: file)
        XCTAssertNil(note)
        XCTAssertEqual(loaded, settings)
        XCTAssertEqual(loaded.state(layers: 4).k, 4, "k clamped to the model's layers")
        XCTAssertEqual(loaded.state(layers: 12).view, .summary)
        try Data("{ not json".utf8).write(to: file)
        let (fallback, problem) = ExplorerSettings.load(from: file)
        XCTAssertEqual(fallback, ExplorerSettings())
        XCTAssertTrue(problem?.contains("ignored settings") == true, problem ?? "no note")
        XCTAssertNil(ExplorerSettings.standardFile(environment: ["DUOSCOPE_NO_CONFIG": "1", "HOME": "/root"]))
        XCTAssertEqual(ExplorerSettings.standardFile(environment: ["XDG_CONFIG_HOME": "/x"])?.path, "/x/duoscope/explorer.json")
    }
}
