import Foundation

/// Runs a model over a sequence with a route per token per layer, keeping a KV cache so the
/// sequence can be extended a token (or a block) at a time. A full prefill and token-by-token
/// decoding go through the same code: each call appends its tokens' keys and values, then lets
/// every new token attend to all cached positions up to its own.
public final class InferenceSession: @unchecked Sendable {  // raw buffers; one thread uses a session at a time
    public let model: DuoModel
    public let cache: KVCache
    /// The routes taken so far, one row per position.
    public private(set) var routes: [[Route]] = []

    public init(model: DuoModel, capacity: Int? = nil) {
        self.model = model
        cache = KVCache(config: model.config, capacity: capacity)
    }

    public var position: Int { cache.count }

    public func reset() { rewind(to: 0) }

    /// Forgets every position from `position` on, so the sequence can continue differently.
    public func rewind(to position: Int) {
        precondition(position >= 0 && position <= cache.count, "rewind beyond the sequence")
        cache.count = position
        routes.removeLast(routes.count - position)
    }

    /// Runs `ids` at the next positions routed by `policy` and returns their logits [n, vocab].
    public func forward(_ ids: [Int], policy: RoutingPolicy) throws -> Tensor {
        let hidden = try forwardHidden(ids, policy: policy)
        return logits(of: hidden)
    }

    /// Runs `ids` and returns the final residual stream [n, hidden] (before the final norm).
    public func forwardHidden(_ ids: [Int], policy: RoutingPolicy, afterLayer: ((Int, Tensor) -> Void)? = nil) throws -> Tensor {
        let c = model.config
        let n = ids.count
        let start = cache.count
        guard n > 0 else { throw DuoError("no tokens to run") }
        guard start + n <= cache.capacity else {
            throw DuoError("sequence of \(start + n) tokens is longer than the context of \(cache.capacity)")
        }
        let x = try embed(ids)
        let scratch = layerScratch(rows: n)
        var taken = Array(repeating: [Route](), count: n)
        for layer in 0..<c.numLayers {
            if n == 1 {
                // A decode step: the layer in two parallel loops (DecodeStep.swift).
                taken[0].append(try decodeLayer(layer, x: x, position: start, policy: policy, scratch: scratch))
            } else {
                attention(layer: layer, x: x, start: start, scratch: scratch)
                let chosen = try ffn(layer: layer, x: x, positions: start..<(start + n), policy: policy, scratch: scratch)
                for i in 0..<n { taken[i].append(chosen[i]) }
            }
            afterLayer?(layer, x)
        }
        cache.count = start + n
        routes += taken
        return x
    }

    /// The token embeddings of `ids` [n, hidden]: the residual stream before layer 0.
    public func embed(_ ids: [Int]) throws -> Tensor {
        let c = model.config
        if let bad = ids.first(where: { $0 < 0 || $0 >= c.vocabSize }) {
            throw DuoError("token id \(bad) is outside the vocabulary of \(c.vocabSize)")
        }
        let x = Tensor(shape: [ids.count, c.hiddenSize])
        for (i, id) in ids.enumerated() { x.row(i).update(from: model.weights.embedding.row(id), count: c.hiddenSize) }
        return x
    }

    /// Runs layer `layer`'s attention in place over a whole sequence `x` [n, hidden] from position
    /// 0 (`x += Attn(RMSNorm(x))`). Searches over layer prefixes (the best fixed pattern) call it
    /// once per tree node, and `prefillFFN` once per child of the node, instead of running a
    /// whole forward pass per pattern: a node's children share its attention and differ only in
    /// the FFN's route. Layer `layer`'s cache entries are overwritten by each call at that layer,
    /// so the session must be empty and stays so.
    public func prefillAttention(_ layer: Int, x: Tensor) throws {
        let scratch = try prefillScratch(x)
        attention(layer: layer, x: x, start: 0, scratch: scratch)
    }

    /// `x += FFN_route(RMSNorm(x))` of layer `layer` over a whole sequence `x` [n, hidden], each
    /// token taking the route `policy` gives it (the second half of a layer after
    /// `prefillAttention`).
    public func prefillFFN(_ layer: Int, x: Tensor, policy: RoutingPolicy) throws {
        let scratch = try prefillScratch(x)
        _ = try ffn(layer: layer, x: x, positions: 0..<x.rows, policy: policy, scratch: scratch)
    }

    private func prefillScratch(_ x: Tensor) throws -> LayerScratch {
        guard cache.count == 0 else { throw DuoError("a layer-by-layer prefill needs an empty session") }
        guard x.rows <= cache.capacity else {
            throw DuoError("sequence of \(x.rows) tokens is longer than the context of \(cache.capacity)")
        }
        return layerScratch(rows: x.rows)
    }

    private var cachedScratch: LayerScratch?
    private func layerScratch(rows: Int) -> LayerScratch {
        if let s = cachedScratch, s.normed.rows == rows { return s }
        let s = LayerScratch(config: model.config, rows: rows, context: cache.capacity)
        cachedScratch = s
        return s
    }

    /// Final norm and LM head over rows of the residual stream.
    public func logits(of hidden: Tensor) -> Tensor {
        let c = model.config
        let n = hidden.rows
        let normed = Tensor(shape: [n, c.hiddenSize])
        LayerKernels.rmsNorm(
            hidden.data, rows: n, width: c.hiddenSize, weight: model.weights.finalNorm.data, eps: c.rmsNormEps, into: normed.data)
        let out = Tensor(shape: [n, c.vocabSize])
        LayerKernels.splitLinear(normed.data, n, model.weights.lmHead, out.data, false)
        return out
    }

    /// `x += Attn(RMSNorm(x))` for the new rows, appending their keys and values to the cache. Each
    /// row attends to the cached positions up to its own (within the layer's sliding window, if any).
    private func attention(layer: Int, x: Tensor, start: Int, scratch s: LayerScratch) {
        let c = model.config
        let w = model.weights.layers[layer]
        let n = x.rows
        let hd = c.headDim
        let keys = cache.keys[layer]
        let values = cache.values[layer]
        inRowShares(n) { r, linear in
            let first = r.lowerBound
            LayerKernels.rmsNorm(
                x.row(first), rows: r.count, width: c.hiddenSize, weight: w.inputNorm.data, eps: c.rmsNormEps, into: s.normed.row(first))
            LayerKernels.projectQKV(
                s.normed.row(first), rows: r.count, layer: w, config: c, rope: model.rope, position: { start + first + $0 },
                q: s.q.row(first), k: keys.row(start + first), v: values.row(start + first), linear: linear)
        }
        let group = c.numHeads / c.numKVHeads
        let window = c.attentionWindow(layer: layer)
        // Heads side by side on the cores; each writes its own output columns.
        func attendHead(_ h: Int) {
            let g = h / group
            LayerKernels.attendHead(
                q: s.q.data + h * hd, qStride: c.qWidth, rows: n, first: start,
                keys: keys.data + g * hd, values: values.data + g * hd, kvStride: c.kvWidth, headDim: hd,
                window: window, probabilities: nil,
                out: s.attended.data + h * hd, outStride: c.qWidth, scratch: s.attention.row(h))
        }
        Parallel.withSingleThreadedBLAS { Parallel.forEach(c.numHeads, attendHead) }
        inRowShares(n) { r, linear in linear(s.attended.row(r.lowerBound), r.count, w.o, x.row(r.lowerBound), true) }
    }

    /// `body(rows, linear)` over the rows of a prefill: for enough rows, one share of whole
    /// blocks of 8 rows per core, side by side as jobs, each running its own products
    /// (`LayerKernels.localLinear`) and loops on its own core, so that a layer's steps wait for
    /// each other once per share rather than once per product; otherwise once over all rows with
    /// the products split across the cores (`LayerKernels.splitLinear`).
    private func inRowShares(_ n: Int, _ body: (Range<Int>, LayerKernels.Linear) -> Void) {
        let parts = Parallel.workers
        guard parts > 1, !Parallel.isInsideJob, n >= 16 * parts else { return body(0..<n, LayerKernels.splitLinear) }
        Parallel.withSingleThreadedBLAS {
            Parallel.forEachJob(parts) { p in body(Parallel.share(p, of: parts, count: n, unit: 8), LayerKernels.localLinear) }
        }
    }

    /// `x += FFN_route(RMSNorm(x))`, rows grouped by route so each module runs as one GEMM.
    private func ffn(layer: Int, x: Tensor, positions: Range<Int>, policy: RoutingPolicy, scratch s: LayerScratch) throws -> [Route] {
        let c = model.config
        let w = model.weights.layers[layer]
        let n = x.rows
        let d = c.hiddenSize
        inRowShares(n) { r, _ in
            LayerKernels.rmsNorm(
                x.row(r.lowerBound), rows: r.count, width: d, weight: w.postNorm.data, eps: c.rmsNormEps, into: s.normed.row(r.lowerBound))
        }
        let chosen = policy.routes(layer: layer, positions: positions, ffnInput: s.normed.data, width: d)
        guard chosen.count == n else { throw DuoError("policy \(policy.name) returned \(chosen.count) routes for \(n) tokens") }
        for route in [Route.small, .big] {
            let rows = chosen.indices.filter { chosen[$0] == route }
            guard !rows.isEmpty else { continue }
            guard let module = w.ffn(route) else {
                throw Self.noSmallFFN(policy)
            }
            try runFFN(module, rows: rows, x: x, scratch: s)
        }
        return chosen
    }

    /// The error of a policy that routes to the small FFN of a model without one.
    static func noSmallFFN(_ policy: RoutingPolicy) -> DuoError {
        DuoError("policy \(policy.name) routes to the small FFN, but this model has no small FFN (plain Llama config)")
    }

    private func runFFN(_ module: FFNWeights, rows: [Int], x: Tensor, scratch s: LayerScratch) throws {
        let d = model.config.hiddenSize
        let m = rows.count
        let all = m == x.rows
        let input: UnsafeMutablePointer<Float>
        if all {
            input = s.normed.data
        } else {
            for (k, r) in rows.enumerated() { s.gathered.row(k).update(from: s.normed.row(r), count: d) }
            input = s.gathered.data
        }
        let output = all ? x.data : s.ffnOut.data
        inRowShares(m) { r, linear in
            let (first, inner) = (r.lowerBound, module.inner)
            LayerKernels.swigluFFN(
                module, input: input + first * d, rows: r.count, gate: s.gate.data + first * inner, up: s.up.data + first * inner,
                activation: s.gate.data + first * inner, output: output + first * d, accumulate: all, linear: linear)
        }
        if !all {
            for (k, r) in rows.enumerated() { Ops.add(s.ffnOut.row(k), into: x.row(r), count: d) }
        }
    }
}

/// Scratch buffers for forward calls of a number of rows (a session keeps the last ones it used).
final class LayerScratch {
    let normed, q, attended, gathered, gate, up, ffnOut: Tensor
    /// Each head's `LayerKernels.attendHead` scratch, a row per head.
    let attention: Tensor
    /// A decode step's rows per core (`DecodePart`).
    let decodeParts: Tensor

    /// For `n` rows at a time in a context of up to `context` positions.
    init(config c: ModelConfig, rows n: Int, context: Int) {
        let inner = max(c.intermediateSize, c.smallIntermediateSize ?? 0)
        normed = Tensor(shape: [n, c.hiddenSize])
        q = Tensor(shape: [n, c.qWidth])
        attended = Tensor(shape: [n, c.qWidth])
        gathered = Tensor(shape: [n, c.hiddenSize])
        gate = Tensor(shape: [n, inner])
        up = Tensor(shape: [n, inner])
        ffnOut = Tensor(shape: [n, c.hiddenSize])
        attention = Tensor(shape: [c.numHeads, LayerKernels.attendScratchCount(rows: n, context: context, headDim: c.headDim)])
        decodeParts = Tensor(shape: [n == 1 ? Parallel.workers : 1, DecodePart.width(c)])
    }
}
