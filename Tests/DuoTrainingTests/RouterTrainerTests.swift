import DuoEngine
import Foundation
import TestSupport
import XCTest

@testable import DuoTraining

final class RouterTrainerTests: XCTestCase {
    static let fixtures = FixturePaths.root

    private func corpus(_ count: Int, seed: UInt64) -> TokenCorpus {
        var rng = SplitMix64(seed: seed)
        var tokens: [Int32] = []
        while tokens.count < count {
            let start = Int32(rng.next() % 300)
            tokens += (0..<5).map { start + Int32($0) }
        }
        return TokenCorpus(source: "toy", tokens: Array(tokens.prefix(count)))
    }

    func testRouterTrainingLowersItsLossAndMeetsTheBudget() throws {
        let model = try DuoModel.load(directory: Self.fixtures.appendingPathComponent("tiny-model"))
        for (routes, budget) in [([Route.small, .big], 0.25), ([Route.skip, .small, .big], 0.4)] {
            let options = RouterTrainingOptions(
                routes: routes, budget: budget, alpha: 20, batch: 4, length: 16, steps: 40,
                learningRate: 1e-2, temperatureStart: 1, temperatureEnd: 0.3, seed: 1, evalWindows: 4)
            let trainer = try RouterTrainer(model: model, options: options, train: corpus(3000, seed: 1), valid: corpus(400, seed: 2))
            // The objective at the final temperature on fixed batches, before and after training.
            let before = trainer.objective(temperature: 0.3, steps: 0..<5)
            trainer.run()
            let after = trainer.objective(temperature: 0.3, steps: 0..<5)
            XCTAssertLessThan(after, before - 0.01, "\(routes): router objective \(before) -> \(after)")
            XCTAssertEqual(trainer.history.last!.share, budget, accuracy: 0.08, "\(routes) soft share")
            let (loss, share) = try trainer.evaluate()
            XCTAssertTrue(loss.isFinite)
            XCTAssertEqual(share, budget, accuracy: 0.25, "\(routes) hard share")
            XCTAssertEqual(trainer.history.last!.temperature, 0.3, accuracy: 1e-5)
        }
    }

    func testBadRouterOptions() throws {
        let model = try DuoModel.load(directory: Self.fixtures.appendingPathComponent("tiny-model"))
        XCTAssertThrowsError(
            try RouterTrainingOptions(routes: [.small, .big], budget: 1.5, length: 16, steps: 1).validate(config: model.config)
        ) {
            XCTAssertTrue("\($0)".contains("outside 0...1"), "\($0)")
        }
        XCTAssertThrowsError(try RouterTrainingOptions(routes: [.big], budget: 0.5, length: 16, steps: 1).validate(config: model.config))
        XCTAssertThrowsError(
            try RouterTrainingOptions(routes: [.small, .big], budget: 0.5, length: 100, steps: 1).validate(config: model.config))
    }
}
