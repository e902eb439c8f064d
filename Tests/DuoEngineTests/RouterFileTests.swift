import Foundation
import XCTest

@testable import DuoEngine

final class RouterFileTests: XCTestCase {
    func testRoundTripAndArgmaxPolicy() throws {
        let model = try Fixtures.model("tiny-model")
        let c = model.config
        let router = RouterWeights(
            routes: [.small, .big], layers: c.numLayers, hidden: c.hiddenSize, budget: 0.25, temperature: 0.5, modelName: "tiny-model")
        var rng = SplitMix64(seed: 4)
        for (_, t) in router.named { for i in 0..<t.count { t.data[i] = Float(rng.nextUnit() - 0.5) } }
        router.biases[1].data[1] = 100  // layer 1 always big
        router.biases[2].data[0] = 100  // layer 2 always small
        let url = try Fixtures.temporaryDirectory(self).appendingPathComponent("routers/test.safetensors")
        try router.write(to: url)
        let loaded = try RouterWeights.read(from: url, config: c)
        XCTAssertEqual(loaded.routes, [.small, .big])
        XCTAssertEqual(loaded.budget, 0.25)
        XCTAssertEqual(loaded.temperature, 0.5)
        for ((_, a), (_, b)) in zip(router.named, loaded.named) { XCTAssertEqual(a.array, b.array) }

        let ids = [3, 9, 27, 81, 243, 5]
        let session = InferenceSession(model: model)
        _ = try session.forward(ids, policy: RouterPolicy(router: loaded))
        XCTAssertTrue(session.routes.allSatisfy { $0[1] == .big && $0[2] == .small })
        // Each decision is the argmax of W x + b on the token's actual FFN input, recomputed here.
        let recorder = Recorder(inner: RouterPolicy(router: loaded))
        _ = try InferenceSession(model: model).forward(ids, policy: recorder)
        for (layer, rows) in recorder.inputs.enumerated() {
            for (t, x) in rows.enumerated() {
                let scores = (0..<2).map { r in
                    zip(x, loaded.weights[layer].array[(r * c.hiddenSize)..<((r + 1) * c.hiddenSize)]).reduce(loaded.biases[layer].data[r])
                    { $0 + $1.0 * $1.1 }
                }
                XCTAssertEqual(session.routes[t][layer], scores[1] > scores[0] ? .big : .small, "token \(t) layer \(layer)")
            }
        }
    }

    func testRouterForAnotherModelIsRefused() throws {
        let model = try Fixtures.model("tiny-model")
        let other = RouterWeights(routes: [.small, .big], layers: 3, hidden: 64)
        let url = try Fixtures.temporaryDirectory(self).appendingPathComponent("r.safetensors")
        try other.write(to: url)
        XCTAssertThrowsError(try RouterWeights.read(from: url, config: model.config)) {
            XCTAssertTrue("\($0)".contains("another model"), "\($0)")
            XCTAssertTrue("\($0)".contains(url.path))
        }
        let wide = RouterWeights(routes: [.small, .big], layers: 4, hidden: 32)
        try wide.write(to: url)
        XCTAssertThrowsError(try RouterWeights.read(from: url, config: model.config)) {
            XCTAssertTrue("\($0)".contains("[2, 32]"), "\($0)")
        }
        let llama = try Fixtures.model("tiny-model-bf16-llama")
        let duo = RouterWeights(routes: [.small, .big], layers: 4, hidden: 64)
        try duo.write(to: url)
        XCTAssertThrowsError(try RouterWeights.read(from: url, config: llama.config)) {
            XCTAssertTrue("\($0)".contains("small FFN"), "\($0)")
        }
    }
}

/// Passes decisions through from another policy and keeps the FFN inputs it was shown.
final class Recorder: RoutingPolicy, @unchecked Sendable {  // used by one forward pass on one thread
    let inner: RoutingPolicy
    var inputs: [[[Float]]] = []
    init(inner: RoutingPolicy) { self.inner = inner }
    var name: String { inner.name }
    func routes(layer: Int, positions: Range<Int>, ffnInput: UnsafePointer<Float>, width: Int) -> [Route] {
        inputs.append((0..<positions.count).map { Array(UnsafeBufferPointer(start: ffnInput + $0 * width, count: width)) })
        return inner.routes(layer: layer, positions: positions, ffnInput: ffnInput, width: width)
    }
}
