import XCTest

@testable import DuoEngine

/// The catalogue: one grammar that round-trips, one evaluation whose batched every-k path agrees
/// with one k at a time, and policies that mean what their names say.
final class PolicyCatalogueTests: XCTestCase {
    private let ids = [12, 77, 5, 140, 33, 9, 251, 64, 100, 7, 3, 200]

    func testGrammarRoundTripsEveryPolicy() throws {
        for kind in PolicyKind.allCases {
            for context in ContextMode.allCases {
                let key = PolicyKey(kind, k: 3, context: context, trials: kind.usesTrials ? 7 : nil)
                XCTAssertEqual(try PolicyKey.parse(key.description), key, key.description)
                XCTAssertEqual(try PolicyChoice.parse(key.description), .catalogue(key), key.description)
            }
            XCTAssertEqual(try PolicyKey.parse(kind.name, defaultK: 5).kind, kind, "the short name \(kind.name)")
            XCTAssertTrue(PolicyKey.grammar.contains(kind.name), "the usage line names \(kind.name)")
        }
        XCTAssertEqual(try PolicyKey.parse(" Oracle@4:FIXED "), PolicyKey(.oracle, k: 4, context: .fixed))
        XCTAssertEqual(try PolicyKey.parse("random@6x100"), PolicyKey(.random, k: 6, trials: 100))
        XCTAssertEqual(try PolicyKey.parse("big"), PolicyKey(.allBig, k: 0))
        XCTAssertEqual(try PolicyKey.parse("all-small"), PolicyKey(.allSmall, k: 0))
        XCTAssertEqual(try PolicyKey.parse("oracle", defaultK: 2), PolicyKey(.oracle, k: 2))
    }

    func testGrammarErrorsSayWhatIsWrong() {
        let cases: [(String, String)] = [
            ("", "empty policy"), (":", "empty policy"), ("@3", "empty policy"), ("oracle", "needs a budget"),
            ("oracle@x", "not a number"), ("oracle@-1", "not a number"), ("fixed@3:fixed", "only the oracle"),
            ("oracle@3x5", "not a number"), ("random@3x0", "trials"), ("big@3", "takes no budget"),
            ("oracle@3:sideways", "expected causal or fixed"), ("best", "unknown policy"),
        ]
        for (text, phrase) in cases {
            XCTAssertThrowsError(try PolicyKey.parse(text), text) { error in
                let message = (error as? DuoError)?.description ?? "\(error)"
                XCTAssertTrue(message.contains(phrase), "\(text): \(message)")
                XCTAssertFalse(message.contains("\n"))
            }
        }
        XCTAssertThrowsError(try PolicyKey(.oracle, k: 5).validate(layers: 4))
    }

    func testRulesAndCataloguePoliciesAreTold() throws {
        for rule in ["skip", "random", "random:2,7", "pattern:BSBS", "router:k2", "router:/tmp/r.safetensors"] {
            XCTAssertEqual(try PolicyChoice.parse(rule), .rule(rule), rule)
        }
        XCTAssertEqual(try PolicyChoice.parse("random@2"), .catalogue(PolicyKey(.random, k: 2)))
        XCTAssertThrowsError(try PolicyChoice.parse("nope")) { error in
            XCTAssertTrue("\(error)".contains("pattern:BSK"), "the usage lists both grammars: \(error)")
        }
    }

    func testEveryKAgreesWithOneKAtATime() throws {
        let model = try Fixtures.model("tiny-model")
        let e = PolicyEvaluator(model: model, randomTrials: 3)
        let windows = [Array(ids[0..<7]), Array(ids[7...])]
        for kind in PolicyKind.budgetKinds where kind.unavailable(in: e) == nil {
            for context in kind.usesContext ? ContextMode.allCases : [.causal] {
                let all = try e.evaluateEveryK(kind, context: context, windows: windows)
                XCTAssertEqual(all.count, model.config.numLayers + 1)
                for k in 0...model.config.numLayers {
                    let one = try e.evaluate(PolicyKey(kind, k: k, context: context), windows: windows)
                    XCTAssertEqual(one.losses.count, ids.count - 2, "\(kind)@\(k): every token with a target in its window")
                    // One tree for every k sums in another order than one tree per k (float32).
                    XCTAssertEqual(one.meanLoss, all[k].meanLoss, accuracy: 1e-5, "\(kind)@\(k) \(context)")
                    XCTAssertEqual(one.routes, all[k].routes, "\(kind)@\(k)")
                    for m in one.routes {
                        for t in 0..<m.tokens { XCTAssertEqual(m.row(t).filter { $0 == .big }.count, k, "\(kind)@\(k) has k big layers") }
                    }
                }
            }
        }
    }

    func testRoutesAreScoredByTheForwardPass() throws {
        let model = try Fixtures.model("tiny-model")
        let e = PolicyEvaluator(model: model, randomTrials: 4)
        for kind in PolicyKind.allCases where kind.unavailable(in: e) == nil {
            let key = PolicyKey(kind, k: 2)
            let outcome = try e.evaluate(key, windows: [ids])
            let forward = try SequenceEvaluation.run(model: model, ids: ids, policy: MatrixPolicy(outcome.routes[0]), topK: 0)
            for (a, b) in zip(outcome.losses, forward.losses) { XCTAssertEqual(a, b, accuracy: 1e-4, "\(key)") }
            XCTAssertEqual(try e.sequence(key, ids: ids, topK: 0).losses, outcome.losses, "\(key)")
        }
    }

    func testEarlyExitIsBigForTheFirstKLayers() throws {
        let model = try Fixtures.model("tiny-model")
        let e = PolicyEvaluator(model: model)
        let L = model.config.numLayers
        for k in 0...L {
            let pattern = (0..<L).map { $0 < k ? Route.big : .small }
            let outcome = try e.evaluate(try PolicyKey.parse("early-exit@\(k)"), windows: [ids])
            XCTAssertEqual(outcome.routes, [RouteMatrix(rows: Array(repeating: pattern, count: ids.count))])
            let reference = try SequenceEvaluation.run(model: model, ids: ids, policy: PatternPolicy(pattern), topK: 0)
            // Not bit for bit: the evaluator runs BLAS on one thread and the reference on all of
            // them, and OpenBLAS's SkylakeX kernels round the two about 1e-7 apart.
            XCTAssertEqual(outcome.losses.count, reference.losses.count)
            for (a, b) in zip(outcome.losses, reference.losses) { XCTAssertEqual(a, b, accuracy: 1e-5, "early-exit@\(k)") }
            let generation = PolicyKind.earlyExit.generationPolicy(k: k, evaluator: e, routes: nil)
            XCTAssertEqual((generation.policy as? PatternPolicy)?.pattern, pattern, "generates under the same rule")
        }
        let ends = try e.evaluateEveryK(.earlyExit, windows: [ids])
        XCTAssertEqual(ends[0].losses, try e.evaluate(PolicyKey(.allSmall, k: 0), windows: [ids]).losses, "k = 0 is all-small")
        XCTAssertEqual(ends[L].losses, try e.evaluate(PolicyKey(.allBig, k: 0), windows: [ids]).losses, "k = L is all-big")
    }

    func testAPolicyThatCannotRunSaysWhy() throws {
        let model = try Fixtures.model("tiny-model")
        let e = PolicyEvaluator(model: model)
        XCTAssertNotNil(PolicyKind.router.unavailable(in: e), "no routers given")
        XCTAssertThrowsError(try e.evaluate(PolicyKey(.router, k: 1), windows: [ids])) { error in
            XCTAssertTrue("\(error)".contains("no router"), "\(error)")
        }
        XCTAssertThrowsError(try e.evaluate(PolicyKey(.oracle, k: 9), windows: [ids]))
        XCTAssertThrowsError(try e.evaluate(PolicyKey(.oracle, k: 1), windows: [[5]]))
    }
}
