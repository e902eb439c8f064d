import CKernels
import Foundation

/// Element-wise and row-wise kernels of the Llama block, on raw buffers.
public enum Ops {
    /// y[r] = x[r] / sqrt(mean(x[r]^2) + eps) * weight, for `rows` rows of width `width`;
    /// each row's inverse RMS goes to `inverseRMS` when given (the backward pass needs it).
    /// In C (`duo_rms_norm`): the squares summed in vector lanes, not one dependent add each.
    public static func rmsNorm(
        _ x: UnsafePointer<Float>, rows: Int, width: Int, weight: UnsafePointer<Float>,
        eps: Float, into y: UnsafeMutablePointer<Float>, inverseRMS: UnsafeMutablePointer<Float>? = nil,
        simd: SIMDLevel = .active
    ) {
        duo_rms_norm(simd.rawValue, x, weight, rows, width, eps, y, inverseRMS)
    }

    // The exp-based kernels below run in C (Sources/CKernels) at the CPU's best instruction set
    // (`SIMDLevel`), with the same exp as `FastMath.exp`; `simd` picks a lower level for tests.

    /// act = silu(gate) * up, element-wise (`act` may be `gate` itself).
    public static func swiglu(
        gate: UnsafePointer<Float>, up: UnsafePointer<Float>, into act: UnsafeMutablePointer<Float>, count: Int,
        simd: SIMDLevel = .active
    ) {
        duo_swiglu(simd.rawValue, gate, up, act, count)
    }

    /// In-place softmax over `count` values (all NaN when one is NaN).
    public static func softmax(_ x: UnsafeMutablePointer<Float>, count: Int, simd: SIMDLevel = .active) {
        guard count > 0 else { return }
        let maximum = self.maximum(x, count: count, simd: simd)
        let sum = exponentiate(x, count: count, minus: maximum, simd: simd)
        let inverse = 1 / sum
        for i in 0..<count { x[i] *= inverse }
    }

    /// The largest of `count` values (NaN values are passed over; `exponentiate` and
    /// `logSumExp` then still give NaN); -inf when there is none.
    public static func maximum(_ x: UnsafePointer<Float>, count: Int, simd: SIMDLevel = .active) -> Float {
        duo_max(simd.rawValue, x, count)
    }

    /// The sum of `count` values, read in independent chains of vectors so that memory, not
    /// the adds, sets its pace (the bandwidth probe of `EngineBenchmark.readBandwidth`).
    public static func readSum(_ x: UnsafePointer<Float>, count: Int, simd: SIMDLevel = .active) -> Float {
        duo_read_sum(simd.rawValue, x, count)
    }

    /// x[i] = e^(x[i] - shift) in place; returns their sum.
    public static func exponentiate(
        _ x: UnsafeMutablePointer<Float>, count: Int, minus shift: Float, simd: SIMDLevel = .active
    ) -> Float {
        Float(duo_exponentiate(simd.rawValue, x, count, shift))
    }

    /// The causal attention weights of the query at `position` over a row of `count` scores
    /// (keys 0 ..< count): softmax over the keys it may see, `position - window + 1 ... position`
    /// (all from 0 without a window), and 0 for every other key, as transformers' masks give.
    @inlinable @inline(__always)
    public static func maskedSoftmax(_ row: UnsafeMutablePointer<Float>, count: Int, position: Int, window: Int?) {
        let end = min(position + 1, count)
        let first = window.map { max(0, position - $0 + 1) } ?? 0
        if first > 0 { row.update(repeating: 0, count: first) }
        softmax(row + first, count: end - first)
        if end < count { (row + end).update(repeating: 0, count: count - end) }
    }

    /// Adds `bias` [width] to each of `rows` rows of `x`.
    @inlinable @inline(__always)
    public static func addBias(_ bias: UnsafePointer<Float>, rows: Int, width: Int, into x: UnsafeMutablePointer<Float>) {
        for r in 0..<rows { add(bias, into: x + r * width, count: width) }
    }

    /// Cross-entropy of one prediction: -log softmax(logits)[target], in nats.
    public static func targetLoss(_ logits: UnsafePointer<Float>, count: Int, target: Int) -> Double {
        logSumExp(logits, count: count) - Double(logits[target])
    }

    /// x . y in eight float lanes.
    @inlinable @inline(__always)
    public static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, count: Int) -> Float {
        var lanes = SIMD8<Float>(repeating: 0)
        var i = 0
        while i + 8 <= count {
            lanes +=
                UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self) * UnsafeRawPointer(y + i).loadUnaligned(as: SIMD8<Float>.self)
            i += 8
        }
        var total = lanes.sum()
        while i < count {
            total += x[i] * y[i]
            i += 1
        }
        return total
    }

    /// log-sum-exp of `count` values: the exps summed in float lanes per chunk of 512 and the
    /// chunks in double (relative error around 1e-7 per term, far below the 1e-4 the golden
    /// tests demand).
    public static func logSumExp(_ x: UnsafePointer<Float>, count: Int, simd: SIMDLevel = .active) -> Double {
        let maximum = self.maximum(x, count: count, simd: simd)
        if maximum == .infinity { return .infinity }
        // Nothing finite: all -inf (or none) is -inf, NaN stays NaN.
        guard maximum > -.infinity else { return (0..<count).contains { x[$0].isNaN } ? .nan : -.infinity }
        return Double(maximum) + Foundation.log(duo_sum_exp(simd.rawValue, x, count, maximum))
    }

    /// y += x.
    @inlinable @inline(__always)
    public static func add(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { y[i] += x[i] }
    }
}
