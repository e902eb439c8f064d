import Foundation

/// Rotary position embedding in the Hugging Face Llama convention (rotate-half): with the
/// inverse frequencies of the config (`RoPEScaling`), each head vector `q` at position p becomes
/// `q * cos(p inv_freq) + rotate_half(q) * sin(p inv_freq)` with `rotate_half(q) = [-q[d/2:], q[:d/2]]`.
public struct RoPETable: Sendable {
    public let headDim: Int
    /// Positions with precomputed cos/sin; later positions are computed when rotated.
    public let positions: Int
    private let inverseFrequencies: [Float]
    private let cos: [Float]
    private let sin: [Float]

    /// Positions precomputed for a model: enough for every text a 2-core machine runs, without
    /// allocating for a context of millions that a config may declare.
    public static let tabulatedPositions = 1 << 13

    /// The table for a model's config, `positions` long (at most `tabulatedPositions`).
    public init(config: ModelConfig, positions: Int) {
        self.init(headDim: config.headDim, positions: positions, inverseFrequencies: config.ropeInverseFrequencies)
    }

    public init(headDim: Int, positions: Int, inverseFrequencies: [Float]) {
        precondition(inverseFrequencies.count == headDim / 2, "RoPETable: one inverse frequency per pair")
        self.headDim = headDim
        self.positions = min(positions, Self.tabulatedPositions)
        self.inverseFrequencies = inverseFrequencies
        let half = headDim / 2
        var c = [Float](repeating: 0, count: self.positions * half)
        var s = c
        for p in 0..<self.positions {
            Self.angles(position: p, inverseFrequencies, cos: &c[(p * half)...], sin: &s[(p * half)...])
        }
        cos = c
        sin = s
    }

    /// cos and sin of `position * inv_freq` for each pair, as HF computes them (float32 angle).
    private static func angles(
        position: Int, _ inverseFrequencies: [Float], cos c: inout ArraySlice<Float>,
        sin s: inout ArraySlice<Float>
    ) {
        var k = c.startIndex
        for invFreq in inverseFrequencies {
            let angle = Float(position) * invFreq
            c[k] = cosf(angle)
            s[k] = sinf(angle)
            k += 1
        }
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
        if position >= positions {
            var c = [Float](repeating: 0, count: half)[...]
            var s = c
            Self.angles(position: position, inverseFrequencies, cos: &c, sin: &s)
            c.withUnsafeBufferPointer { cp in
                s.withUnsafeBufferPointer { sp in
                    rotate(vector, heads: heads, cos: cp.baseAddress!, sin: sp.baseAddress!, direction: direction)
                }
            }
            return
        }
        cos.withUnsafeBufferPointer { cp in
            sin.withUnsafeBufferPointer { sp in
                rotate(
                    vector, heads: heads, cos: cp.baseAddress! + position * half, sin: sp.baseAddress! + position * half,
                    direction: direction)
            }
        }
    }

    @inline(__always)
    private func rotate(
        _ vector: UnsafeMutablePointer<Float>, heads: Int, cos c: UnsafePointer<Float>, sin s: UnsafePointer<Float>,
        direction: Float
    ) {
        let half = headDim / 2
        for h in 0..<heads {
            let v = vector + h * headDim
            for i in 0..<half {
                let a = v[i]
                let b = v[i + half]
                let si = direction * s[i]
                v[i] = a * c[i] - b * si
                v[i + half] = b * c[i] + a * si
            }
        }
    }
}
