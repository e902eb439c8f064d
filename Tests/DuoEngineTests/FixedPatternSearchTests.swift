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

    /// The closer bound (the shortlist exact, the rest of the vocabulary by tangent) never exceeds
    /// a pattern's summed loss, and on the sample model it lies closer to it than the tangents
    /// over the whole vocabulary do.
    func testShortlistBoundIsALowerBoundCloserThanTheTangents() throws {
        let model = try DuoModel.load(directory: FixturePaths.repository.appendingPathComponent("sample-models/duo-12L"))
        let ids = try model.tokenizer!.encode("The quick brown fox jumps over the lazy dog, and the dog sleeps on.")
        let c = model.config
        let patterns = (0..<(1 << c.numLayers)).filter { $0.nonzeroBitCount == 4 }
        func scored(_ index: Int) throws -> (normed: Tensor, logits: Tensor, loss: Double) {
            let session = InferenceSession(model: model, capacity: ids.count)
            let pattern = FixedPatternSearch.pattern(index: index, layers: c.numLayers)
            let hidden = try session.forwardHidden(ids, policy: PatternPolicy(pattern))
            let normed = Tensor(shape: hidden.shape)
            LayerKernels.rmsNorm(
                hidden.data, rows: ids.count, width: c.hiddenSize, weight: model.weights.finalNorm.data, eps: c.rmsNormEps,
                into: normed.data)
            let logits = session.logits(of: hidden)
            let loss = (0..<(ids.count - 1)).reduce(0.0) { $0 + Ops.targetLoss(logits.row($1), count: c.vocabSize, target: ids[$1 + 1]) }
            return (normed, logits, loss)
        }
        var bound = TangentBound(model: model, targets: Array(ids.dropFirst()))
        for index in patterns.prefix(3) {
            let (_, logits, loss) = try scored(index)
            bound.add(try XCTUnwrap(bound.point(logits: logits, loss: loss, lowerBound: nil)))
        }
        XCTAssertEqual(bound.shortlist?.tokens.count, TangentBound.shortlistSize)
        var (tangentGap, closerGap) = (0.0, 0.0)
        for index in stride(from: 5, to: patterns.count, by: 12).map({ patterns[$0] }) {
            let (normed, logits, loss) = try scored(index)
            let tangent = try XCTUnwrap(bound.lowerBound(normed))
            let closer = try XCTUnwrap(bound.shortlistBound(normed, scratch: logits))
            let slack = TangentBound.margin * Double(ids.count - 1)
            XCTAssertLessThanOrEqual(tangent, loss + slack, "pattern \(index)")
            XCTAssertLessThanOrEqual(closer, loss + slack, "pattern \(index)")
            tangentGap += loss - tangent
            closerGap += loss - closer
        }
        XCTAssertLessThan(closerGap, tangentGap / 2, "the shortlist should close most of the tangents' gap")
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
