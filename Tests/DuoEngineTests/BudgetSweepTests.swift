import DuoReports
import Foundation
import XCTest

@testable import DuoEngine

#if canImport(FoundationXML)
    import FoundationXML
#endif

final class BudgetSweepTests: XCTestCase {
    private let ids = [12, 77, 5, 140, 33, 9, 251, 64, 100, 7, 3, 200]

    func testSweepIsConsistentAtTheEndsAndRespectsBudgets() throws {
        let model = try Fixtures.model("tiny-model")
        let L = model.config.numLayers
        let router = RouterWeights(routes: [.small, .big], layers: L, hidden: model.config.hiddenSize, budget: 0.5)
        var rng = SplitMix64(seed: 3)
        for (_, t) in router.named { for i in 0..<t.count { t.data[i] = Float(rng.nextUnit() - 0.5) } }
        var options = BudgetSweep.Options()
        options.randomTrials = 5
        options.routers = [router]
        options.shareK = 2
        let r = try BudgetSweep.run(model: model, ids: ids, options: options)
        XCTAssertEqual(r.tokensScored, ids.count - 1)
        let (oracle, fixed, routerCurve) = (r.curve(.oracle)!, r.curve(.fixed)!, r.curve(.router)!)
        let (randomBest, randomMean) = (r.curve(.random)!, r.curve("random mean")!)
        let fixedPatterns = r.curves.first { $0.policy == "fixed" }!.notes.map { $0.split(separator: " ").last! }
        for curve in [oracle, fixed, routerCurve, randomBest, randomMean] {
            XCTAssertEqual(curve.count, L + 1)
            XCTAssertEqual(curve[0], r.allSmall, accuracy: 1e-5, "k = 0 is all-small for every policy")
            XCTAssertEqual(curve[L], r.allBig, accuracy: 1e-5, "k = L is all-big for every policy")
        }
        for k in 0...L {
            XCTAssertEqual(fixedPatterns[k].filter { $0 == "B" }.count, k)
            XCTAssertLessThanOrEqual(randomBest[k], randomMean[k] + 1e-12)
        }
        // The best fixed pattern is the best of all patterns with k big layers.
        let k = 2
        for index in 0..<(1 << L) where index.nonzeroBitCount == k {
            let pattern = (0..<L).map { (index >> (L - 1 - $0)) & 1 == 1 ? Route.big : .small }
            let loss = try SequenceEvaluation.run(model: model, ids: ids, policy: PatternPolicy(pattern)).meanLoss
            // 1e-6: the sweep and SequenceEvaluation batch rows differently (packed product or BLAS).
            XCTAssertGreaterThanOrEqual(loss, fixed[k] - 1e-6)
        }
        for (name, layers) in r.layerShares {
            for shares in layers { XCTAssertEqual(shares.reduce(0, +), 1, accuracy: 1e-9, name) }
        }
        XCTAssertEqual(r.layerShares["oracle"]!.reduce(0) { $0 + $1[0] }, Double(k), accuracy: 1e-9, "k big layers per token on average")
        for token in r.tokens {
            XCTAssertEqual(token.difficulty, token.lossAllSmall - token.lossOracle[2], accuracy: 1e-12)
        }
        let report = SweepReport(result: r, title: "test <&>")
        XCTAssertNotNil(try JSONSerialization.jsonObject(with: Data(report.json().utf8)))
        XCTAssertEqual(report.csv().split(separator: "\n").count, L + 2)
        let svg = report.svg()
        XCTAssertTrue(XMLParser(data: Data(svg.utf8)).parse(), "SVG is well-formed XML")
        XCTAssertTrue(svg.contains("test &lt;&amp;&gt;"))
    }

    func testRouterExactKHasExactlyKBigLayers() throws {
        let model = try Fixtures.model("tiny-model")
        let router = RouterWeights(routes: [.small, .big], layers: 4, hidden: 64)
        var rng = SplitMix64(seed: 9)
        for (_, t) in router.named { for i in 0..<t.count { t.data[i] = Float(rng.nextUnit() - 0.5) } }
        for k in 0...4 {
            let patterns = try RouterExactK.patterns(model: model, router: router, ids: ids, k: k)
            XCTAssertEqual(patterns.count, ids.count)
            XCTAssertTrue(patterns.allSatisfy { $0.filter { $0 == .big }.count == k && !$0.contains(.skip) })
        }
        let skipOnly = RouterWeights(routes: [.skip, .big], layers: 4, hidden: 64)
        XCTAssertThrowsError(try RouterExactK.patterns(model: model, router: skipOnly, ids: ids, k: 1))
    }

    /// A router that can also skip: exactly k big layers by P(big); every other layer takes the
    /// more probable of small and skip.
    func testRouterExactKWithSkipTakesTheLikelierCheapRoute() throws {
        let model = try Fixtures.model("tiny-model")
        let router = RouterWeights(routes: [.skip, .small, .big], layers: 4, hidden: 64, budget: 0.5)
        var rng = SplitMix64(seed: 11)
        for (_, t) in router.named { for i in 0..<t.count { t.data[i] = Float(rng.nextUnit() - 0.5) } }
        var sawSkip = false
        for k in 0...4 {
            let run = try RouterExactK.run(model: model, router: router, ids: ids, k: k)
            for (t, pattern) in run.patterns.enumerated() {
                XCTAssertEqual(pattern.filter { $0 == .big }.count, k)
                for (layer, route) in pattern.enumerated() where route != .big {
                    let p = run.probabilities[t][layer]
                    XCTAssertEqual(route, p[0] > p[1] ? .skip : .small, "token \(t) layer \(layer)")
                    sawSkip = sawSkip || route == .skip
                }
            }
        }
        XCTAssertTrue(sawSkip, "this router skips somewhere")
    }
}
