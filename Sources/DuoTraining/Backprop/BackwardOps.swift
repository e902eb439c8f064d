import CKernels
import DuoEngine
import Foundation

/// Backward counterparts of the forward kernels in `Ops`.
enum BackwardOps {
    /// Backward of `y = x * r * w` (r = inverse RMS of the row): adds dL/dx into `dx`, dL/dw into `dw`.
    static func rmsNormBackward(
        dy: UnsafePointer<Float>, x: UnsafePointer<Float>, inverseRMS: UnsafePointer<Float>,
        weight: UnsafePointer<Float>, rows: Int, width: Int,
        dx: UnsafeMutablePointer<Float>, dw: UnsafeMutablePointer<Float>, simd: SIMDLevel = .active
    ) {
        duo_rms_norm_backward(simd.rawValue, dy, x, inverseRMS, weight, rows, width, dx, dw)
    }

    /// Backward of `LayerKernels.attendHead` for one head over a whole sequence of `rows`
    /// queries (first position 0): from the head's output gradient `dOut` and its attention
    /// weights `probabilities` `[rows, rows]`, writes dLoss/dq into `dQ` (rows `qStride` apart) and
    /// adds dLoss/dk, dLoss/dv into `dK`, `dV` (rows `kvStride` apart). In blocks of
    /// `LayerKernels.causalBlock` queries, as the forward pass, so that a block's products stop at
    /// the last key it sees: the masked upper triangle (about half the work) is skipped.
    /// `scratch` `[rows, rows]` receives the score gradients.
    static func attendHeadBackward(
        q: UnsafePointer<Float>, qStride: Int, keys: UnsafePointer<Float>, values: UnsafePointer<Float>, kvStride: Int,
        rows: Int, headDim hd: Int, probabilities p: UnsafePointer<Float>, dOut: UnsafePointer<Float>, dOutStride: Int,
        scratch dp: UnsafeMutablePointer<Float>, dQ: UnsafeMutablePointer<Float>, dK: UnsafeMutablePointer<Float>,
        dV: UnsafeMutablePointer<Float>, simd: SIMDLevel = .active
    ) {
        let T = rows
        let scale = 1 / Float(hd).squareRoot()
        // dP = dO V^T and dQ = scale dS K on packed values and keys (`PackedRows`), as the forward
        // pass where the packed product is the faster one; the two products with a transposed
        // operand (dV, dK) stay with BLAS.
        let packed =
            PackedWeights.isFaster(rows: min(LayerKernels.causalBlock, T), simd: simd)
            ? (
                values: PackedRows(values, stride: kvStride, count: T, width: hd, positionsAreOutputs: true),
                keys: PackedRows(keys, stride: kvStride, count: T, width: hd, scale: scale, positionsAreOutputs: false)
            ) : nil
        var start = 0
        while start < T {
            let n = min(LayerKernels.causalBlock, T - start)
            let visible = start + n
            let pBlock = p + start * T
            let dpBlock = dp + start * T
            let dO = dOut + start * dOutStride
            // dV += P^T dO and dP = dO V^T over the visible keys.
            BLAS.gemmAtB(m: visible, n: hd, k: n, a: pBlock, lda: T, b: dO, ldb: dOutStride, c: dV, ldc: kvStride, beta: 1)
            if let packed {
                packed.values.multiply(dO, ldx: dOutStride, rows: n, positions: visible, into: dpBlock, ldy: T, simd: simd)
            } else {
                BLAS.gemmABt(m: n, n: visible, k: hd, a: dO, lda: dOutStride, b: values, ldb: kvStride, c: dpBlock, ldc: T)
            }
            // Softmax backward, row by row: dS = P * (dP - <P, dP>); 0 for the keys a query cannot see.
            for i in start..<visible {
                softmaxBackward(p + i * T, dp + i * T, count: i + 1)
                if i + 1 < visible { (dp + i * T + i + 1).update(repeating: 0, count: visible - i - 1) }
            }
            // dQ = scale dS K and dK += scale dS^T Q.
            if let packed {
                packed.keys.multiply(dpBlock, ldx: T, rows: n, positions: visible, into: dQ + start * qStride, ldy: qStride, simd: simd)
            } else {
                BLAS.gemmAB(
                    m: n, n: hd, k: visible, a: dpBlock, lda: T, b: keys, ldb: kvStride, c: dQ + start * qStride, ldc: qStride,
                    alpha: scale)
            }
            BLAS.gemmAtB(
                m: visible, n: hd, k: n, a: dpBlock, lda: T, b: q + start * qStride, ldb: qStride, c: dK, ldc: kvStride, alpha: scale,
                beta: 1)
            start += n
        }
    }

    /// Backward of a bias added to every row: adds the column sums of `dy` [rows, width] into `dBias`.
    static func addColumnSums(_ dy: UnsafePointer<Float>, rows: Int, width: Int, into dBias: UnsafeMutablePointer<Float>) {
        for row in 0..<rows { Ops.add(dy + row * width, into: dBias, count: width) }
    }

    /// Backward of act = silu(g) * u: writes dg into `dact`'s storage and du into `du`.
    static func swigluBackward(
        dact: UnsafeMutablePointer<Float>, gate g: UnsafePointer<Float>, up u: UnsafePointer<Float>,
        du: UnsafeMutablePointer<Float>, count: Int, simd: SIMDLevel = .active
    ) {
        duo_swiglu_backward(simd.rawValue, dact, g, u, du, count)
    }

    /// Softmax's backward over one row of weights `p`: `dp` holds dLoss/dp on entry and
    /// dLoss/dscore on exit, `p[i] * (dp[i] - <p, dp>)`.
    static func softmaxBackward(_ p: UnsafePointer<Float>, _ dp: UnsafeMutablePointer<Float>, count: Int, simd: SIMDLevel = .active) {
        duo_softmax_backward(simd.rawValue, p, dp, count)
    }
}
