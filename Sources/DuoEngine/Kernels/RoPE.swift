import Foundation

/// Rotary position embedding in the Hugging Face Llama convention (rotate-half): with the
/// inverse frequencies of the config (`RoPEScaling`), each head vector `q` at position p becomes
/// `q * cos(p inv_freq) + rotate_half(q) * sin(p inv_freq)` with `rotate_half(q) = [-q[d/2:], q[:d/2]]`.
public struct RoPETable: Sendable {
    public let headDim: Int
    public let positions: Int
    private let cos: [Float]
    private let sin: [Float]

    /// The table for a model's config, `positions` long.
    public init(config: ModelConfig, positions: Int) {
        self.init(headDim: config.headDim, positions: positions, inverseFrequencies: config.ropeInverseFrequencies)
    }

    public init(headDim: Int, positions: Int, inverseFrequencies: [Float]) {
        precondition(inverseFrequencies.count == headDim / 2, "RoPETable: one inverse frequency per pair")
        self.headDim = headDim
        self.positions = positions
        let half = headDim / 2
        var c = [Float](repeating: 0, count: positions * half)
        var s = c
        for (i, invFreq) in inverseFrequencies.enumerated() {
            // As HF computes it: angle = position * inv_freq in float32.
            for p in 0..<positions {
                let angle = Float(p) * invFreq
                c[p * half + i] = cosf(angle)
                s[p * half + i] = sinf(angle)
            }
        }
        cos = c
        sin = s
    }

    /// Rotates `heads` consecutive head vectors (each `headDim` wide) at `vector` for `position`.
    @inline(__always)
    public func apply(_ vector: UnsafeMutablePointer<Float>, heads: Int, position: Int) {
        rotate(vector, heads: heads, position: position, direction: 1)
    }

    /// The transpose of `apply` (rotation by the negative angle): the backward pass of RoPE.
    @inline(__always)
    public func applyInverse(_ vector: UnsafeMutablePointer<Float>, heads: Int, position: Int) {
        rotate(vector, heads: heads, position: position, direction: -1)
    }

    @inline(__always)
    private func rotate(_ vector: UnsafeMutablePointer<Float>, heads: Int, position: Int, direction: Float) {
        let half = headDim / 2
        cos.withUnsafeBufferPointer { cp in
            sin.withUnsafeBufferPointer { sp in
                let c = cp.baseAddress! + position * half
                let s = sp.baseAddress! + position * half
                for h in 0..<heads {
                    let v = vector + h * headDim
                    for i in 0..<half {
                        let a = v[i], b = v[i + half], si = direction * s[i]
                        v[i] = a * c[i] - b * si
                        v[i + half] = b * c[i] + a * si
                    }
                }
            }
        }
    }
}
