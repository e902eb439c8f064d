import CKernels

/// One head's keys or values packed for the packed product (`duo_gemm_packed`), so that the
/// 32-wide products of attention read them ready-made: BLAS packs both operands of every such
/// product, which costs about what the multiply does. Packed per use, freed with it.
public final class PackedRows {
    let data: UnsafeMutablePointer<Float>
    let count: Int
    let width: Int
    let positionsAreOutputs: Bool

    /// Packs `count` rows of `width` values (`stride` apart) times `scale`. `positionsAreOutputs`:
    /// each row is one output of the product (the keys of `scores = q K^T`), in panels of 32
    /// rows; otherwise each row is one input position and its `width` values are the outputs
    /// (the values of `out = P V`), in panels of 32 values.
    public init(_ rows: UnsafePointer<Float>, stride: Int, count: Int, width: Int, scale: Float = 1, positionsAreOutputs: Bool) {
        self.count = count
        self.width = width
        self.positionsAreOutputs = positionsAreOutputs
        let panels = positionsAreOutputs ? (count + 31) / 32 : (width + 31) / 32
        let floats = panels * 32 * (positionsAreOutputs ? width : count)
        data = Tensor.allocateFloats(max(floats, 1))
        if positionsAreOutputs {
            duo_pack_panels(rows, stride, count, width, scale, data)
            return
        }
        for p in 0..<panels {
            let part = min(32, width - p * 32)
            for s in 0..<count {
                let packed = data + (p * count + s) * 32
                for j in 0..<part { packed[j] = rows[s * stride + p * 32 + j] * scale }
                if part < 32 { (packed + part).update(repeating: 0, count: 32 - part) }
            }
        }
    }

    /// `y = x R^T` over the first `positions` rows R when positions are outputs (x `[m, width]`,
    /// y `[m, positions]`), else `y = x R` (x `[m, positions]`, y `[m, width]`); x rows `ldx` apart,
    /// y rows `ldy` apart, y overwritten.
    public func multiply(
        _ x: UnsafePointer<Float>, ldx: Int, rows m: Int, positions: Int, into y: UnsafeMutablePointer<Float>, ldy: Int,
        simd: SIMDLevel = .active
    ) {
        precondition(positions <= count, "PackedRows: more positions than packed")
        if positionsAreOutputs {
            duo_gemm_packed(simd.rawValue, x, ldx, m, data, positions, width, 0, width, y, ldy, 0, 0, (positions + 31) / 32)
        } else {
            // Each panel of 32 outputs holds every packed position: the product sums over the
            // first `positions` of its `count` inputs.
            duo_gemm_packed(simd.rawValue, x, ldx, m, data, width, count, 0, positions, y, ldy, 0, 0, (width + 31) / 32)
        }
    }

    deinit { data.deallocate() }
}
