import XCTest

@testable import DuoEngine

/// Internal consistency of the forward pass: cached decoding equals batched prefill, and skip
/// leaves the residual stream untouched.
final class ForwardConsistencyTests: XCTestCase {
    private let ids = [5, 17, 42, 99, 3, 250, 18, 7, 77, 120, 64, 33, 200, 1, 9, 11]

    private func maxDifference(_ a: Tensor, row ra: Int, _ b: Tensor, row rb: Int) -> Float {
        var worst: Float = 0
        for i in 0..<a.columns { worst = max(worst, abs(a.row(ra)[i] - b.row(rb)[i])) }
        return worst
    }

    func testTokenByTokenDecodingEqualsBatchedPrefill() throws {
        for name in Fixtures.modelNames {
            let model = try Fixtures.model(name)
            let policy = try PolicySpec.parse(
                model.config.isDuo ? "random:skip=0.2,small=0.4,big=0.4,seed=3" : "random:0.5,seed=3",
                config: model.config)
            let prefill = InferenceSession(model: model)
            let all = try prefill.forward(ids, policy: policy)

            let decoder = InferenceSession(model: model)
            for (t, id) in ids.enumerated() {
                let step = try decoder.forward([id], policy: policy)
                XCTAssertLessThan(maxDifference(all, row: t, step, row: 0), 1e-4, "\(name) position \(t)")
            }
            XCTAssertEqual(decoder.routes, prefill.routes)
            XCTAssertEqual(decoder.position, ids.count)

            // Uneven chunks take the same path too.
            let chunked = InferenceSession(model: model)
            var start = 0
            for size in [3, 1, 7, 5] {
                let block = try chunked.forward(Array(ids[start..<(start + size)]), policy: policy)
                for r in 0..<size {
                    XCTAssertLessThan(maxDifference(all, row: start + r, block, row: r), 1e-4, "\(name) chunk row \(start + r)")
                }
                start += size
            }
        }
    }

    /// Routings scored with layer 0 computed once for all of them (`RoutingTrials`, the best of
    /// N random routings) lose what the ordinary forward pass of each loses, for routings that
    /// differ per token at every layer (skip and small included), on every fixture model.
    func testRoutingTrialsShareLayerZeroAndEqualTheForwardPass() throws {
        for name in Fixtures.modelNames {
            let model = try Fixtures.model(name)
            let trials = try RoutingTrials(model: model, ids: ids)
            for seed in 0..<3 {
                let policy = try PolicySpec.parse(
                    model.config.isDuo ? "random:skip=0.2,small=0.4,big=0.4,seed=\(seed)" : "random:0.5,seed=\(seed)",
                    config: model.config)
                let want = try SequenceEvaluation.run(model: model, ids: ids, policy: policy, topK: 0).losses
                let got = try trials.losses(under: policy)
                XCTAssertEqual(got.count, ids.count - 1)
                for (a, b) in zip(got, want) { XCTAssertEqual(a, b, accuracy: 1e-5, "\(name) seed \(seed)") }
            }
        }
    }

    func testSkipIsIdentityOnTheResidualStream() throws {
        let model = try Fixtures.model("tiny-model")
        let c = model.config
        // The same model with layer 2's big FFN output forced to zero (down projection zeroed).
        let w = model.weights
        var layers = w.layers
        let zeroDown = Tensor(shape: w.layers[2].big.down.shape)
        let l2 = layers[2]
        layers[2] = LayerWeights(
            inputNorm: l2.inputNorm, q: l2.q, k: l2.k, v: l2.v, o: l2.o, postNorm: l2.postNorm,
            big: FFNWeights(gate: l2.big.gate, up: l2.big.up, down: zeroDown), small: l2.small)
        let zeroed = DuoModel(
            config: c, weights: ModelWeights(embedding: w.embedding, layers: layers, finalNorm: w.finalNorm, lmHead: w.lmHead),
            tokenizer: nil)
        let skipAt2 = PatternPolicy([.big, .small, .skip, .big])
        let bigAt2 = PatternPolicy([.big, .small, .big, .big])
        var residualSkip: [[Float]] = []
        var residualZero: [[Float]] = []
        let a = try InferenceSession(model: model).forwardHidden(ids, policy: skipAt2) { _, x in residualSkip.append(x.array) }
        let b = try InferenceSession(model: zeroed).forwardHidden(ids, policy: bigAt2) { _, x in residualZero.append(x.array) }
        XCTAssertEqual(residualSkip, residualZero, "skip must leave x + attention exactly as is")
        XCTAssertEqual(a.array, b.array)
        // And skip really differs from running the FFN.
        let c2 = try InferenceSession(model: model).forwardHidden(ids, policy: bigAt2)
        XCTAssertNotEqual(a.array, c2.array)
    }

    func testContextLimitAndBadIdsAreErrors() throws {
        let model = try Fixtures.model("tiny-model")
        let session = InferenceSession(model: model)
        XCTAssertThrowsError(try session.forward(Array(repeating: 1, count: model.config.maxPositions + 1), policy: UniformPolicy(.big)))
        XCTAssertThrowsError(try session.forward([model.config.vocabSize], policy: UniformPolicy(.big)))
        XCTAssertThrowsError(try session.forward([], policy: UniformPolicy(.big)))
        XCTAssertEqual(session.position, 0)
        let llama = try Fixtures.model("tiny-model-bf16-llama")
        XCTAssertThrowsError(try InferenceSession(model: llama).forward([1, 2], policy: UniformPolicy(.small))) { error in
            XCTAssertTrue("\(error)".contains("no small FFN"), "\(error)")
        }
    }
}
