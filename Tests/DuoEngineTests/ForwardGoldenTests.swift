import XCTest

@testable import DuoEngine

/// The routed forward pass against golden outputs of the independent numpy reference
/// (scripts/make_tiny_models.py, itself checked against HF transformers' LlamaForCausalLM).
final class ForwardGoldenTests: XCTestCase {
    func testPerTokenLossesMatchReferenceForEveryModelAndRouting() throws {
        let golden = try Fixtures.golden()
        XCTAssertEqual(Set(golden.keys), Set(Fixtures.modelNames))
        var checked = 0
        for (name, texts) in golden {
            let model = try Fixtures.model(name)
            for text in texts {
                for golden in text.cases {
                    let result = try SequenceEvaluation.run(model: model, ids: text.ids, policy: MatrixPolicy(golden.matrix))
                    XCTAssertEqual(result.losses.count, golden.losses.count)
                    for (t, (got, want)) in zip(result.losses, golden.losses).enumerated() {
                        XCTAssertEqual(got, want, accuracy: 1e-4, "\(name) \(golden.name) token \(t)")
                    }
                    XCTAssertEqual(result.meanLoss, golden.mean_loss, accuracy: 1e-4, "\(name) \(golden.name)")
                    XCTAssertEqual(result.routes, golden.matrix)
                    checked += 1
                }
            }
        }
        XCTAssertEqual(checked, 2 * (4 + 4 + 2))
    }

    func testAllBigLogitsAndTopPredictionsMatchReference() throws {
        for (name, texts) in try Fixtures.golden() {
            let model = try Fixtures.model(name)
            for text in texts {
                let golden = try XCTUnwrap(text.cases.first { $0.name == "all-big" })
                let session = InferenceSession(model: model)
                let logits = try session.forward(text.ids, policy: UniformPolicy(.big))
                for (t, row) in try XCTUnwrap(golden.logits_first3).enumerated() {
                    var worst = 0.0
                    for (v, want) in row.enumerated() { worst = max(worst, abs(Double(logits.row(t)[v]) - want)) }
                    XCTAssertLessThan(worst, 1e-4, "\(name) position \(t)")
                }
                let result = SequenceEvaluation.score(
                    model: model, ids: text.ids, logits: logits,
                    routes: RouteMatrix(rows: session.routes), topK: 5)
                XCTAssertEqual(result.top.last?.map(\.id), golden.top5_last, name)
                let probabilities = result.top.last!.map(\.probability)
                XCTAssertEqual(probabilities, probabilities.sorted(by: >))
            }
        }
    }

    func testGoldenRoutesExerciseEveryRoute() throws {
        let mixed = try XCTUnwrap(try Fixtures.golden()["tiny-model"]?.first?.cases.first { $0.name == "mixed" })
        XCTAssertEqual(Set(mixed.matrix.values), [.skip, .small, .big])
    }
}
