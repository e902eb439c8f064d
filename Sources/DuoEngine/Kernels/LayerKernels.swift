import Foundation

/// The steps of the Llama block, each written once with its buffers passed in (as llm.c does),
/// and shared by inference (`InferenceSession`), the oracle's tree search (`OracleTree`) and the
/// trainer's forward pass (`TrainingGraph`): a model feature (biases, a sliding window, a RoPE
/// type) is implemented here once, and every caller runs the same arithmetic.
public enum LayerKernels {
    /// `y (+)= x W^T` for `rows` rows: how a caller spreads a matrix product over the cores.
    public typealias Linear =
        @Sendable (
            _ x: UnsafePointer<Float>, _ rows: Int, _ weight: Tensor, _ y: UnsafeMutablePointer<Float>,
            _ accumulate: Bool
        ) -> Void

    /// One BLAS call (BLAS's own threads split it).
    public static let blasLinear: Linear = { x, rows, weight, y, accumulate in
        BLAS.linear(x, rows: rows, weight: weight, into: y, accumulate: accumulate)
    }

    /// The product split across the cores by output features, one single-threaded BLAS call per
    /// core (`SplitGEMM`, cut `.columns`; no fork/join inside BLAS): faster than BLAS's own
    /// threads for the few hundred rows of a prefill or an oracle frontier (measured in
    /// docs/benchmarks.md). With few enough rows
    /// (`PackedWeights.isFaster`) it runs the product on the weight packed once
    /// (`Tensor.packedPanels`), split by panels of 32 outputs, instead of BLAS, which packs the
    /// whole weight on every call: for an oracle frontier that copy costs as much as the multiply.
    public static let splitLinear: Linear = { x, rows, weight, y, accumulate in
        let parts = Parallel.workers
        let split = parts > 1 && !Parallel.isInsideJob && rows * weight.rows * weight.columns >= 1 << 20
        if PackedWeights.isFaster(rows: rows) {
            let packed = weight.packedPanels()
            if split && packed.panelCount >= 2 * parts {
                Parallel.forEach(parts) { part in
                    let panels = (packed.panelCount * part / parts)..<(packed.panelCount * (part + 1) / parts)
                    packed.product(x, rows: rows, into: y, accumulate: accumulate, panels: panels)
                }
            } else if split && rows >= 16 * parts {
                // Too few panels to share (the 64 outputs of a grouped-query key projection):
                // each core takes a block of rows, in whole blocks of 8, over every panel.
                let blocks = (rows + 7) / 8
                Parallel.forEach(parts) { part in
                    let r = min(rows, blocks * part / parts * 8)..<min(rows, blocks * (part + 1) / parts * 8)
                    packed.product(
                        x + r.lowerBound * weight.columns, rows: r.count, into: y + r.lowerBound * weight.rows, accumulate: accumulate,
                        panels: 0..<packed.panelCount)
                }
            } else {
                localLinear(x, rows, weight, y, accumulate)
            }
            return
        }
        SplitGEMM.linear(x, rows: rows, weight: weight, into: y, accumulate: accumulate, cut: .columns)
    }

    /// The same product on the calling thread alone (inside a loop that already spreads work
    /// over the cores): packed for few rows, else one single-threaded BLAS call.
    public static let localLinear: Linear = { x, rows, weight, y, accumulate in
        if PackedWeights.isFaster(rows: rows) {
            let packed = weight.packedPanels()
            packed.product(x, rows: rows, into: y, accumulate: accumulate, panels: 0..<packed.panelCount)
        } else {
            Parallel.withSingleThreadedBLAS { BLAS.linear(x, rows: rows, weight: weight, into: y, accumulate: accumulate) }
        }
    }

    /// Split across the cores along the output's longer side, always through BLAS (`SplitGEMM`):
    /// for the trainer's thousands of rows and its weights, which change every step and which a
    /// packed copy would have to follow.
    public static let splitBLASLinear: Linear = { x, rows, weight, y, accumulate in
        SplitGEMM.linear(x, rows: rows, weight: weight, into: y, accumulate: accumulate)
    }

    /// `y = x` over `count` floats, in slices across the cores (a trainer's activations are
    /// megabytes: copied on one core, the other waited).
    public static func copy(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
        Parallel.forEachSlice(count, minimum: 1 << 16) { r in (y + r.lowerBound).update(from: x + r.lowerBound, count: r.count) }
    }

    /// `x = 0` over `count` floats, in slices across the cores.
    public static func zero(_ x: UnsafeMutablePointer<Float>, count: Int) {
        Parallel.forEachSlice(count, minimum: 1 << 16) { r in (x + r.lowerBound).update(repeating: 0, count: r.count) }
    }

    /// `Ops.rmsNorm` of `rows` rows in slices of rows across the cores (each row's result is
    /// that of one call); `inverseRMS`, when given, receives each row's inverse RMS.
    public static func rmsNorm(
        _ x: UnsafePointer<Float>, rows: Int, width: Int, weight: UnsafePointer<Float>, eps: Float,
        into y: UnsafeMutablePointer<Float>, inverseRMS: UnsafeMutablePointer<Float>? = nil
    ) {
        Parallel.forEachSlice(rows, minimum: 64) { r in
            Ops.rmsNorm(
                x + r.lowerBound * width, rows: r.count, width: width, weight: weight, eps: eps, into: y + r.lowerBound * width,
                inverseRMS: inverseRMS.map { $0 + r.lowerBound })
        }
    }

    /// The q, k and v projections of `rows` normalised rows `[rows, d]` into `q` `[rows, qWidth]`,
    /// `k` and `v` `[rows, kvWidth]`, with the family's biases, then RoPE on q and k, row i at
    /// position `position(i)`.
    public static func projectQKV(
        _ normed: UnsafePointer<Float>, rows: Int, layer w: LayerWeights, config c: ModelConfig,
        rope: RoPETable, position: (Int) -> Int, q: UnsafeMutablePointer<Float>,
        k: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, linear: Linear = blasLinear
    ) {
        linear(normed, rows, w.q, q, false)
        linear(normed, rows, w.k, k, false)
        linear(normed, rows, w.v, v, false)
        if let bias = w.qkvBias {
            Ops.addBias(bias.q.data, rows: rows, width: c.qWidth, into: q)
            Ops.addBias(bias.k.data, rows: rows, width: c.kvWidth, into: k)
            Ops.addBias(bias.v.data, rows: rows, width: c.kvWidth, into: v)
        }
        // Row-wise, in slices of rows across the cores (each row's rotation is that of one call).
        Parallel.forEachSlice(rows, minimum: 64) { r in
            for i in r {
                rope.apply(q + i * c.qWidth, heads: c.numHeads, position: position(i))
                rope.apply(k + i * c.kvWidth, heads: c.numKVHeads, position: position(i))
            }
        }
    }

    /// One attention head for `rows` queries at consecutive positions `first ..< first + rows`
    /// over the keys and values of positions `0 ..< first + rows` (rows `kvStride` apart, this
    /// head's columns): causal, within `window` when given, scaled by 1/sqrt(headDim).
    /// `probabilities` `[rows, first + rows]` receives the attention weights (0 where masked);
    /// the head's output goes to `out` (rows `outStride` apart).
    public static func attendHead(
        q: UnsafePointer<Float>, qStride: Int, rows: Int, first: Int, keys: UnsafePointer<Float>,
        values: UnsafePointer<Float>, kvStride: Int, headDim: Int, window: Int?,
        probabilities: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>, outStride: Int,
        simd: SIMDLevel = .active
    ) {
        let context = first + rows
        let scale = 1 / Float(headDim).squareRoot()
        // The keys and values packed (`PackedRows`) where the packed product is the faster one:
        // measured, a prefill's attention took 30% of its time for 10% of its FLOPs through BLAS.
        let packed =
            PackedWeights.isFaster(rows: min(causalBlock, rows), simd: simd)
            ? (
                keys: PackedRows(keys, stride: kvStride, count: context, width: headDim, scale: scale, positionsAreOutputs: true),
                values: PackedRows(values, stride: kvStride, count: context, width: headDim, positionsAreOutputs: false)
            ) : nil
        // Queries in blocks: a block sees only the keys up to its last row, so the masked upper
        // triangle is neither multiplied nor exponentiated (about half of a prefill's attention).
        var start = 0
        while start < rows {
            let n = min(causalBlock, rows - start)
            let visible = first + start + n
            let scores = probabilities + start * context
            if let packed {
                packed.keys.multiply(q + start * qStride, ldx: qStride, rows: n, positions: visible, into: scores, ldy: context, simd: simd)
            } else {
                BLAS.gemmABt(
                    m: n, n: visible, k: headDim, a: q + start * qStride, lda: qStride, b: keys, ldb: kvStride,
                    c: scores, ldc: context, alpha: scale)
            }
            for i in 0..<n {
                let row = scores + i * context
                Ops.maskedSoftmax(row, count: visible, position: first + start + i, window: window)
                if visible < context { (row + visible).update(repeating: 0, count: context - visible) }
            }
            if let packed {
                packed.values.multiply(
                    scores, ldx: context, rows: n, positions: visible, into: out + start * outStride, ldy: outStride, simd: simd)
            } else {
                BLAS.gemmAB(
                    m: n, n: headDim, k: visible, a: scores, lda: context, b: values, ldb: kvStride,
                    c: out + start * outStride, ldc: outStride)
            }
            start += n
        }
    }

    /// Query rows per block in `attendHead` (and the trainer's backward): smaller blocks skip more
    /// of the masked triangle, larger ones keep the GEMMs efficient. 64 gave 4-7% faster training
    /// steps than 32 (one process, interleaved; 128 no better), the attention included.
    public static let causalBlock = 64

    /// The SwiGLU FFN of `module` over `rows` input rows `[rows, d]`:
    /// `output (+)= down(silu(gate(x)) * up(x))`. `gate` and `up` are `[rows, inner]` scratch that
    /// keep the projections; `activation` (which may be `gate`) receives `silu(gate) * up`.
    public static func swigluFFN(
        _ module: FFNWeights, input: UnsafePointer<Float>, rows: Int, gate: UnsafeMutablePointer<Float>,
        up: UnsafeMutablePointer<Float>, activation: UnsafeMutablePointer<Float>,
        output: UnsafeMutablePointer<Float>, accumulate: Bool, linear: Linear = blasLinear
    ) {
        linear(input, rows, module.gate, gate, false)
        linear(input, rows, module.up, up, false)
        let count = rows * module.inner
        Parallel.forEachSlice(count, minimum: 32768) { r in
            Ops.swiglu(gate: gate + r.lowerBound, up: up + r.lowerBound, into: activation + r.lowerBound, count: r.count)
        }
        linear(activation, rows, module.down, output, accumulate)
    }
}
