import Foundation

/// Rotary position embedding in the Hugging Face Llama convention (rotate-half):
/// `inv_freq[i] = theta^(-2i/d)` for i < d/2, and each head vector `q` becomes
/// `q * cos + rotate_half(q) * sin` with `rotate_half(q) = [-q[d/2:], q[:d/2]]`.
public struct RoPETable: Sendable {
    public let headDim: Int
    public let positions: Int
    private let cos: [Float]
    private let sin: [Float]

    public init(headDim: Int, positions: Int, theta: Float) {
        self.headDim = headDim
        self.positions = positions
        let half = headDim / 2
        var c = [Float](repeating: 0, count: positions * half)
        var s = c
        for i in 0..<half {
            // As HF computes it: inv_freq in float32, then angle = position * inv_freq in float32.
            let invFreq = 1 / powf(theta, Float(2 * i) / Float(headDim))
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
