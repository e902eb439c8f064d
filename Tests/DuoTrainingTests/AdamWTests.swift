import DuoEngine
import XCTest

@testable import DuoTraining

final class AdamWTests: XCTestCase {
    /// Three updates at every instruction set against the formula in Double (PyTorch's AdamW with
    /// decoupled decay; a matrix is decayed, a vector is not), on sizes that leave a tail.
    func testUpdatesMatchTheFormulaAtEverySIMDLevel() {
        let settings = AdamWSettings(beta1: 0.9, beta2: 0.95, epsilon: 1e-8, weightDecay: 0.1)
        for simd in SIMDLevel.supported {
            var rng = SplitMix64(seed: 5)
            let shapes = [[37, 5], [19]]
            let parameters = shapes.enumerated().map { i, shape -> (String, Tensor) in
                let t = Tensor(shape: shape)
                for j in 0..<t.count { t.data[j] = Float.random(in: -1..<1, using: &rng) }
                return ("p\(i)", t)
            }
            var w = parameters.map { p in (0..<p.1.count).map { Double(p.1.data[$0]) } }
            var m = w.map { [Double](repeating: 0, count: $0.count) }
            var v = m
            let optimizer = AdamW(parameters: parameters, settings: settings)
            for step in 1...3 {
                let gradients = shapes.map { shape -> Tensor in
                    let g = Tensor(shape: shape)
                    for j in 0..<g.count { g.data[j] = Float.random(in: -2..<2, using: &rng) }
                    return g
                }
                let (lr, scale) = (Float(0.01), Float(0.5))
                optimizer.update(gradients: gradients, lr: lr, gradientScale: scale, simd: simd)
                for (i, shape) in shapes.enumerated() {
                    let decay = shape.count >= 2 ? 1 - Double(lr) * 0.1 : 1
                    for j in 0..<w[i].count {
                        let g = Double(gradients[i].data[j]) * Double(scale)
                        m[i][j] = 0.9 * m[i][j] + 0.1 * g
                        v[i][j] = 0.95 * v[i][j] + 0.05 * g * g
                        let mHat = m[i][j] / (1 - pow(0.9, Double(step)))
                        let vHat = v[i][j] / (1 - pow(0.95, Double(step)))
                        w[i][j] = w[i][j] * decay - Double(lr) * mHat / (vHat.squareRoot() + 1e-8)
                        XCTAssertEqual(Double(parameters[i].1.data[j]), w[i][j], accuracy: 1e-5, "\(simd) step \(step)")
                        XCTAssertEqual(Double(optimizer.secondMoments[i].data[j]), v[i][j], accuracy: 1e-6 * max(1, v[i][j]))
                    }
                }
            }
        }
    }
}
