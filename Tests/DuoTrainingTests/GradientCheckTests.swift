import DuoEngine
import XCTest

@testable import DuoTraining

/// Finite-difference checks of every backward kernel and of the whole model's gradients.
final class GradientCheckTests: XCTestCase {
    private var rng = SplitMix64(seed: 11)

    private func randomTensor(_ shape: [Int], scale: Float = 1) -> Tensor {
        let t = Tensor(shape: shape)
        for i in 0..<t.count { t.data[i] = scale * Float(rng.nextUnit() * 2 - 1) }
        return t
    }

    private func dot(_ a: Tensor, _ b: Tensor) -> Double {
        var s = 0.0
        for i in 0..<a.count { s += Double(a.data[i]) * Double(b.data[i]) }
        return s
    }

    /// Central difference of `loss` along each coordinate of `x`, compared with `analytic`.
    private func checkCoordinates(
        _ x: Tensor, analytic: Tensor, eps: Float = 1e-2, tolerance: Double = 2e-3,
        _ loss: () -> Double, file: StaticString = #filePath, line: UInt = #line
    ) {
        for i in 0..<x.count {
            let saved = x.data[i]
            x.data[i] = saved + eps
            let plus = loss()
            x.data[i] = saved - eps
            let minus = loss()
            x.data[i] = saved
            let numeric = (plus - minus) / Double(2 * eps)
            XCTAssertEqual(
                Double(analytic.data[i]), numeric, accuracy: tolerance * max(1, abs(numeric)),
                "coordinate \(i)", file: file, line: line)
        }
    }

    func testRMSNormBackward() {
        let rows = 3
        let width = 8
        let x = randomTensor([rows, width])
        let w = randomTensor([width])
        let r = randomTensor([rows, width])
        let y = Tensor(shape: [rows, width])
        let inv = Tensor(shape: [rows])
        func loss() -> Double {
            Ops.rmsNorm(x.data, rows: rows, width: width, weight: w.data, eps: 1e-5, into: y.data, inverseRMS: inv.data)
            return dot(y, r)
        }
        _ = loss()
        let dx = Tensor(shape: [rows, width])
        let dw = Tensor(shape: [width])
        BackwardOps.rmsNormBackward(
            dy: r.data, x: x.data, inverseRMS: inv.data, weight: w.data, rows: rows, width: width,
            dx: dx.data, dw: dw.data)
        checkCoordinates(x, analytic: dx, loss)
        checkCoordinates(w, analytic: dw, loss)
    }

    func testSwiGLUBackward() {
        let n = 16
        let g = randomTensor([n], scale: 3)
        let u = randomTensor([n])
        let r = randomTensor([n])
        let act = Tensor(shape: [n])
        func loss() -> Double {
            Ops.swiglu(gate: g.data, up: u.data, into: act.data, count: n)
            return dot(act, r)
        }
        let dg = Tensor(shape: [n], values: r.array)
        let du = Tensor(shape: [n])
        BackwardOps.swigluBackward(dact: dg.data, gate: g.data, up: u.data, du: du.data, count: n)
        checkCoordinates(g, analytic: dg, loss)
        checkCoordinates(u, analytic: du, loss)
    }

    /// The C kernels of SwiGLU's, softmax's and RMSNorm's backward at every instruction set this
    /// machine runs, against the formulas in doubles, over lengths with a ragged tail.
    func testBackwardKernelsAtEverySIMDLevel() {
        for simd in SIMDLevel.supported {
            for count in [1, 15, 16, 37, 200] {
                let (d, g, u) = (randomTensor([count]), randomTensor([count], scale: 4), randomTensor([count]))
                let (dg, du) = (Tensor(shape: [count], values: d.array), Tensor(shape: [count]))
                BackwardOps.swigluBackward(dact: dg.data, gate: g.data, up: u.data, du: du.data, count: count, simd: simd)
                for i in 0..<count {
                    let (di, gi, ui) = (Double(d.data[i]), Double(g.data[i]), Double(u.data[i]))
                    let s = 1 / (1 + exp(-gi))
                    XCTAssertEqual(Double(du.data[i]), di * gi * s, accuracy: 1e-5, "\(simd.name) du[\(i)] of \(count)")
                    XCTAssertEqual(Double(dg.data[i]), di * ui * s * (1 + gi * (1 - s)), accuracy: 1e-5, "\(simd.name) dg[\(i)]")
                }

                let p = randomTensor([count])
                for i in 0..<count { p.data[i] = abs(p.data[i]) }
                let dp = randomTensor([count])
                let expected = (0..<count).map { i in
                    Double(p.data[i]) * (Double(dp.data[i]) - (0..<count).reduce(0.0) { $0 + Double(p.data[$1]) * Double(dp.data[$1]) })
                }
                BackwardOps.softmaxBackward(p.data, dp.data, count: count, simd: simd)
                for i in 0..<count { XCTAssertEqual(Double(dp.data[i]), expected[i], accuracy: 1e-4, "\(simd.name) softmax \(i)") }

                let rows = 3
                let (dy, x, w) = (randomTensor([rows, count]), randomTensor([rows, count]), randomTensor([count]))
                let inverse = Tensor(shape: [rows], values: [0.5, 1.25, 2])
                let (dx, dw) = (randomTensor([rows, count]), randomTensor([count]))
                let (dx0, dw0) = (dx.array, dw.array)
                BackwardOps.rmsNormBackward(
                    dy: dy.data, x: x.data, inverseRMS: inverse.data, weight: w.data, rows: rows, width: count, dx: dx.data,
                    dw: dw.data, simd: simd)
                var dwExpected = dw0.map(Double.init)
                for r in 0..<rows {
                    let rr = Double(inverse.data[r])
                    let dyr = (0..<count).map { Double(dy.row(r)[$0]) }
                    let xr = (0..<count).map { Double(x.row(r)[$0]) }
                    let dot = (0..<count).reduce(0.0) { $0 + dyr[$1] * Double(w.data[$1]) * xr[$1] }
                    for i in 0..<count {
                        let expected =
                            Double(dx0[r * count + i]) + dyr[i] * Double(w.data[i]) * rr - xr[i] * dot * rr * rr * rr / Double(count)
                        XCTAssertEqual(Double(dx.row(r)[i]), expected, accuracy: 1e-4, "\(simd.name) dx[\(r), \(i)]")
                        dwExpected[i] += dyr[i] * xr[i] * rr
                    }
                }
                for i in 0..<count { XCTAssertEqual(Double(dw.data[i]), dwExpected[i], accuracy: 1e-4, "\(simd.name) dw[\(i)]") }
            }
        }
    }

    /// One head's attention backward over several causal blocks (the last one ragged), with and
    /// without a sliding window reaching across a block boundary: dq, dk, dv against central
    /// differences of `LayerKernels.attendHead`, with the rows strided as in a layer's buffers;
    /// at every SIMD level (packed keys and values where the packed product is used, else BLAS),
    /// for a head size of whole 32-wide panels (32) and one of a part of a panel (4).
    func testAttentionBackwardOverSeveralBlocks() {
        for (hd, width) in [(4, 6), (32, 35)] { checkAttentionBackward(headDim: hd, width: width) }
    }

    private func checkAttentionBackward(headDim hd: Int, width: Int) {
        let rows = 2 * LayerKernels.causalBlock + 7
        for simd in SIMDLevel.supported {
            for window in [nil, LayerKernels.causalBlock + 3] as [Int?] {
                let q = randomTensor([rows, width])
                let k = randomTensor([rows, width])
                let v = randomTensor([rows, width])
                let r = randomTensor([rows, width])
                let probabilities = Tensor(shape: [rows, rows])
                let out = Tensor(shape: [rows, width])
                let attendScratch = Tensor(shape: [LayerKernels.attendScratchCount(rows: rows, context: rows, headDim: hd)])
                func loss() -> Double {
                    LayerKernels.attendHead(
                        q: q.data, qStride: width, rows: rows, first: 0, keys: k.data, values: v.data, kvStride: width, headDim: hd,
                        window: window, probabilities: probabilities.data, out: out.data, outStride: width,
                        scratch: attendScratch.data, simd: simd)
                    var sum = 0.0
                    for t in 0..<rows { for i in 0..<hd { sum += Double(out.row(t)[i]) * Double(r.row(t)[i]) } }
                    return sum
                }
                _ = loss()
                let (dq, dk, dv) = (Tensor(shape: [rows, width]), Tensor(shape: [rows, width]), Tensor(shape: [rows, width]))
                let scratch = Tensor(shape: [rows, rows])
                BackwardOps.attendHeadBackward(
                    q: q.data, qStride: width, keys: k.data, values: v.data, kvStride: width, rows: rows, headDim: hd,
                    probabilities: probabilities.data, dOut: r.data, dOutStride: width, scratch: scratch.data,
                    dQ: dq.data, dK: dk.data, dV: dv.data, simd: simd)
                for (x, analytic) in [(q, dq), (k, dk), (v, dv)] {
                    for t in stride(from: 0, to: rows, by: 5) {
                        for i in 0..<hd {
                            let saved = x.row(t)[i]
                            x.row(t)[i] = saved + 1e-2
                            let plus = loss()
                            x.row(t)[i] = saved - 1e-2
                            let minus = loss()
                            x.row(t)[i] = saved
                            let numeric = (plus - minus) / 2e-2
                            XCTAssertEqual(
                                Double(analytic.row(t)[i]), numeric, accuracy: 2e-3 * max(1, abs(numeric)),
                                "\(simd.name) hd \(hd) window \(String(describing: window)), row \(t), column \(i)")
                        }
                    }
                }
            }
        }
    }

    func testRoPEInverseIsTheAdjoint() {
        let table = RoPETable(headDim: 8, positions: 20, inverseFrequencies: RoPEScaling.none.inverseFrequencies(headDim: 8, theta: 10000))
        for position in [0, 1, 7, 19] {
            let x = randomTensor([3 * 8])
            let r = randomTensor([3 * 8])
            let rx = Tensor(shape: [24], values: x.array)
            table.apply(rx.data, heads: 3, position: position)
            let rr = Tensor(shape: [24], values: r.array)
            table.applyInverse(rr.data, heads: 3, position: position)
            XCTAssertEqual(dot(rx, r), dot(x, rr), accuracy: 1e-5)
            table.applyInverse(rx.data, heads: 3, position: position)
            for i in 0..<24 { XCTAssertEqual(rx.data[i], x.data[i], accuracy: 1e-5) }
        }
    }

    /// The whole model: for every parameter tensor, the directional derivative along the
    /// gradient and along a random sign vector equals the finite difference of the loss.
    func testWholeModelGradientsMatchFiniteDifferences() throws {
        try checkWholeModel(
            ModelConfig(
                vocabSize: 50, hiddenSize: 16, intermediateSize: 32, smallIntermediateSize: 4,
                numLayers: 3, numHeads: 4, numKVHeads: 2, maxPositions: 16, rmsNormEps: 1e-5))
    }

    /// The same with Qwen2's q/k/v biases and a sliding window (3 of 6 positions) on layers 1 and 2,
    /// and with Mistral's window on every layer.
    func testGradientsWithBiasesAndSlidingWindows() throws {
        try checkWholeModel(
            ModelConfig(
                vocabSize: 50, hiddenSize: 16, intermediateSize: 32, smallIntermediateSize: 4,
                numLayers: 3, numHeads: 4, numKVHeads: 2, maxPositions: 16, rmsNormEps: 1e-5,
                family: .qwen2, slidingWindow: 3, slidingWindowLayers: [1, 2]))
        try checkWholeModel(
            ModelConfig(
                vocabSize: 50, hiddenSize: 16, intermediateSize: 32, smallIntermediateSize: 4,
                numLayers: 2, numHeads: 4, numKVHeads: 2, maxPositions: 16, rmsNormEps: 1e-5,
                family: .mistral, slidingWindow: 2))
    }

    /// Sequences longer than an attention block.
    func testWholeModelGradientsOverSeveralAttentionBlocks() throws {
        try checkWholeModel(
            ModelConfig(
                vocabSize: 50, hiddenSize: 16, intermediateSize: 32, smallIntermediateSize: 4,
                numLayers: 2, numHeads: 4, numKVHeads: 2, maxPositions: 80, rmsNormEps: 1e-5),
            length: 2 * LayerKernels.causalBlock + 5, eps: 2e-3)
    }

    /// The step split into groups of sequences run side by side (`TrainingGraph.shardCount`)
    /// gives the loss and every gradient of the step run as one group: five sequences in one,
    /// two (3 + 2), three and five groups. Not bit for bit: BLAS rounds a row differently in
    /// products of different shapes (measured: about 1e-7 of a tensor's largest value).
    func testGroupsOfSequencesGiveTheSameLossAndGradients() throws {
        let config = ModelConfig(
            vocabSize: 50, hiddenSize: 16, intermediateSize: 32, smallIntermediateSize: 4,
            numLayers: 3, numHeads: 4, numKVHeads: 2, maxPositions: 80, rmsNormEps: 1e-5,
            family: .qwen2, slidingWindow: 40, slidingWindowLayers: [1])
        let weights = RandomInit.weights(config, seed: 9, std: 0.3)
        let (batch, length) = (5, LayerKernels.causalBlock + 7)
        let inputs = (0..<(batch * length)).map { _ in Int(rng.next() % 50) }
        let targets = (0..<(batch * length)).map { _ in Int(rng.next() % 50) }
        let routeChoices: [Route] = [.skip, .small, .big]
        let routes = (0..<(batch * length * config.numLayers)).map { _ in routeChoices[Int(rng.next() % 3)] }
        func run(groups: Int) -> (Double, [(String, [Float])]) {
            let graph = TrainingGraph(config: config, batch: batch, length: length)
            graph.shardCount = groups
            let gradients = weights.zerosLike(config)
            let loss = graph.run(weights: weights, inputs: inputs, targets: targets, routes: routes, gradients: gradients)
            return (loss, gradients.named(config).map { ($0.0, $0.1.array) })
        }
        let (loss, gradients) = run(groups: 1)
        XCTAssertTrue(gradients.allSatisfy { $0.1.contains { $0 != 0 } })
        for groups in [2, 3, 5] {
            let (groupedLoss, grouped) = run(groups: groups)
            XCTAssertEqual(groupedLoss, loss, accuracy: 1e-6 * loss, "\(groups) groups: loss")
            for ((name, want), (_, got)) in zip(gradients, grouped) {
                let largest = want.map(abs).max() ?? 0
                let worst = zip(got, want).map { abs($0 - $1) }.max() ?? 0
                XCTAssertLessThanOrEqual(worst, 1e-5 * largest, "\(groups) groups: \(name)")
            }
        }
    }

    private func checkWholeModel(_ config: ModelConfig, length: Int = 6, eps: Float = 1e-2) throws {
        let weights = RandomInit.weights(config, seed: 5, std: 0.3)
        let batch = 2
        let inputs = (0..<(batch * length)).map { _ in Int(rng.next() % 50) }
        let targets = (0..<(batch * length)).map { _ in Int(rng.next() % 50) }
        let routeChoices: [Route] = [.skip, .small, .big]
        var routes = (0..<(batch * length * config.numLayers)).map { _ in routeChoices[Int(rng.next() % 3)] }
        routes[0] = .skip
        routes[1] = .small
        routes[2] = .big
        let graph = TrainingGraph(config: config, batch: batch, length: length)
        let gradients = weights.zerosLike(config)
        _ = graph.run(weights: weights, inputs: inputs, targets: targets, routes: routes, gradients: gradients)
        func loss() -> Double { graph.run(weights: weights, inputs: inputs, targets: targets, routes: routes, gradients: nil) }

        for ((name, parameter), (_, gradient)) in zip(weights.named(config), gradients.named(config)) {
            let norm = dot(gradient, gradient).squareRoot()
            XCTAssertGreaterThan(norm, 0, "\(name) has a zero gradient")
            var signs = [Float](repeating: 0, count: parameter.count)
            for i in signs.indices { signs[i] = rng.next() % 2 == 0 ? 1 : -1 }
            let directions = [gradient.array.map { $0 / Float(norm) }, signs.map { $0 / Float(parameter.count).squareRoot() }]
            for direction in directions {
                let saved = parameter.array
                for i in 0..<parameter.count { parameter.data[i] = saved[i] + eps * direction[i] }
                let plus = loss()
                for i in 0..<parameter.count { parameter.data[i] = saved[i] - eps * direction[i] }
                let minus = loss()
                for i in 0..<parameter.count { parameter.data[i] = saved[i] }
                let numeric = (plus - minus) / Double(2 * eps)
                let analytic = zip(gradient.array, direction).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                XCTAssertEqual(analytic, numeric, accuracy: 1e-2 * abs(analytic) + 1e-4, name)
            }
        }
    }
}

/// Router gradients under soft mixing (stage 3), model frozen, budget penalty included.
final class RouterGradientTests: XCTestCase {
    func testRouterGradientsMatchFiniteDifferences() throws {
        for routes in [[Route.small, .big], [Route.skip, .small, .big]] {
            let config = ModelConfig(
                vocabSize: 40, hiddenSize: 16, intermediateSize: 32, smallIntermediateSize: 4,
                numLayers: 3, numHeads: 4, numKVHeads: 2, maxPositions: 16, rmsNormEps: 1e-5)
            let weights = RandomInit.weights(config, seed: 8, std: 0.3)
            var rng = SplitMix64(seed: 2)
            let router = RouterWeights(routes: routes, layers: 3, hidden: 16)
            for (_, t) in router.named { for i in 0..<t.count { t.data[i] = Float(rng.nextUnit() - 0.5) } }
            let mixing = RouterMixing(router: router, config: config, temperature: 0.7, budget: 0.3, alpha: 5)
            let (batch, length) = (2, 5)
            let inputs = (0..<10).map { _ in Int(rng.next() % 40) }
            let targets = (0..<10).map { _ in Int(rng.next() % 40) }
            let graph = TrainingGraph(config: config, batch: batch, length: length)
            _ = graph.run(weights: weights, inputs: inputs, targets: targets, routing: .soft(mixing), gradients: nil)
            XCTAssertGreaterThan(mixing.penalty, 0)
            func loss() -> Double {
                let probe = RouterMixing(router: router, config: config, temperature: 0.7, budget: 0.3, alpha: 5)
                return graph.run(weights: weights, inputs: inputs, targets: targets, routing: .soft(probe), gradients: nil)
            }
            for ((name, parameter), (_, gradient)) in zip(router.named, mixing.gradients.named) {
                for i in 0..<parameter.count {
                    let saved = parameter.data[i]
                    let eps: Float = 5e-3
                    parameter.data[i] = saved + eps
                    let plus = loss()
                    parameter.data[i] = saved - eps
                    let minus = loss()
                    parameter.data[i] = saved
                    let numeric = (plus - minus) / Double(2 * eps)
                    XCTAssertEqual(
                        Double(gradient.data[i]), numeric, accuracy: 2e-3 * max(1, abs(numeric)) + 2e-4, "\(routes) \(name)[\(i)]")
                }
            }
        }
    }
}
