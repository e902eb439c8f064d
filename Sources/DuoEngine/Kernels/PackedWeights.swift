import CKernels
import Foundation

/// A weight matrix [n outputs, k inputs] packed once into panels of 32 outputs (for each input,
/// the panel's 32 weights side by side) for CKernels' `duo_gemm_packed`. OpenBLAS packs its
/// operands on every call; for the tens to hundreds of rows of an oracle frontier or a prefill
/// that copy of the whole weight cost as much as the product (perf: 21% of the explorer's first
/// screen in `sgemm_incopy`). Made on first use by `Tensor.packedPanels()`.
public final class PackedWeights: @unchecked Sendable {  // immutable after init
    public let outputs: Int
    public let inputs: Int
    public let panelCount: Int
    let data: UnsafeMutablePointer<Float>

    init(_ weight: Tensor) {
        outputs = weight.rows
        inputs = weight.columns
        panelCount = (outputs + 31) / 32
        data = Tensor.allocateFloats(max(1, panelCount * 32 * inputs))
        duo_pack_panels(weight.data, inputs, outputs, inputs, 1, data)
    }

    deinit { data.deallocate() }

    /// Whether `rows` rows go faster through the packed product than through BLAS at `simd`:
    /// measured against OpenBLAS's SkylakeX kernels (docs/benchmarks.md), the AVX-512 product
    /// (8 rows per block) wins up to several hundred rows, the AVX2 one (2 rows) only for a few.
    /// One row (a decode step) too: OpenBLAS runs it as a GEMM that copies the weight on every
    /// call (decoding went 1.4-1.8x faster through the packed product, at both levels).
    public static func isFaster(rows: Int, simd: SIMDLevel = .active) -> Bool {
        switch simd {
        case .avx512: 1...512 ~= rows
        case .avx2: 1..<32 ~= rows
        case .baseline: false
        }
    }

    /// y (+)= x W^T for `rows` rows of x (`inputs` wide) and the outputs of panels `panels`
    /// (y rows `outputs` apart), summed over the inputs `over` only when given (a partial sum).
    public func product(
        _ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, accumulate: Bool,
        panels: Range<Int>, over: Range<Int>? = nil, simd: SIMDLevel = .active
    ) {
        let over = over ?? 0..<inputs
        precondition(over.lowerBound >= 0 && over.upperBound <= inputs, "PackedWeights: inputs out of range")
        duo_gemm_packed(
            simd.rawValue, x, inputs, rows, data, outputs, inputs, over.lowerBound, over.count, y, outputs, accumulate ? 1 : 0,
            panels.lowerBound, panels.count)
    }
}

extension Tensor {
    /// This weight packed for `PackedWeights.product`, made on the first call. The copy is not
    /// updated when `data` changes: whoever writes into a weight after it has been used calls
    /// `weightsChanged()` (the optimiser does, after every step).
    public func packedPanels() -> PackedWeights {
        Tensor.packingLock.lock()
        defer { Tensor.packingLock.unlock() }
        if let packed { return packed }
        let made = PackedWeights(self)
        packed = made
        return made
    }

    /// Drops the packed copy after `data` was written.
    public func weightsChanged() {
        Tensor.packingLock.lock()
        packed = nil
        Tensor.packingLock.unlock()
    }
}
