import Foundation
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
