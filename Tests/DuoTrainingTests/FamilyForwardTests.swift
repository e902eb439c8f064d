import DuoEngine
import TestSupport
import XCTest

@testable import DuoTraining

/// The trainer's forward pass (used by router training on any loaded model) gives transformers'
/// losses on the Mistral (sliding window) and Qwen2 (biases, window on one layer) checkpoints of
/// scripts/make_hf_checkpoints.py, as the inference engine does.
final class FamilyForwardTests: XCTestCase {
    struct Golden: Decodable {
        struct Case: Decodable { let losses: [Double]? }
        let ids: [Int]
        let cases: [String: Case]
    }

    func testTrainingGraphMatchesTransformersOnMistralAndQwen2() throws {
        let directory = FixturePaths.url("hf-checkpoints")
        let golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: directory.appendingPathComponent("golden.json")))
        for name in ["mistral-window", "qwen2", "llama-rope-llama3"] {
            let model = try DuoModel.load(directory: directory.appendingPathComponent(name))
            let want = try XCTUnwrap(golden.cases[name]?.losses)
            let n = golden.ids.count - 1
            let graph = TrainingGraph(config: model.config, batch: 1, length: n)
            let loss = graph.run(
                weights: model.weights, inputs: Array(golden.ids.prefix(n)), targets: Array(golden.ids.dropFirst()),
                routes: Array(repeating: .big, count: n * model.config.numLayers), gradients: nil)
            XCTAssertEqual(loss, want.reduce(0, +) / Double(want.count), accuracy: 1e-4, name)
        }
    }
}
