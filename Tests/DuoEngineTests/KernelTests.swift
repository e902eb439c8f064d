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

    func testLogSumExpSoftmaxAndMaximumAgainstDoubles() {
        var rng = SplitMix64(seed: 7)
        for count in [1, 7, 8, 16, 513, 4099] {
            let values = (0..<count).map { _ in Float(Double(rng.next() % 20_000) / 1000 - 10) }
            let peak = values.map(Double.init).max()!
            let reference = peak + Foundation.log(values.reduce(0.0) { $0 + Foundation.exp(Double($1) - peak) })
            values.withUnsafeBufferPointer { p in
                XCTAssertEqual(Ops.logSumExp(p.baseAddress!, count: count), reference, accuracy: 1e-5 * max(1, abs(reference)))
                XCTAssertEqual(Ops.maximum(p.baseAddress!, count: count), Float(peak))
            }
            var probabilities = values
            probabilities.withUnsafeMutableBufferPointer { Ops.softmax($0.baseAddress!, count: count) }
            for (p, v) in zip(probabilities, values) {
                XCTAssertEqual(Double(p), Foundation.exp(Double(v) - reference), accuracy: 1e-6)
            }
        }
        var poisoned: [Float] = Array(repeating: 1, count: 40)
        poisoned[21] = .nan
        XCTAssertTrue(Ops.logSumExp(poisoned, count: 40).isNaN)
        poisoned.withUnsafeMutableBufferPointer { Ops.softmax($0.baseAddress!, count: 40) }
        XCTAssertTrue(poisoned.allSatisfy(\.isNaN))
        XCTAssertEqual(Ops.logSumExp([-Float.infinity, -.infinity], count: 2), -.infinity)
        XCTAssertEqual(Ops.logSumExp([1, .infinity], count: 2), .infinity)
    }

    func testSplitLinearEqualsOneBLASCall() {
        var rng = SplitMix64(seed: 11)
        for (out, inner) in [(768, 192), (64, 192), (4096, 192), (48, 192)] {
            let weight = Tensor(shape: [out, inner])
            for i in 0..<weight.count { weight.data[i] = Float(Double(rng.next() % 2000) / 1000 - 1) }
            for rows in [1, 3, 40, 300] {
                let x = Tensor(shape: [rows, inner])
                for i in 0..<x.count { x.data[i] = Float(Double(rng.next() % 2000) / 1000 - 1) }
                for accumulate in [false, true] {
                    let want = Tensor(shape: [rows, out])
                    let got = Tensor(shape: [rows, out])
                    for i in 0..<want.count {
                        want.data[i] = Float(i % 13)
                        got.data[i] = Float(i % 13)
                    }
                    BLAS.linear(x.data, rows: rows, weight: weight, into: want.data, accumulate: accumulate)
                    LayerKernels.splitLinear(x.data, rows, weight, got.data, accumulate)
                    for i in 0..<want.count {
                        XCTAssertEqual(got.data[i], want.data[i], accuracy: 1e-4, "\(out)x\(inner), \(rows) rows, element \(i)")
                    }
                }
            }
        }
    }
}
