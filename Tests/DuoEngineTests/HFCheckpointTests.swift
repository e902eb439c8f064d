import XCTest

@testable import DuoEngine

/// Checkpoints written by HF transformers' own `save_pretrained` (scripts/make_hf_checkpoints.py):
/// each runs with transformers' per-token losses (1e-4), or is refused with one line naming the
/// file and the key or tensor.
final class HFCheckpointTests: XCTestCase {
    struct Golden: Decodable {
        struct Case: Decodable {
            let expect: String
            let losses: [Double]?
            let error: String?
        }
        let transformers: String
        let ids: [Int]
        let cases: [String: Case]
    }

    static let directory = Fixtures.url("hf-checkpoints")

    private func golden() throws -> Golden {
        try JSONDecoder().decode(Golden.self, from: Data(contentsOf: Self.directory.appendingPathComponent("golden.json")))
    }

    private func losses(_ model: DuoModel, _ ids: [Int]) throws -> [Double] {
        try SequenceEvaluation.run(model: model, ids: ids, policy: UniformPolicy(.big)).losses
    }

    private func maxDifference(_ a: [Double], _ b: [Double]) -> Double {
        zip(a, b).map { abs($0 - $1) }.max() ?? .infinity
    }

    func testEverySupportedCheckpointMatchesTransformers() throws {
        let golden = try golden()
        let supported = golden.cases.filter { $0.value.expect == "equal" }
        XCTAssertEqual(
            Set(supported.keys),
            [
                "llama-v5", "llama-head-dim", "llama-rope-llama3", "llama-v4-layout", "llama-rope-linear",
                "llama-inv-freq", "mistral-window", "qwen2",
            ])
        for (name, expected) in supported {
            let model = try DuoModel.load(directory: Self.directory.appendingPathComponent(name))
            let got = try losses(model, golden.ids)
            let want = try XCTUnwrap(expected.losses)
            XCTAssertEqual(got.count, want.count, name)
            XCTAssertLessThan(maxDifference(got, want), 1e-4, "\(name) against transformers \(golden.transformers)")
        }
    }

    func testEveryRefusedCheckpointGivesOneLineNamingFileAndKey() throws {
        let golden = try golden()
        let refused = golden.cases.filter { $0.value.expect == "refused" }
        XCTAssertEqual(
            Set(refused.keys),
            [
                "refuse-rope-dynamic", "refuse-rope-yarn", "refuse-rope-longrope", "refuse-model-type",
                "refuse-extra-tensor", "refuse-attention-bias",
            ])
        for (name, expected) in refused {
            let directory = Self.directory.appendingPathComponent(name)
            XCTAssertThrowsError(try DuoModel.load(directory: directory), name) { error in
                guard let error = error as? DuoError else { return XCTFail("\(name): \(error) is not a DuoError") }
                let line = error.description
                XCTAssertTrue(line.contains(expected.error!), "\(name): \(line)")
                XCTAssertTrue(line.hasPrefix(directory.path + "/"), "\(name) names the file: \(line)")
                XCTAssertFalse(line.contains("\n"))
            }
        }
    }

    /// The fixtures exercise what they claim: running them without the feature gives other losses.
    func testEachFeatureChangesTheLosses() throws {
        let golden = try golden()
        func variant(_ name: String, _ change: (inout ModelConfig) -> Void) throws -> Double {
            let model = try DuoModel.load(directory: Self.directory.appendingPathComponent(name))
            var config = model.config
            change(&config)
            let naive = DuoModel(config: config, weights: model.weights, tokenizer: nil)
            return maxDifference(try losses(naive, golden.ids), try XCTUnwrap(golden.cases[name]?.losses))
        }
        XCTAssertGreaterThan(try variant("llama-v5") { $0.ropeTheta = 10000 }, 1e-2, "rope_parameters.rope_theta")
        XCTAssertGreaterThan(try variant("llama-rope-llama3") { $0.ropeScaling = .none }, 1e-2, "llama3 scaling")
        XCTAssertGreaterThan(try variant("llama-v4-layout") { $0.ropeScaling = .none }, 1e-2, "rope_scaling")
        XCTAssertGreaterThan(try variant("llama-rope-linear") { $0.ropeScaling = .none }, 1e-2, "linear scaling")
        XCTAssertGreaterThan(try variant("mistral-window") { $0.slidingWindow = nil }, 1e-2, "sliding window")
        XCTAssertGreaterThan(try variant("qwen2") { $0.slidingWindow = nil }, 1e-2, "qwen2 window on layer 1")
        XCTAssertGreaterThan(try variant("qwen2") { $0.slidingWindowLayers = [0, 1] }, 1e-2, "qwen2 window only on layer 1")
        let qwen = try DuoModel.load(directory: Self.directory.appendingPathComponent("qwen2"))
        XCTAssertEqual(qwen.config.slidingWindowLayers, [1])
        XCTAssertNotNil(qwen.weights.layers[0].qkvBias)
        let head = try DuoModel.load(directory: Self.directory.appendingPathComponent("llama-head-dim"))
        XCTAssertEqual(head.config.headDim, 12)
        XCTAssertEqual(head.config.qWidth, 48)
    }

    /// A window at least as long as the text is the same as none; the decode path (one token at a
    /// time through the KV cache) applies the window exactly as the prefill does.
    func testSlidingWindowInPrefillAndDecode() throws {
        let golden = try golden()
        let model = try DuoModel.load(directory: Self.directory.appendingPathComponent("mistral-window"))
        let ids = golden.ids
        let session = InferenceSession(model: model)
        let prefill = try session.forward(ids, policy: UniformPolicy(.big))
        session.reset()
        var worst: Float = 0
        for (t, id) in ids.enumerated() {
            let logits = try session.forward([id], policy: UniformPolicy(.big))
            for v in 0..<model.config.vocabSize { worst = max(worst, abs(logits.row(0)[v] - prefill.row(t)[v])) }
        }
        XCTAssertLessThan(worst, 1e-4)
        var wide = model.config
        wide.slidingWindow = ids.count
        var none = model.config
        none.slidingWindow = nil
        let a = try losses(DuoModel(config: wide, weights: model.weights, tokenizer: nil), ids)
        let b = try losses(DuoModel(config: none, weights: model.weights, tokenizer: nil), ids)
        XCTAssertEqual(a, b)
    }

    /// The oracle's tree (its own batched attention at one position) against separate forward
    /// passes, at positions inside and beyond the sliding window, with Qwen2's biases.
    func testOracleTreeMatchesForwardPassesWithWindowsAndBiases() throws {
        let ids = try golden().ids
        for name in ["mistral-window", "qwen2", "llama-rope-llama3"] {
            let model = try DuoModel.load(directory: Self.directory.appendingPathComponent(name))
            let session = InferenceSession(model: model)
            _ = try session.forwardHidden(ids, policy: UniformPolicy(.big))
            let tree = OracleTree(model: model)
            for t in [1, 4, 9, 20] {
                let leaves = tree.search(
                    token: ids[t], target: ids[t + 1], cache: session.cache, contextLength: t,
                    constraint: .bigOrSkip(skips: 1))
                XCTAssertEqual(leaves.count, model.config.numLayers, name)
                for leaf in leaves {
                    let single = InferenceSession(model: model)
                    _ = try single.forwardHidden(Array(ids[0..<t]), policy: UniformPolicy(.big))
                    let logits = try single.forward([ids[t]], policy: PatternPolicy(leaf.pattern))
                    let want = Ops.targetLoss(logits.data, count: model.config.vocabSize, target: ids[t + 1])
                    XCTAssertEqual(leaf.loss, want, accuracy: 1e-4, "\(name) \(leaf.pattern) at \(t)")
                }
            }
        }
    }

    /// The RoPE inverse frequencies of each scaling type, against transformers' formulas written
    /// out in double precision (head_dim 16, theta 10000, llama3 with an original context of 64).
    func testRoPEInverseFrequencies() {
        let base = (0..<8).map { 1 / pow(10000.0, Double(2 * $0) / 16) }
        func close(_ got: [Float], _ want: [Double], _ label: String) {
            XCTAssertEqual(got.count, want.count, label)
            for (g, w) in zip(got, want) { XCTAssertEqual(Double(g), w, accuracy: w * 1e-6, label) }
        }
        close(RoPEScaling.none.inverseFrequencies(headDim: 16, theta: 10000), base, "default")
        close(RoPEScaling.linear(factor: 4).inverseFrequencies(headDim: 16, theta: 10000), base.map { $0 / 4 }, "linear")
        let llama3 = base.map { f -> Double in
            let wavelength = 2 * Double.pi / f
            if wavelength < 64.0 / 4 { return f }
            if wavelength > 64.0 / 1 { return f / 8 }
            let smooth = (64 / wavelength - 1) / (4 - 1)
            return (1 - smooth) * f / 8 + smooth * f
        }
        let got = RoPEScaling.llama3(factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 64)
            .inverseFrequencies(headDim: 16, theta: 10000)
        close(got, llama3, "llama3")
        // Positions past the precomputed table are rotated exactly as tabulated ones would be.
        let inv = RoPEScaling.none.inverseFrequencies(headDim: 16, theta: 10000)
        let long = RoPETable(headDim: 16, positions: 1 << 20, inverseFrequencies: inv)
        XCTAssertEqual(long.positions, RoPETable.tabulatedPositions)
        for position in [RoPETable.tabulatedPositions - 1, RoPETable.tabulatedPositions, 100_000] {
            var v = (0..<16).map { Float($0) - 7.5 }
            v.withUnsafeMutableBufferPointer { long.apply($0.baseAddress!, heads: 1, position: position) }
            for i in 0..<8 {
                let angle = Float(position) * inv[i]
                let a = Float(i) - 7.5
                let b = Float(i + 8) - 7.5
                XCTAssertEqual(v[i], a * cosf(angle) - b * sinf(angle), accuracy: 1e-5)
                XCTAssertEqual(v[i + 8], b * cosf(angle) + a * sinf(angle), accuracy: 1e-5)
            }
        }
        // Every branch is taken: kept, divided, and blended.
        XCTAssertTrue(zip(got, base).contains { Double($0) == Double(Float($1)) })
        XCTAssertTrue(zip(got, base).contains { abs(Double($0) - $1 / 8) < 1e-9 })
        XCTAssertTrue(zip(got, base).contains { Double($0) < $1 * 0.99 && Double($0) > $1 / 8 * 1.01 })
    }
}

/// What duoscope writes reads back as the same model: config.json (both RoPE layouts, the
/// family's keys) and the tensors, for every supported family and RoPE type. With
/// DUOSCOPE_KEEP_WRITTEN=DIR the written directories are kept there, for
/// scripts/check_duoscope_models_in_hf.py to load them in transformers.
final class ModelWriterRoundTripTests: XCTestCase {
    func testWrittenModelsReadBackIdentically() throws {
        let keep = ProcessInfo.processInfo.environment["DUOSCOPE_KEEP_WRITTEN"].map { URL(fileURLWithPath: $0) }
        let scratch = try keep ?? Fixtures.temporaryDirectory(self)
        let source = HFCheckpointTests.directory
        let ids = Array(0..<20)
        for name in ["llama-v5", "llama-head-dim", "llama-rope-llama3", "llama-rope-linear", "mistral-window", "qwen2"] {
            let model = try DuoModel.load(directory: source.appendingPathComponent(name))
            let tokenizer = try Data(contentsOf: source.appendingPathComponent(name).appendingPathComponent("tokenizer.json"))
            let target = scratch.appendingPathComponent(name)
            try ModelWriter.write(config: model.config, weights: model.weights, tokenizerJSON: tokenizer, to: target)
            let again = try DuoModel.load(directory: target)
            XCTAssertEqual(again.config, model.config, name)
            let a = try SequenceEvaluation.run(model: model, ids: ids, policy: UniformPolicy(.big)).losses
            let b = try SequenceEvaluation.run(model: again, ids: ids, policy: UniformPolicy(.big)).losses
            XCTAssertEqual(a, b, name)
        }
    }
}
