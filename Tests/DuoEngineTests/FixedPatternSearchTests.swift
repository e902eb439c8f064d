import Foundation
import TestSupport
import XCTest

@testable import DuoEngine

/// The layer-prefix tree over fixed patterns against running each pattern on its own.
final class FixedPatternSearchTests: XCTestCase {
    let ids = [3, 91, 17, 250, 8, 33, 120, 5, 77, 64]

    func testEveryPatternEqualsItsOwnForwardPass() throws {
        let model = try Fixtures.model()
        let L = model.config.numLayers
        let losses = try FixedPatternSearch.losses(model: model, ids: ids, bigCounts: 0...L)
        XCTAssertEqual(losses.count, 1 << L)
        for (index, sum) in losses {
            let pattern = FixedPatternSearch.pattern(index: index, layers: L)
            let direct = try SequenceEvaluation.run(model: model, ids: ids, policy: PatternPolicy(pattern), topK: 0)
            XCTAssertEqual(sum, direct.losses.reduce(0, +), accuracy: 1e-6 * max(abs(sum), 1), "\(pattern)")
        }
    }

    /// The bounded search returns, for every budget, the minimum of every pattern's summed loss
    /// (ties: the lowest index); on the sample model's vocabulary the tangent bound spares most
    /// patterns the LM head.
    func testBestEqualsTheMinimumOfEveryPatternsLoss() throws {
        let tiny = try Fixtures.model()
        let sample = try DuoModel.load(directory: FixturePaths.repository.appendingPathComponent("sample-models/duo-12L"))
        let text = try sample.tokenizer!.encode("The quick brown fox jumps over the lazy dog, and the dog sleeps on.")
        for (model, ids, budgets) in [(tiny, ids, 0...4), (sample, text, 3...4)] {
            let all = try FixedPatternSearch.losses(model: model, ids: ids, bigCounts: budgets)
            let found = try FixedPatternSearch.best(model: model, ids: ids, bigCounts: budgets)
            XCTAssertEqual(Set(found.winners.keys), Set(budgets))
            for k in budgets {
                let expected = all.filter { $0.key.nonzeroBitCount == k }.min {
                    $0.value < $1.value || ($0.value == $1.value && $0.key < $1.key)
                }!
                XCTAssertEqual(found.winners[k]!.index, expected.key, "k = \(k)")
                XCTAssertEqual(found.winners[k]!.loss, expected.value, accuracy: 1e-9 * max(1, abs(expected.value)))
            }
            if model === sample {
                XCTAssertLessThan(found.scoredExactly * 2, all.count, "the bound should spare most patterns the LM head")
            }
        }
    }

    func testOnlyTheAskedBudgetsAndStopping() throws {
        let model = try Fixtures.model()
        var reported: [Int] = []
        let losses = try FixedPatternSearch.losses(
            model: model, ids: ids, bigCounts: 1...2,
            progress: { done, total in
                XCTAssertEqual(total, 4 + 6)
                reported.append(done)
            })
        XCTAssertEqual(Set(losses.keys.map(\.nonzeroBitCount)), [1, 2])
        XCTAssertEqual(losses.count, 10)
        XCTAssertEqual(reported, Array(1...10))
        XCTAssertEqual(FixedPatternSearch.pattern(index: 0b1001, layers: 4), [.big, .small, .small, .big])
        XCTAssertThrowsError(try FixedPatternSearch.losses(model: model, ids: ids, bigCounts: 0...4, shouldContinue: { false })) {
            XCTAssertTrue($0 is OracleStopped)
        }
    }
}
