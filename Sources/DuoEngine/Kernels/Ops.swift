import Foundation

/// Element-wise and row-wise kernels of the Llama block, on raw buffers.
public enum Ops {
    /// y[r] = x[r] / sqrt(mean(x[r]^2) + eps) * weight, for `rows` rows of width `width`;
    /// each row's inverse RMS goes to `inverseRMS` when given (the backward pass needs it).
    @inlinable @inline(__always)
    public static func rmsNorm(
        _ x: UnsafePointer<Float>, rows: Int, width: Int, weight: UnsafePointer<Float>,
        eps: Float, into y: UnsafeMutablePointer<Float>, inverseRMS: UnsafeMutablePointer<Float>? = nil
    ) {
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
