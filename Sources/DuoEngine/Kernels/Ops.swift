import Foundation

/// Element-wise and row-wise kernels of the Llama block, on raw buffers.
public enum Ops {
    /// y[r] = x[r] / sqrt(mean(x[r]^2) + eps) * weight, for `rows` rows of width `width`;
    /// each row's inverse RMS goes to `inverseRMS` when given (the backward pass needs it).
    @inlinable @inline(__always)
    public static func rmsNorm(_ x: UnsafePointer<Float>, rows: Int, width: Int, weight: UnsafePointer<Float>,
                               eps: Float, into y: UnsafeMutablePointer<Float>, inverseRMS: UnsafeMutablePointer<Float>? = nil) {
        for r in 0..<rows {
            let xr = x + r * width
            let yr = y + r * width
            var sum: Float = 0
            for i in 0..<width { sum += xr[i] * xr[i] }
            let scale = 1 / (sum / Float(width) + eps).squareRoot()
            inverseRMS?[r] = scale
            for i in 0..<width { yr[i] = xr[i] * scale * weight[i] }
        }
    }

    /// act = silu(gate) * up, element-wise (`act` may be `gate` itself).
    @inlinable @inline(__always)
    public static func swiglu(gate: UnsafePointer<Float>, up: UnsafePointer<Float>, into act: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count {
            let g = gate[i]
            act[i] = g * FastMath.sigmoid(g) * up[i]
        }
    }

    /// In-place softmax over `count` values.
    @inlinable @inline(__always)
    public static func softmax(_ x: UnsafeMutablePointer<Float>, count: Int) {
        guard count > 0 else { return }
        var maximum = x[0]
        for i in 1..<count where x[i] > maximum { maximum = x[i] }
        for i in 0..<count { x[i] = FastMath.exp(x[i] - maximum) }
        var sum: Float = 0
        for i in 0..<count { sum += x[i] }
        let inverse = 1 / sum
        for i in 0..<count { x[i] *= inverse }
    }

    /// Cross-entropy of one prediction: -log softmax(logits)[target], in nats.
    public static func targetLoss(_ logits: UnsafePointer<Float>, count: Int, target: Int) -> Double {
        logSumExp(logits, count: count) - Double(logits[target])
    }

    /// log-sum-exp of `count` values: vectorised exps summed in eight float lanes (relative
    /// error around 1e-7 per term, far below the 1e-4 the golden tests demand).
    public static func logSumExp(_ x: UnsafePointer<Float>, count: Int) -> Double {
        var maximum = x[0]
        for i in 1..<count { maximum = max(maximum, x[i]) }
        let exps = UnsafeMutablePointer<Float>.allocate(capacity: count + 8)
        defer { exps.deallocate() }
        for i in 0..<count { exps[i] = FastMath.exp(x[i] - maximum) }
        var lanes = SIMD8<Float>(repeating: 0)
        var i = 0
        while i + 8 <= count {
            lanes += UnsafeRawPointer(exps + i).loadUnaligned(as: SIMD8<Float>.self)
            i += 8
        }
        var sum = Double(lanes.sum())
        while i < count {
            sum += Double(exps[i])
            i += 1
        }
        return Double(maximum) + log(sum)
    }

    /// y += x.
    @inlinable @inline(__always)
    public static func add(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { y[i] += x[i] }
    }
}
