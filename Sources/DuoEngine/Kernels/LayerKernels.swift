import CKernels
import Foundation

/// The steps of the Llama block, each written once with its buffers passed in (as llm.c does),
/// and shared by inference (`InferenceSession`), the oracle's tree search (`OracleTree`) and the
/// trainer's forward pass (`TrainingGraph`): a model feature (biases, a sliding window, a RoPE
/// type) is implemented here once, and every caller runs the same arithmetic.
public enum LayerKernels {
    /// One product of a group that shares its input rows: `output (+)= x weight^T`, `output`
    /// `[rows, weight.rows]`.
    public struct Product {
        public let weight: Tensor
        public let output: UnsafeMutablePointer<Float>

        public init(_ weight: Tensor, into output: UnsafeMutablePointer<Float>) {
            self.weight = weight
            self.output = output
        }
    }

    /// Work run on output columns `columns` of a group's products once every product has
    /// written them for every row (the SwiGLU activation over the gate and up projections).
    /// Calls for disjoint column ranges may run at once on different cores.
    public typealias Epilogue = (_ columns: Range<Int>) -> Void

    /// How a caller spreads matrix products over the cores: `y (+)= x W^T` for `rows` rows of
    /// `x`, one product or a group of them sharing `x` (q, k and v; gate and up), run as one
    /// piece of work so that the cores share the whole group rather than each product in turn.
    public struct Linear: Sendable {
        let group:
            @Sendable (_ x: UnsafePointer<Float>, _ rows: Int, _ products: [Product], _ accumulate: Bool, _ epilogue: Epilogue?) ->
                Void

        /// `y (+)= x weight^T`.
        public func callAsFunction(
            _ x: UnsafePointer<Float>, _ rows: Int, _ weight: Tensor, _ y: UnsafeMutablePointer<Float>, _ accumulate: Bool
        ) {
            group(x, rows, [Product(weight, into: y)], accumulate, nil)
        }

        /// Every product of `products`, then `epilogue` over all their output columns (the
        /// products must then have as many outputs each).
        public func callAsFunction(
            _ x: UnsafePointer<Float>, rows: Int, _ products: [Product], accumulate: Bool, then epilogue: Epilogue? = nil
        ) {
            precondition(epilogue == nil || products.allSatisfy { $0.weight.rows == products[0].weight.rows })
            group(x, rows, products, accumulate, epilogue)
        }

        /// A way that runs each product by `single`, one after another, then the epilogue in
        /// slices of columns across the cores.
        static func oneByOne(
            _ single: @escaping @Sendable (UnsafePointer<Float>, Int, Tensor, UnsafeMutablePointer<Float>, Bool) -> Void
        ) -> Linear {
            Linear { x, rows, products, accumulate, epilogue in
                for p in products { single(x, rows, p.weight, p.output, accumulate) }
                if let epilogue, let first = products.first { inSlices(epilogue, columns: first.weight.rows, rows: rows) }
            }
        }

        /// `epilogue` over `columns` output columns of `rows` rows, in slices of columns across
        /// the cores (at least about 32768 values each).
        static func inSlices(_ epilogue: Epilogue, columns: Int, rows: Int) {
            Parallel.forEachSlice(columns, minimum: max(1, 32768 / max(rows, 1)), epilogue)
        }
    }

    /// One BLAS call per product (BLAS's own threads split it).
    public static let blasLinear = Linear.oneByOne { x, rows, weight, y, accumulate in
        BLAS.linear(x, rows: rows, weight: weight, into: y, accumulate: accumulate)
    }

    /// The products split across the cores by output features (no fork/join inside BLAS):
    /// faster than BLAS's own threads for the few hundred rows of a prefill or an oracle
    /// frontier (measured in docs/benchmarks.md). With few enough rows
    /// (`PackedWeights.isFaster`) each product runs on its weight packed once
    /// (`Tensor.packedPanels`), instead of BLAS, which packs the whole weight on every call (for
    /// an oracle frontier that copy costs as much as the multiply): the group's panels of 32
    /// outputs, laid end to end, are cut into one share per core, and with an epilogue each core
    /// takes the same panels of every product and then runs the epilogue on their columns while
    /// they are in its cache. Otherwise one single-threaded BLAS call per core and product
    /// (`SplitGEMM`, cut `.columns`).
    public static let splitLinear = Linear { x, rows, products, accumulate, epilogue in
        guard PackedWeights.isFaster(rows: rows) else {
            return splitBLASByColumns.group(x, rows, products, accumulate, epilogue)
        }
        let packed = products.map { $0.weight.packedPanels() }
        let parts = Parallel.workers
        let work = products.reduce(0) { $0 + rows * $1.weight.rows * $1.weight.columns }
        // Shared out from about a million multiply-adds; a single row (a decode step's LM head)
        // reads each weight once, so its time goes with the weights' bytes: shared from 32768
        // weights.
        let split = parts > 1 && !Parallel.isInsideJob && work >= (rows == 1 ? 1 << 15 : 1 << 20)
        let panels = packed.reduce(0) { $0 + $1.panelCount }
        // A share is a range of the group's panels end to end, or with an epilogue a range of
        // column panels taken in every product.
        let shares = epilogue == nil ? panels : packed[0].panelCount
        if split && panels >= 2 * parts {
            Parallel.forEach(parts) { part in
                let share = Parallel.share(part, of: parts, count: shares)
                if let epilogue {
                    for (p, w) in zip(products, packed) {
                        w.product(x, rows: rows, into: p.output, accumulate: accumulate, panels: share)
                    }
                    epilogue((share.lowerBound * 32)..<min(packed[0].outputs, share.upperBound * 32))
                    return
                }
                var first = 0
                for (p, w) in zip(products, packed) {
                    let own = share.clamped(to: first..<(first + w.panelCount))
                    if !own.isEmpty {
                        w.product(
                            x, rows: rows, into: p.output, accumulate: accumulate,
                            panels: (own.lowerBound - first)..<(own.upperBound - first))
                    }
                    first += w.panelCount
                }
            }
        } else if split && rows >= 16 * parts {
            // Too few panels to share (a lone grouped-query key projection of 64 outputs):
            // each core takes a block of rows, in whole blocks of 8, over every panel.
            Parallel.forEach(parts) { part in
                let r = Parallel.share(part, of: parts, count: rows, unit: 8)
                for (p, w) in zip(products, packed) {
                    w.product(
                        x + r.lowerBound * w.inputs, rows: r.count, into: p.output + r.lowerBound * w.outputs,
                        accumulate: accumulate, panels: 0..<w.panelCount)
                }
            }
            if let epilogue { Linear.inSlices(epilogue, columns: packed[0].outputs, rows: rows) }
        } else {
            localLinear.group(x, rows, products, accumulate, epilogue)
        }
    }

    /// `splitLinear` beyond the packed product's rows: one single-threaded BLAS call per core
    /// and product.
    private static let splitBLASByColumns = Linear.oneByOne { x, rows, weight, y, accumulate in
        SplitGEMM.linear(x, rows: rows, weight: weight, into: y, accumulate: accumulate, cut: .columns)
    }

    /// The same products on the calling thread alone (inside a loop that already spreads work
    /// over the cores): packed for few rows, else one single-threaded BLAS call each.
    public static let localLinear = Linear { x, rows, products, accumulate, epilogue in
        for p in products {
            if PackedWeights.isFaster(rows: rows) {
                let packed = p.weight.packedPanels()
                packed.product(x, rows: rows, into: p.output, accumulate: accumulate, panels: 0..<packed.panelCount)
            } else {
                Parallel.withSingleThreadedBLAS { BLAS.linear(x, rows: rows, weight: p.weight, into: p.output, accumulate: accumulate) }
            }
        }
        if let epilogue, let first = products.first { epilogue(0..<first.weight.rows) }
    }

    /// Split across the cores along the output's longer side, always through BLAS (`SplitGEMM`):
    /// for the trainer's thousands of rows and its weights, which change every step and which a
    /// packed copy would have to follow.
    public static let splitBLASLinear = Linear.oneByOne { x, rows, weight, y, accumulate in
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
    /// position `position(i)`. The three projections run as one group of products.
    public static func projectQKV(
        _ normed: UnsafePointer<Float>, rows: Int, layer w: LayerWeights, config c: ModelConfig,
        rope: RoPETable, position: (Int) -> Int, q: UnsafeMutablePointer<Float>,
        k: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, linear: Linear = blasLinear
    ) {
        linear(normed, rows: rows, [Product(w.q, into: q), Product(w.k, into: k), Product(w.v, into: v)], accumulate: false)
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

    /// The keys and values that attention queries standing at one position hold each for
    /// themselves (`attendHead`'s `own`): row i's at `keys + i * stride` and `values + i * stride`,
    /// the head's columns.
    public struct OwnKeysAndValues {
        public let keys: UnsafePointer<Float>
        public let values: UnsafePointer<Float>
        public let stride: Int

        public init(keys: UnsafePointer<Float>, values: UnsafePointer<Float>, stride: Int) {
            self.keys = keys
            self.values = values
            self.stride = stride
        }
    }

    /// One attention head for `rows` queries at consecutive positions `first ..< first + rows`
    /// over the keys and values of positions `0 ..< first + rows` (rows `kvStride` apart, this
    /// head's columns): causal, within `window` when given, scaled by 1/sqrt(headDim).
    /// With `own`, the queries are instead alternatives for the one position `first` (the oracle
    /// tree's prefixes of a token): each attends to the keys and values of positions `0 ..< first`
    /// and to its own key and value at `first`.
    /// `probabilities` `[rows, context]` (the context is `first + rows`, or `first + 1` with
    /// `own`), when given (the trainer's backward needs them), receives the attention weights (0
    /// where masked); the head's output goes to `out` (rows `outStride` apart). `scratch` holds
    /// `attendScratchCount(rows:context:headDim:)` floats.
    public static func attendHead(
        q: UnsafePointer<Float>, qStride: Int, rows: Int, first: Int, keys: UnsafePointer<Float>,
        values: UnsafePointer<Float>, kvStride: Int, own: OwnKeysAndValues? = nil, headDim: Int, window: Int?,
        probabilities: UnsafeMutablePointer<Float>?, out: UnsafeMutablePointer<Float>, outStride: Int,
        scratch: UnsafeMutablePointer<Float>, simd: SIMDLevel = .active
    ) {
        let context = own == nil ? first + rows : first + 1
        // The positions of the shared keys and values.
        let shared = own == nil ? context : first
        let scale = 1 / Float(headDim).squareRoot()
        if simd != .baseline {
            // Fused in C (`duo_attend`): blocks of a few queries, each block's scores only for the
            // keys it sees, turned into weights and multiplied into the values while in L1; no
            // score matrix unless asked for. 1.3-1.4x the blocks of `causalBlock` queries through
            // the packed product that it replaced (docs/benchmarks.md, twelfth sitting). The keys
            // are packed for every query count but one: a decode step's dot products read them in
            // place (packing them cost three times the attention itself there).
            let pack = rows > 1
            let keyFloats = pack ? packedKeysCount(shared, headDim: headDim) : 0
            if pack { duo_pack_panels(keys, kvStride, shared, headDim, scale, scratch) }
            duo_attend(
                simd.rawValue, q, qStride, rows, first, keys, pack ? scratch : nil, scale, values, kvStride, own?.keys, own?.values,
                own?.stride ?? 0, headDim, window ?? 0, out, outStride, probabilities, scratch + keyFloats)
            return
        }
        // At the baseline (one query per block there) through BLAS, queries in blocks: a block
        // sees only the keys up to its last row, so the masked upper triangle is neither
        // multiplied nor exponentiated (about half of a prefill's attention).
        var start = 0
        while start < rows {
            let n = min(causalBlock, rows - start)
            let visible = own == nil ? first + start + n : first
            let scores = probabilities.map { $0 + start * context } ?? scratch
            if visible > 0 {
                BLAS.gemmABt(
                    m: n, n: visible, k: headDim, a: q + start * qStride, lda: qStride, b: keys, ldb: kvStride, c: scores,
                    ldc: context, alpha: scale)
            }
            for i in 0..<n {
                let row = scores + i * context
                if let own {
                    row[first] = scale * Ops.dot(q + (start + i) * qStride, own.keys + (start + i) * own.stride, count: headDim)
                }
                let scored = own == nil ? visible : context
                Ops.maskedSoftmax(row, count: scored, position: own == nil ? first + start + i : first, window: window)
                if scored < context { (row + scored).update(repeating: 0, count: context - scored) }
            }
            let output = out + start * outStride
            if visible > 0 {
                BLAS.gemmAB(
                    m: n, n: headDim, k: visible, a: scores, lda: context, b: values, ldb: kvStride, c: output, ldc: outStride)
            } else {
                for i in 0..<n { (output + i * outStride).update(repeating: 0, count: headDim) }
            }
            if let own {
                for i in 0..<n {
                    let weight = scores[i * context + first]
                    let value = own.values + (start + i) * own.stride
                    for j in 0..<headDim { output[i * outStride + j] += weight * value[j] }
                }
            }
            start += n
        }
    }

    /// Floats of scratch `attendHead` needs for `rows` queries over a context of `context`
    /// positions (`first + rows`, or `first + 1` with own keys) at any instruction set: the shared
    /// keys packed, and the scores of a block of queries.
    public static func attendScratchCount(rows: Int, context: Int, headDim: Int) -> Int {
        packedKeysCount(context, headDim: headDim) + max(Int(DUO_ATTEND_BLOCK_ROWS), min(rows, causalBlock)) * context
    }

    /// Floats of `count` keys packed in panels of 32 (`duo_pack_panels`).
    private static func packedKeysCount(_ count: Int, headDim: Int) -> Int { (count + 31) / 32 * 32 * headDim }

    /// Query rows per block in `attendHead`'s BLAS path and the trainer's backward: smaller blocks
    /// skip more of the masked triangle, larger ones keep the GEMMs efficient. 64 gave 4-7% faster
    /// training steps than 32 (one process, interleaved; 128 no better), the attention included.
    public static let causalBlock = 64

    /// The SwiGLU FFN of `module` over `rows` input rows `[rows, d]`:
    /// `output (+)= down(silu(gate(x)) * up(x))`. `gate` and `up` are `[rows, inner]` scratch that
    /// keep the projections; `activation` (which may be `gate`) receives `silu(gate) * up`. The
    /// gate and up projections run as one group with the activation as its epilogue, so that a
    /// core activates the columns it has just computed.
    public static func swigluFFN(
        _ module: FFNWeights, input: UnsafePointer<Float>, rows: Int, gate: UnsafeMutablePointer<Float>,
        up: UnsafeMutablePointer<Float>, activation: UnsafeMutablePointer<Float>,
        output: UnsafeMutablePointer<Float>, accumulate: Bool, linear: Linear = blasLinear
    ) {
        let inner = module.inner
        linear(input, rows: rows, [Product(module.gate, into: gate), Product(module.up, into: up)], accumulate: false) { columns in
            for i in 0..<rows {
                let at = i * inner + columns.lowerBound
                Ops.swiglu(gate: gate + at, up: up + at, into: activation + at, count: columns.count)
            }
        }
        linear(activation, rows, module.down, output, accumulate)
    }
}
