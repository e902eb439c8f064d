import Foundation

/// A decode step (one new token) through a layer in two parallel loops instead of five. The
/// cores share the token's work by key-value head and by inner feature rather than product by
/// product: in the first loop each core projects q, k and v for its own key-value heads, rotates
/// them, attends with them and multiplies its heads' outputs by their columns of o (a partial
/// sum); in the second it runs its share of the FFN's inner features through gate, up, the
/// activation and their columns of down (a partial sum again). The partial sums are added into
/// the residual stream between the loops. A step reads each weight once, so its time goes with
/// the weights' bytes plus a wait at every loop: 61 loops per token on the sample model became 25.
/// The steps are the layer kernels' (`LayerKernels`, `PackedWeights`, `RoPETable`, `Ops`); only
/// the schedule is this file's. The partial sums make the results depend on the number of cores
/// at the level of float rounding (a prefill's do not).
extension InferenceSession {
    /// Layer `layer` for the one row `x` at `position`: `x += Attn(RMSNorm(x))`, appending its key
    /// and value to the cache, then `x += FFN_route(RMSNorm(x))` with the route `policy` gives it.
    func decodeLayer(_ layer: Int, x: Tensor, position: Int, policy: RoutingPolicy, scratch s: LayerScratch) throws -> Route {
        let c = model.config
        let w = model.weights.layers[layer]
        let d = c.hiddenSize
        let hd = c.headDim
        let group = c.numHeads / c.numKVHeads
        let keys = cache.keys[layer]
        let values = cache.values[layer]
        let window = c.attentionWindow(layer: layer)
        let (q, k, v, o) = (w.q.packedPanels(), w.k.packedPanels(), w.v.packedPanels(), w.o.packedPanels())
        Ops.rmsNorm(x.data, rows: 1, width: d, weight: w.inputNorm.data, eps: c.rmsNormEps, into: s.normed.data)
        let attentionParts = min(s.decodeParts.rows, c.numKVHeads)
        Parallel.forEach(attentionParts) { p in
            let part = DecodePart(s.decodeParts.row(p), config: c)
            let groups = Parallel.share(p, of: attentionParts, count: c.numKVHeads)
            let heads = (groups.lowerBound * group)..<(groups.upperBound * group)
            let qColumns = (heads.lowerBound * hd)..<(heads.upperBound * hd)
            let kvColumns = (groups.lowerBound * hd)..<(groups.upperBound * hd)
            // The panels that cover the part's columns, into the part's own rows (a panel at
            // the edge holds another part's columns too).
            q.product(s.normed.data, rows: 1, into: part.q, accumulate: false, panels: Self.panels(covering: qColumns))
            k.product(s.normed.data, rows: 1, into: part.k, accumulate: false, panels: Self.panels(covering: kvColumns))
            v.product(s.normed.data, rows: 1, into: part.v, accumulate: false, panels: Self.panels(covering: kvColumns))
            if let bias = w.qkvBias {
                for (b, y, columns) in [(bias.q, part.q, qColumns), (bias.k, part.k, kvColumns), (bias.v, part.v, kvColumns)] {
                    Ops.addBias(b.data + columns.lowerBound, rows: 1, width: columns.count, into: y + columns.lowerBound)
                }
            }
            model.rope.apply(part.q + qColumns.lowerBound, heads: heads.count, position: position)
            model.rope.apply(part.k + kvColumns.lowerBound, heads: groups.count, position: position)
            (keys.row(position) + kvColumns.lowerBound).update(from: part.k + kvColumns.lowerBound, count: kvColumns.count)
            (values.row(position) + kvColumns.lowerBound).update(from: part.v + kvColumns.lowerBound, count: kvColumns.count)
            for h in heads {
                let g = h / group
                LayerKernels.attendHead(
                    q: part.q + h * hd, qStride: c.qWidth, rows: 1, first: position, keys: keys.data + g * hd,
                    values: values.data + g * hd, kvStride: c.kvWidth, headDim: hd, window: window, probabilities: nil,
                    out: s.attended.data + h * hd, outStride: c.qWidth, scratch: s.attention.row(h))
            }
            // Part 0 adds into the residual stream; the others' sums wait in their own rows.
            o.product(
                s.attended.data, rows: 1, into: p == 0 ? x.data : part.sum, accumulate: p == 0, panels: 0..<o.panelCount,
                over: qColumns)
        }
        addPartialSums(attentionParts, into: x, scratch: s)

        Ops.rmsNorm(x.data, rows: 1, width: d, weight: w.postNorm.data, eps: c.rmsNormEps, into: s.normed.data)
        let chosen = policy.routes(layer: layer, positions: position..<(position + 1), ffnInput: s.normed.data, width: d)
        guard chosen.count == 1 else { throw DuoError("policy \(policy.name) returned \(chosen.count) routes for 1 token") }
        guard chosen[0] != .skip else { return .skip }
        guard let module = w.ffn(chosen[0]) else { throw Self.noSmallFFN(policy) }
        let (gate, up, down) = (module.gate.packedPanels(), module.up.packedPanels(), module.down.packedPanels())
        let ffnParts = min(s.decodeParts.rows, gate.panelCount)
        Parallel.forEach(ffnParts) { p in
            let panels = Parallel.share(p, of: ffnParts, count: gate.panelCount)
            let columns = (panels.lowerBound * 32)..<min(module.inner, panels.upperBound * 32)
            gate.product(s.normed.data, rows: 1, into: s.gate.data, accumulate: false, panels: panels)
            up.product(s.normed.data, rows: 1, into: s.up.data, accumulate: false, panels: panels)
            let at = columns.lowerBound
            Ops.swiglu(gate: s.gate.data + at, up: s.up.data + at, into: s.gate.data + at, count: columns.count)
            let sum = DecodePart(s.decodeParts.row(p), config: c).sum
            down.product(
                s.gate.data, rows: 1, into: p == 0 ? x.data : sum, accumulate: p == 0, panels: 0..<down.panelCount, over: columns)
        }
        addPartialSums(ffnParts, into: x, scratch: s)
        return chosen[0]
    }

    /// The panels of 32 outputs that hold `columns`.
    private static func panels(covering columns: Range<Int>) -> Range<Int> {
        (columns.lowerBound / 32)..<((columns.upperBound + 31) / 32)
    }

    /// `x +=` the partial sums of parts 1 ..< `parts`, in order.
    private func addPartialSums(_ parts: Int, into x: Tensor, scratch s: LayerScratch) {
        for p in 1..<max(parts, 1) { Ops.add(DecodePart(s.decodeParts.row(p), config: model.config).sum, into: x.data, count: x.columns) }
    }
}

/// One core's rows in a decode step (a row of `LayerScratch.decodeParts`): its q, k and v (whole
/// rows, of which it fills its heads' columns) and its partial sum of the residual stream.
struct DecodePart {
    let q, k, v, sum: UnsafeMutablePointer<Float>

    init(_ row: UnsafeMutablePointer<Float>, config c: ModelConfig) {
        q = row
        k = q + c.qWidth
        v = k + c.kvWidth
        sum = v + c.kvWidth
    }

    /// Floats of one part's row.
    static func width(_ c: ModelConfig) -> Int { c.qWidth + 2 * c.kvWidth + c.hiddenSize }
}
