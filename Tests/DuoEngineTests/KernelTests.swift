import Foundation
import XCTest

@testable import DuoEngine

/// The element-wise kernels against Double references, and the split matrix product against
/// one BLAS call.
final class KernelTests: XCTestCase {
    func testFastExpMatchesTheReferenceAndClampsOrPropagates() {
        var worst = 0.0
        var x: Float = -87
        while x < 88 {
            let want = Foundation.exp(Double(x))
            worst = max(worst, abs(Double(FastMath.exp(x)) - want) / want / (3e-7 + 8e-8 * Double(abs(x))))
            x += 0.000_731
        }
        XCTAssertLessThan(worst, 1, "relative error within 3e-7 + 8e-8 |x|")
        XCTAssertTrue(FastMath.exp(.nan).isNaN)
        XCTAssertEqual(FastMath.exp(0), 1)
        XCTAssertGreaterThan(FastMath.exp(-1000), 0)
        XCTAssertLessThan(FastMath.exp(-1000), 1e-37)
        XCTAssertTrue(FastMath.exp(1000).isFinite)
        XCTAssertGreaterThan(FastMath.exp(1000), 1e38)
    }

    /// Every instruction set this machine runs (`SIMDLevel.supported`), each against doubles.
    func testLogSumExpSoftmaxAndMaximumAgainstDoublesAtEveryLevel() {
        XCTAssertTrue(SIMDLevel.supported.contains(.active))
        for simd in SIMDLevel.supported {
            var rng = SplitMix64(seed: 7)
            for count in [1, 7, 8, 16, 17, 513, 4099] {
                let values = (0..<count).map { _ in Float(Double(rng.next() % 20_000) / 1000 - 10) }
                let peak = values.map(Double.init).max()!
                let reference = peak + Foundation.log(values.reduce(0.0) { $0 + Foundation.exp(Double($1) - peak) })
                values.withUnsafeBufferPointer { p in
                    XCTAssertEqual(
                        Ops.logSumExp(p.baseAddress!, count: count, simd: simd), reference, accuracy: 1e-5 * max(1, abs(reference)),
                        "\(simd.name), \(count) values")
                    XCTAssertEqual(Ops.maximum(p.baseAddress!, count: count, simd: simd), Float(peak), "\(simd.name)")
                }
                var probabilities = values
                probabilities.withUnsafeMutableBufferPointer { Ops.softmax($0.baseAddress!, count: count, simd: simd) }
                for (p, v) in zip(probabilities, values) {
                    XCTAssertEqual(Double(p), Foundation.exp(Double(v) - reference), accuracy: 1e-6, "\(simd.name)")
                }
            }
            for nanAt in [0, 21, 39] {
                var poisoned: [Float] = Array(repeating: 1, count: 40)
                poisoned[nanAt] = .nan
                XCTAssertTrue(Ops.logSumExp(poisoned, count: 40, simd: simd).isNaN, "\(simd.name)")
                poisoned.withUnsafeMutableBufferPointer { Ops.softmax($0.baseAddress!, count: 40, simd: simd) }
                XCTAssertTrue(poisoned.allSatisfy(\.isNaN), "\(simd.name)")
            }
            XCTAssertEqual(Ops.logSumExp([-Float.infinity, -.infinity], count: 2, simd: simd), -.infinity)
            XCTAssertEqual(Ops.logSumExp([1, .infinity], count: 2, simd: simd), .infinity)
            XCTAssertEqual(Ops.maximum([], count: 0, simd: simd), -.infinity)
        }
    }

    /// The bandwidth probe's sum, in four chains and a tail, against doubles at every level.
    func testReadSumAgainstDoublesAtEveryLevel() {
        var rng = SplitMix64(seed: 11)
        for simd in SIMDLevel.supported {
            for count in [0, 1, 15, 16, 17, 63, 64, 65, 80, 127, 128, 4099] {
                let values = (0..<count).map { _ in Float(Double(rng.next() % 20_000) / 1000 - 10) }
                let reference = values.reduce(0.0) { $0 + Double($1) }
                let sum = Ops.readSum(values, count: count, simd: simd)
                XCTAssertEqual(Double(sum), reference, accuracy: 1e-4 * Double(max(count, 1)), "\(simd.name), \(count) values")
            }
        }
    }

    /// The C kernels' exp (through `exponentiate` with no shift) keeps `FastMath.exp`'s error
    /// bound at every level, and SwiGLU matches silu(g) * u in doubles.
    func testCKernelsExpAndSwiGLUAtEveryLevel() {
        var grid: [Float] = []
        var x: Float = -87
        while x < 88 {
            grid.append(x)
            x += 0.001_37
        }
        for simd in SIMDLevel.supported {
            var exps = grid
            let sum = exps.withUnsafeMutableBufferPointer { Ops.exponentiate($0.baseAddress!, count: grid.count, minus: 0, simd: simd) }
            var worst = 0.0
            for (x, e) in zip(grid, exps) {
                let want = Foundation.exp(Double(x))
                worst = max(worst, abs(Double(e) - want) / want / (3e-7 + 8e-8 * Double(abs(x))))
            }
            XCTAssertLessThan(worst, 1, "\(simd.name): relative error within 3e-7 + 8e-8 |x|")
            XCTAssertEqual(Double(sum), exps.reduce(0.0) { $0 + Double($1) }, accuracy: 1e-5 * Double(sum), "\(simd.name)")
            var clamped: [Float] = [-1000, 1000, .nan, 0]
            _ = clamped.withUnsafeMutableBufferPointer { Ops.exponentiate($0.baseAddress!, count: 4, minus: 0, simd: simd) }
            XCTAssertTrue(clamped[0] > 0 && clamped[0] < 1e-37 && clamped[1] > 1e38 && clamped[1].isFinite, "\(simd.name)")
            XCTAssertTrue(clamped[2].isNaN && clamped[3] == 1, "\(simd.name)")

            var rng = SplitMix64(seed: 3)
            for count in [1, 15, 16, 33, 1000] {
                let gate = (0..<count).map { _ in Float(Double(rng.next() % 40_000) / 1000 - 20) }
                let up = (0..<count).map { _ in Float(Double(rng.next() % 2000) / 1000 - 1) }
                var act = [Float](repeating: 0, count: count)
                Ops.swiglu(gate: gate, up: up, into: &act, count: count, simd: simd)
                for i in 0..<count {
                    let g = Double(gate[i])
                    XCTAssertEqual(Double(act[i]), g / (1 + Foundation.exp(-g)) * Double(up[i]), accuracy: 1e-5, "\(simd.name)")
                }
            }
        }
    }

    /// RMSNorm in C at every level equals the formula in doubles, for widths with and without a
    /// partial last vector, with and without the inverse RMS kept, and in place.
    func testRMSNormAgainstDoublesAtEveryLevel() {
        var rng = SplitMix64(seed: 11)
        for simd in SIMDLevel.supported {
            for width in [1, 7, 16, 31, 192, 200] {
                let rows = 3
                let x = (0..<(rows * width)).map { _ in Float(Double(rng.next() % 4000) / 1000 - 2) }
                let weight = (0..<width).map { _ in Float(Double(rng.next() % 2000) / 1000) }
                var y = [Float](repeating: .nan, count: rows * width)
                var inverse = [Float](repeating: .nan, count: rows)
                Ops.rmsNorm(x, rows: rows, width: width, weight: weight, eps: 1e-5, into: &y, inverseRMS: &inverse, simd: simd)
                var alone = [Float](repeating: .nan, count: rows * width)
                Ops.rmsNorm(x, rows: rows, width: width, weight: weight, eps: 1e-5, into: &alone, simd: simd)
                XCTAssertEqual(alone, y, "\(simd.name) width \(width): the same without the inverse RMS")
                var inPlace = x
                inPlace.withUnsafeMutableBufferPointer { b in
                    Ops.rmsNorm(b.baseAddress!, rows: rows, width: width, weight: weight, eps: 1e-5, into: b.baseAddress!, simd: simd)
                }
                XCTAssertEqual(inPlace, y, "\(simd.name) width \(width): the same in place")
                for r in 0..<rows {
                    let row = x[(r * width)..<((r + 1) * width)].map(Double.init)
                    let want = 1 / (row.reduce(0) { $0 + $1 * $1 } / Double(width) + 1e-5).squareRoot()
                    XCTAssertEqual(Double(inverse[r]), want, accuracy: 1e-6 * want, "\(simd.name) width \(width) row \(r)")
                    for i in 0..<width {
                        XCTAssertEqual(
                            Double(y[r * width + i]), row[i] * want * Double(weight[i]), accuracy: 1e-5, "\(simd.name) width \(width)")
                    }
                }
            }
        }
    }

    /// Fills `tensor` with values in [-1, 1) from `rng`.
    private func randomize(_ tensor: Tensor, _ rng: inout SplitMix64) {
        for i in 0..<tensor.count { tensor.data[i] = Float(Double(rng.next() % 2000) / 1000 - 1) }
    }

    /// `product(y)` writes x W^T into (or, with `accumulate`, onto) y [rows, weight.rows];
    /// asserts it equals one BLAS call, both starting from the same non-zero y.
    private func assertEqualsOneBLASCall(
        x: Tensor, rows: Int, weight: Tensor, accumulate: Bool, _ label: String,
        _ product: (UnsafeMutablePointer<Float>) -> Void
    ) {
        let want = Tensor(shape: [rows, weight.rows])
        let got = Tensor(shape: [rows, weight.rows])
        for i in 0..<want.count {
            want.data[i] = Float(i % 13)
            got.data[i] = Float(i % 13)
        }
        BLAS.linear(x.data, rows: rows, weight: weight, into: want.data, accumulate: accumulate)
        product(got.data)
        for i in 0..<want.count {
            XCTAssertEqual(got.data[i], want.data[i], accuracy: 1e-4, "\(label), \(rows) rows, element \(i)")
        }
    }

    func testSplitLinearEqualsOneBLASCall() {
        var rng = SplitMix64(seed: 11)
        for (out, inner) in [(768, 192), (64, 192), (4096, 192), (48, 192)] {
            let weight = Tensor(shape: [out, inner])
            randomize(weight, &rng)
            for rows in [1, 3, 40, 300] {
                let x = Tensor(shape: [rows, inner])
                randomize(x, &rng)
                for accumulate in [false, true] {
                    assertEqualsOneBLASCall(x: x, rows: rows, weight: weight, accumulate: accumulate, "\(out)x\(inner)") { y in
                        LayerKernels.splitLinear(x.data, rows, weight, y, accumulate)
                    }
                }
            }
        }
    }

    /// A group of products sharing its input (q, k and v; gate and up with the SwiGLU epilogue)
    /// equals one BLAS call per product, by every way of running it, packed or not, split or
    /// not; the epilogue sees every output column exactly once, after the products wrote it.
    func testProductGroupsEqualOneBLASCallEach() {
        var rng = SplitMix64(seed: 13)
        let inner = 96
        let ways: [(String, LayerKernels.Linear)] = [
            ("blas", LayerKernels.blasLinear), ("split", LayerKernels.splitLinear), ("local", LayerKernels.localLinear),
            ("splitBLAS", LayerKernels.splitBLASLinear),
        ]
        for (outputs, withEpilogue) in [([192, 64, 64], false), ([768, 768], true), ([48, 48], true)] {
            let weights = outputs.map { Tensor(shape: [$0, inner]) }
            for w in weights { randomize(w, &rng) }
            for rows in [1, 3, 40, 300, 600] {
                let x = Tensor(shape: [rows, inner])
                randomize(x, &rng)
                let want = weights.map { w in
                    let y = Tensor(shape: [rows, w.rows])
                    BLAS.linear(x.data, rows: rows, weight: w, into: y.data, accumulate: false)
                    return y
                }
                if withEpilogue { Ops.swiglu(gate: want[0].data, up: want[1].data, into: want[0].data, count: want[0].count) }
                for (name, linear) in ways {
                    let got = weights.map { Tensor(shape: [rows, $0.rows]) }
                    let seen = UnsafeMutablePointer<Int>.allocate(capacity: outputs[0])
                    seen.initialize(repeating: 0, count: outputs[0])
                    defer { seen.deallocate() }
                    let products = zip(weights, got).map { LayerKernels.Product($0, into: $1.data) }
                    let width = outputs[0]
                    let (gate, up) = (got[0].data, got[got.count - 1].data)
                    linear(
                        x.data, rows: rows, products, accumulate: false,
                        then: withEpilogue
                            ? { columns in
                                for c in columns { seen[c] += 1 }
                                for i in 0..<rows {
                                    let at = i * width + columns.lowerBound
                                    Ops.swiglu(gate: gate + at, up: up + at, into: gate + at, count: columns.count)
                                }
                            } : nil)
                    if withEpilogue {
                        XCTAssertEqual((0..<width).filter { seen[$0] != 1 }, [], "\(name), \(rows) rows: columns not seen once")
                    }
                    for (j, (g, w)) in zip(got, want).enumerated() {
                        let worst = (0..<w.count).map { abs(g.data[$0] - w.data[$0]) }.max()!
                        XCTAssertLessThan(worst, 1e-4, "\(name), outputs \(outputs), product \(j), \(rows) rows")
                    }
                }
            }
        }
    }

    /// `SplitGEMM`'s three products, cut along the longer side or the columns, against one BLAS
    /// call: shapes above the split threshold with sides off the 16-element blocks, scaling and
    /// accumulation.
    func testSplitProductsEqualOneBLASCall() {
        var rng = SplitMix64(seed: 12)
        for (m, n, k) in [(517, 70, 40), (70, 517, 40), (300, 300, 20)] {
            for cut in [SplitGEMM.Cut.longerSide, .columns] {
                let a = Tensor(shape: [m * k])
                let b = Tensor(shape: [n * k])
                randomize(a, &rng)
                randomize(b, &rng)
                for transposed in 0..<3 {
                    let want = Tensor(shape: [m, n])
                    randomize(want, &rng)
                    let got = Tensor(shape: [m, n], values: want.array)
                    switch transposed {
                    case 0:
                        BLAS.gemmABt(m: m, n: n, k: k, a: a.data, lda: k, b: b.data, ldb: k, c: want.data, ldc: n, alpha: 0.5, beta: 1)
                        SplitGEMM.gemmABt(
                            m: m, n: n, k: k, a: a.data, lda: k, b: b.data, ldb: k, c: got.data, ldc: n, alpha: 0.5, beta: 1, cut: cut)
                    case 1:
                        BLAS.gemmAB(m: m, n: n, k: k, a: a.data, lda: k, b: b.data, ldb: n, c: want.data, ldc: n, alpha: 0.5, beta: 1)
                        SplitGEMM.gemmAB(m: m, n: n, k: k, a: a.data, lda: k, b: b.data, ldb: n, c: got.data, ldc: n, alpha: 0.5, beta: 1)
                    default:
                        BLAS.gemmAtB(m: m, n: n, k: k, a: a.data, lda: m, b: b.data, ldb: n, c: want.data, ldc: n, alpha: 0.5, beta: 1)
                        SplitGEMM.gemmAtB(m: m, n: n, k: k, a: a.data, lda: m, b: b.data, ldb: n, c: got.data, ldc: n, alpha: 0.5, beta: 1)
                    }
                    for i in 0..<want.count {
                        XCTAssertEqual(
                            got.data[i], want.data[i], accuracy: 1e-4 * max(1, abs(want.data[i])), "\(m)x\(n)x\(k) \(transposed) \(i)")
                    }
                }
            }
        }
    }

    /// The packed product against one BLAS call at every level this machine runs: ragged shapes
    /// (a last panel cut short, inner sizes off the vector width and off the accumulator sets of
    /// short blocks), every row count up to two blocks (each tail of 1-7 rows has its own
    /// block), accumulation, panel ranges; and a weight written after use is packed afresh once
    /// `weightsChanged()` says so (the optimiser's contract); partial sums over ranges of the
    /// inputs add up to the product.
    func testPackedProductEqualsBLASAtEveryLevelAndFollowsWeightChanges() {
        var rng = SplitMix64(seed: 5)
        for (out, inner) in [(770, 190), (64, 192), (48, 17), (33, 1)] {
            let weight = Tensor(shape: [out, inner])
            randomize(weight, &rng)
            let packed = weight.packedPanels()
            XCTAssertTrue(weight.packedPanels() === packed, "packed once")
            let middle = packed.panelCount / 2
            for rows in Array(1...17) + [130] {
                let x = Tensor(shape: [rows, inner])
                randomize(x, &rng)
                for simd in SIMDLevel.supported {
                    for accumulate in [false, true] {
                        assertEqualsOneBLASCall(x: x, rows: rows, weight: weight, accumulate: accumulate, "\(simd.name) \(out)x\(inner)") {
                            y in
                            packed.product(x.data, rows: rows, into: y, accumulate: accumulate, panels: 0..<middle, simd: simd)
                            packed.product(
                                x.data, rows: rows, into: y, accumulate: accumulate, panels: middle..<packed.panelCount, simd: simd)
                        }
                        // Partial sums over the inputs (a decode step's cores), added up.
                        let cut = inner / 3
                        assertEqualsOneBLASCall(x: x, rows: rows, weight: weight, accumulate: accumulate, "\(simd.name) inputs") { y in
                            let all = 0..<packed.panelCount
                            packed.product(x.data, rows: rows, into: y, accumulate: accumulate, panels: all, over: 0..<cut, simd: simd)
                            packed.product(x.data, rows: rows, into: y, accumulate: true, panels: all, over: cut..<inner, simd: simd)
                        }
                    }
                }
            }
        }
        let weight = Tensor(shape: [64, 32])
        randomize(weight, &rng)
        let x = Tensor(shape: [4, 32])
        randomize(x, &rng)
        let before = Tensor(shape: [4, 64])
        LayerKernels.splitLinear(x.data, 4, weight, before.data, false)
        for i in 0..<weight.count { weight.data[i] *= 2 }
        weight.weightsChanged()
        let after = Tensor(shape: [4, 64])
        LayerKernels.splitLinear(x.data, 4, weight, after.data, false)
        for i in 0..<after.count { XCTAssertEqual(after.data[i], 2 * before.data[i], accuracy: 1e-4) }
    }

    /// One attention head against a Double reference at every level this machine runs (the fused
    /// kernel above the baseline, BLAS there): queries after a cached prefix, ragged last blocks,
    /// decode rows, sliding windows that start inside a panel of keys and cross several
    /// blocks, and head sizes on and off the 32-wide panels; the weights, where asked for, equal
    /// the reference's (0 where masked).
    func testAttentionHeadEqualsTheReferenceAtEveryLevel() {
        var rng = SplitMix64(seed: 9)
        let cases: [(headDim: Int, first: Int, rows: Int, window: Int?, own: Bool)] = [
            (32, 0, 150, nil, false), (40, 30, 70, nil, false), (64, 5, 66, 20, false), (8, 0, 3, nil, false),
            (32, 40, 1, nil, false), (32, 40, 1, 7, false), (96, 0, 77, 45, false), (32, 3, 9, 1, false), (8, 20, 13, 9, false),
            (20, 0, 40, nil, false),
            // Decode rows whose dot products run 16 keys at a time, head sizes off the 16-wide vectors.
            (20, 50, 1, nil, false), (40, 37, 1, 20, false), (96, 33, 1, nil, false), (8, 70, 1, 40, false),
            // An oracle tree's prefixes of one token: every query at `first`, each with its own key and value there.
            (32, 0, 5, nil, true), (32, 45, 70, nil, true), (20, 33, 1, nil, true), (40, 64, 9, 20, true), (8, 31, 17, 1, true),
            (96, 7, 200, 3, true),
        ]
        for (headDim, first, rows, window, own) in cases {
            let context = own ? first + 1 : first + rows
            let (qStride, kvStride, outStride, ownStride) = (headDim + 3, headDim + 5, headDim + 7, headDim + 2)
            let q = Tensor(shape: [rows, qStride])
            let keys = Tensor(shape: [context, kvStride])
            let values = Tensor(shape: [context, kvStride])
            let ownKeys = Tensor(shape: [rows, ownStride])
            let ownValues = Tensor(shape: [rows, ownStride])
            for t in [q, keys, values, ownKeys, ownValues] { randomize(t, &rng) }
            // The reference: softmax over the visible keys (within the window) of scaled dot products;
            // with own keys, row i's key and value at `first` are its own.
            func key(_ i: Int, _ s: Int) -> UnsafeMutablePointer<Float> { own && s == first ? ownKeys.row(i) : keys.row(s) }
            func value(_ i: Int, _ s: Int) -> UnsafeMutablePointer<Float> { own && s == first ? ownValues.row(i) : values.row(s) }
            var expected = [Double](repeating: 0, count: rows * headDim)
            var expectedWeights = [Double](repeating: 0, count: rows * context)
            for i in 0..<rows {
                let position = own ? first : first + i
                let lowest = window.map { max(0, position - $0 + 1) } ?? 0
                var scores = [Double](repeating: -.infinity, count: context)
                for s in lowest...position {
                    var dot = 0.0
                    for d in 0..<headDim { dot += Double(q.row(i)[d]) * Double(key(i, s)[d]) }
                    scores[s] = dot / Double(headDim).squareRoot()
                }
                let top = scores.max()!
                let weights = scores.map { exp($0 - top) }
                let sum = weights.reduce(0, +)
                for s in 0..<context {
                    expectedWeights[i * context + s] = weights[s] / sum
                    for d in 0..<headDim { expected[i * headDim + d] += weights[s] / sum * Double(value(i, s)[d]) }
                }
            }
            let scratch = Tensor(shape: [LayerKernels.attendScratchCount(rows: rows, context: context, headDim: headDim)])
            for simd in SIMDLevel.supported {
                for keepWeights in [true, false] {
                    let label = "\(simd.name) hd \(headDim) first \(first) rows \(rows) window \(String(describing: window)) own \(own)"
                    let out = Tensor(shape: [rows, outStride])
                    let probabilities = Tensor(shape: [rows, context])
                    for i in 0..<(rows * context) { probabilities.data[i] = .nan }
                    LayerKernels.attendHead(
                        q: q.data, qStride: qStride, rows: rows, first: first, keys: keys.data, values: values.data,
                        kvStride: kvStride, own: own ? .init(keys: ownKeys.data, values: ownValues.data, stride: ownStride) : nil,
                        headDim: headDim, window: window, probabilities: keepWeights ? probabilities.data : nil,
                        out: out.data, outStride: outStride, scratch: scratch.data, simd: simd)
                    for i in 0..<rows {
                        for d in 0..<headDim {
                            XCTAssertEqual(Double(out.row(i)[d]), expected[i * headDim + d], accuracy: 1e-5, "\(label) row \(i) dim \(d)")
                        }
                        for s in 0..<context where keepWeights {
                            let weight = probabilities.row(i)[s]
                            XCTAssertEqual(Double(weight), expectedWeights[i * context + s], accuracy: 1e-6, "\(label) weight \(i), \(s)")
                            if expectedWeights[i * context + s] == 0 { XCTAssertEqual(weight, 0, "\(label): masked keys weigh 0") }
                        }
                    }
                    if !keepWeights { XCTAssertTrue(probabilities.data[0].isNaN, "\(label): no weights written when none are asked for") }
                }
            }
        }
    }
}
