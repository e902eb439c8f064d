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
            .transpose, .help, .find, .findNext, .openText, .typeText, .generate, .export,
        ]
        expected += ViewKind.allCases.map { .view($0) }
        expected += PolicyKind.allCases.map { .primary($0) } + PolicyKind.allCases.map { .partner($0) }
        for action in expected { XCTAssertTrue(actions.contains(action), "\(action) has no key") }
        XCTAssertEqual(KeyBindings.action(for: .character("3")), .view(.difficulty))
        XCTAssertEqual(KeyBindings.action(for: .character("R")), .partner(.router))
        XCTAssertEqual(KeyBindings.action(for: .character("_")), .budgetDown)
        XCTAssertNil(KeyBindings.action(for: .character("Z")))
    }

    func testHelpAndHintsComeFromTheTable() {
        XCTAssertEqual(Overlays.keys.map(\.0), KeyBindings.all.map(\.label))
        XCTAssertEqual(KeyBindings.hints(.tabBar), "[+/-] budget")
        XCTAssertEqual(KeyBindings.hints(.statusLine), "1-5 views  o/r/f/x/b/s policy  O/R… partner  e export  ? help  q quit")
        for binding in KeyBindings.all where binding.hint != nil {
            XCTAssertFalse(binding.keys.isEmpty, "\(binding.label): a hint for no key")
        }
    }
}
