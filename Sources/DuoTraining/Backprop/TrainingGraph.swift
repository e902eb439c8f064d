import DuoEngine
import Foundation

/// Forward and backward of a whole Duo model over a batch of equal-length sequences with a
/// given route per token per layer — the stage-1 training computation. Rows routed to each FFN
/// module are gathered, run as one GEMM, and scattered back; skip runs no FFN. Activations are
/// kept in buffers allocated once for the batch shape, so a training step allocates nothing.
///
/// The work is split across the cores by sequences (data parallel, `Shard`): the forward pass of
/// a group of sequences, and the backward pass of a layer up to its weight gradients, need no
/// other sequence, so each core runs them for its own group with single-threaded products and
/// no fork/join inside. Only each layer's weight gradients, sums over all rows, wait for every
/// group; they run as products over all rows split across the cores by output, so every
/// gradient is the same sum, in the same order, however many groups there are.
public final class TrainingGraph {
    public let config: ModelConfig
    public let batch: Int
    public let length: Int
    public var rows: Int { batch * length }
    let rope: RoPETable
    /// Groups of sequences run side by side; nil: one per core (at most one per sequence).
    var shardCount: Int?

    /// What one layer's backward pass needs from its forward pass.
    final class LayerActivations {
        let input, normed1, q, k, v, attended, mid, normed2: Tensor
        let inverseRMS1, inverseRMS2: Tensor
        /// Attention probabilities, [batch * heads, length, length].
        let probabilities: Tensor
        var modules: [ModuleActivations]

        init(_ c: ModelConfig, rows n: Int, batch: Int, length: Int) {
            input = Tensor(shape: [n, c.hiddenSize])
            normed1 = Tensor(shape: [n, c.hiddenSize])
            q = Tensor(shape: [n, c.qWidth])
            k = Tensor(shape: [n, c.kvWidth])
            v = Tensor(shape: [n, c.kvWidth])
            attended = Tensor(shape: [n, c.qWidth])
            mid = Tensor(shape: [n, c.hiddenSize])
            normed2 = Tensor(shape: [n, c.hiddenSize])
            inverseRMS1 = Tensor(shape: [n])
            inverseRMS2 = Tensor(shape: [n])
            probabilities = Tensor(shape: [batch * c.numHeads, length, length])
            modules = []
            modules.append(ModuleActivations(route: .big, inner: c.intermediateSize, rows: n, width: c.hiddenSize))
            if let small = c.smallIntermediateSize {
                modules.append(ModuleActivations(route: .small, inner: small, rows: n, width: c.hiddenSize))
            }
        }
    }

    /// One FFN module's rows, intermediate values and the gradients its weight gradients need,
    /// in one layer. Row `i` of each buffer belongs to batch row `rows[i]`.
    final class ModuleActivations {
        let route: Route
        /// The batch rows routed to this module, in order.
        var rows: [Int] = []
        let input, gate, up, act: Tensor
        /// The module's output rows (kept for soft mixing, where dLoss/dP needs them).
        let output: Tensor
        /// dLoss/d(output), dLoss/d(gate) (first dLoss/d(act)) and dLoss/d(up).
        let dOutput, dGate, dUp: Tensor

        init(route: Route, inner: Int, rows n: Int, width: Int) {
            self.route = route
            input = Tensor(shape: [n, width])
            gate = Tensor(shape: [n, inner])
            up = Tensor(shape: [n, inner])
            act = Tensor(shape: [n, inner])
            output = Tensor(shape: [n, width])
            dOutput = Tensor(shape: [n, width])
            dGate = Tensor(shape: [n, inner])
            dUp = Tensor(shape: [n, inner])
        }

        /// The positions in `rows` of the batch rows `batchRows` (`rows` is sorted).
        func positions(of batchRows: Range<Int>) -> Range<Int> {
            func firstAtOrAfter(_ row: Int) -> Int {
                var (low, high) = (0, rows.count)
                while low < high {
                    let mid = (low + high) / 2
                    if rows[mid] < row { low = mid + 1 } else { high = mid }
                }
                return low
            }
            return firstAtOrAfter(batchRows.lowerBound)..<firstAtOrAfter(batchRows.upperBound)
        }
    }

    /// A group of whole sequences and its rows, which one core runs on its own.
    struct Shard {
        let sequences: Range<Int>
        let rows: Range<Int>
    }

    let layers: [LayerActivations]
    let final: Tensor, finalNormed: Tensor, finalInverseRMS: Tensor
    let logits: Tensor
    /// `LayerKernels.attendHead`'s scratch in the forward pass, a row per sequence.
    let attentionScratch: Tensor
    // Backward scratch.
    let dx, dMid, dNormed, dAttended, dQ, dK, dV, dProbabilities, dIn: Tensor
    /// dLoss/d(route probabilities) of one layer under soft mixing, [rows, routes].
    var dRouteProbabilities = Tensor(shape: [0])
    /// The norm gains' gradients per sequence, summed over the sequences in order once every
    /// group is done (`rmsNormBackward`, `addGainGradients`): [2 norms, batch, hidden].
    let gainPartials: Tensor
    /// Each row's cross-entropy (nats) in the last pass (the groups of sequences write their own
    /// rows at once, so a buffer rather than an array, which each would access as a whole).
    let rowLoss: UnsafeMutableBufferPointer<Double>

    public init(config c: ModelConfig, batch: Int, length: Int) {
        config = c
        self.batch = batch
        self.length = length
        rope = RoPETable(config: c, positions: max(length, 1))
        let n = batch * length
        layers = (0..<c.numLayers).map { _ in LayerActivations(c, rows: n, batch: batch, length: length) }
        final = Tensor(shape: [n, c.hiddenSize])
        finalNormed = Tensor(shape: [n, c.hiddenSize])
        finalInverseRMS = Tensor(shape: [n])
        logits = Tensor(shape: [n, c.vocabSize])
        attentionScratch = Tensor(
            shape: [max(batch, 1), LayerKernels.attendScratchCount(rows: length, context: length, headDim: c.headDim)])
        dx = Tensor(shape: [n, c.hiddenSize])
        dMid = Tensor(shape: [n, c.hiddenSize])
        dNormed = Tensor(shape: [n, c.hiddenSize])
        dAttended = Tensor(shape: [n, c.qWidth])
        dQ = Tensor(shape: [n, c.qWidth])
        dK = Tensor(shape: [n, c.kvWidth])
        dV = Tensor(shape: [n, c.kvWidth])
        dProbabilities = Tensor(shape: [batch, length, length])
        dIn = Tensor(shape: [n, c.hiddenSize])
        gainPartials = Tensor(shape: [2, max(batch, 1), c.hiddenSize])
        rowLoss = .allocate(capacity: n)
        rowLoss.initialize(repeating: 0)
    }

    deinit { rowLoss.deallocate() }

    /// Runs the batch and returns the mean cross-entropy (nats) over all `rows` targets. With
    /// `gradients`, also accumulates dLoss/dParameter into them (zero them first).
    /// `inputs`, `targets`: `rows` token ids, sequence-major; `routes`: `rows * layers`, token-major.
    public func run(weights w: ModelWeights, inputs: [Int], targets: [Int], routes: [Route], gradients: ModelWeights?) -> Double {
        precondition(routes.count == rows * config.numLayers, "TrainingGraph: routes shape")
        return run(weights: w, inputs: inputs, targets: targets, routing: .hard(routes), gradients: gradients)
    }

    /// How the FFNs are chosen: fixed routes, or a router's soft mix (stage 3).
    public enum Routing {
        case hard([Route])
        case soft(RouterMixing)
    }

    /// As above; with `.soft` the return value is the cross-entropy plus the router's budget
    /// penalty, and router gradients are accumulated into the mixing's `gradients` (the model's
    /// own `gradients` may then be nil: the LM is frozen).
    public func run(weights w: ModelWeights, inputs: [Int], targets: [Int], routing: Routing, gradients: ModelWeights?) -> Double {
        // Every product is single-threaded, on the core of its group of sequences or split
        // over the cores by `SplitGEMM`, never by BLAS's threads.
        Parallel.withSingleThreadedBLAS {
            step(weights: w, inputs: inputs, targets: targets, routing: routing, gradients: gradients)
        }
    }

    private func step(weights w: ModelWeights, inputs: [Int], targets: [Int], routing: Routing, gradients: ModelWeights?) -> Double {
        let c = config
        precondition(inputs.count == rows && targets.count == rows, "TrainingGraph: batch shape")
        var mixing: RouterMixing?
        if case .soft(let m) = routing {
            m.prepare(rows: rows, layers: c.numLayers)
            mixing = m
            if dRouteProbabilities.shape != [rows, m.router.routes.count] {
                dRouteProbabilities = Tensor(shape: [rows, m.router.routes.count])
            }
        }
        for l in 0..<c.numLayers {
            for module in layers[l].modules {
                switch routing {
                case .hard(let routes): module.rows = (0..<rows).filter { routes[$0 * c.numLayers + l] == module.route }
                case .soft(let m): module.rows = m.router.routes.contains(module.route) ? Array(0..<rows) : []
                }
            }
        }
        // Soft mixing works on all rows at once (the router's penalty couples them).
        let shards = self.shards(count: mixing == nil ? shardCount ?? min(batch, Parallel.workers) : 1)
        let train = gradients != nil || mixing != nil
        inShards(shards) { shard in
            forward(shard, weights: w, inputs: inputs, targets: targets, routing: routing, keepGradient: train)
        }
        var loss = rowLoss.reduce(0, +) / Double(rows)
        if let mixing { loss += mixing.finishForward(rows: rows) }
        guard train else { return loss }
        if let g = gradients {
            SplitGEMM.gemmAtB(
                m: c.vocabSize, n: c.hiddenSize, k: rows, a: logits.data, lda: c.vocabSize, b: finalNormed.data,
                ldb: c.hiddenSize, c: g.lmHead.data, ldc: c.hiddenSize, beta: 1)
            addGainGradients(0, into: g.finalNorm)
        }
        for l in stride(from: c.numLayers - 1, through: 0, by: -1) {
            inShards(shards) { shard in
                backwardLayer(l, shard, weights: w.layers[l], mixing: mixing)
            }
            if let g = gradients { weightGradients(l, into: g.layers[l]) }
        }
        if let g = gradients {
            for (t, id) in inputs.enumerated() { Ops.add(dx.row(t), into: g.embedding.row(id), count: c.hiddenSize) }
        }
        return loss
    }

    /// The batch's sequences cut into `count` groups of whole sequences.
    private func shards(count: Int) -> [Shard] {
        let parts = max(1, min(count, batch))
        return (0..<parts).map { p in
            let sequences = Parallel.share(p, of: parts, count: batch)
            return Shard(sequences: sequences, rows: sequences.lowerBound * length..<sequences.upperBound * length)
        }
    }

    /// `body` for every shard: side by side on the cores as jobs (each job's products and loops
    /// on its own core), or directly for one shard (its loops then spread over the cores).
    private func inShards(_ shards: [Shard], _ body: (Shard) -> Void) {
        if shards.count == 1 { return body(shards[0]) }
        Parallel.forEachJob(shards.count) { body(shards[$0]) }
    }

    // MARK: forward

    /// The forward pass of one shard's sequences through every layer and the LM head, each
    /// row's cross-entropy into `rowLoss`; with `keepGradient` also the backward of the loss, the
    /// LM head and the final norm, leaving dLoss/d(last layer's output) in `dx`.
    private func forward(_ s: Shard, weights w: ModelWeights, inputs: [Int], targets: [Int], routing: Routing, keepGradient: Bool) {
        let c = config
        let d = c.hiddenSize
        let r = s.rows
        for t in r { layers[0].input.row(t).update(from: w.embedding.row(inputs[t]), count: d) }
        for l in 0..<c.numLayers {
            let output = l + 1 < c.numLayers ? layers[l + 1].input : final
            forwardLayer(l, s, weights: w.layers[l], routing: routing, output: output)
        }
        rmsNorm(final, r, weight: w.finalNorm, into: finalNormed, inverseRMS: finalInverseRMS)
        SplitGEMM.linear(finalNormed.row(r.lowerBound), rows: r.count, weight: w.lmHead, into: logits.row(r.lowerBound))
        crossEntropy(r, targets: targets, keepGradient: keepGradient)
        guard keepGradient else { return }
        SplitGEMM.gemmAB(
            m: r.count, n: d, k: c.vocabSize, a: logits.row(r.lowerBound), lda: c.vocabSize, b: w.lmHead.data, ldb: d,
            c: dNormed.row(r.lowerBound), ldc: d)
        LayerKernels.zero(dx.row(r.lowerBound), count: r.count * d)
        rmsNormBackward(s, dy: dNormed, x: final, inverseRMS: finalInverseRMS, weight: w.finalNorm, dx: dx, gain: 0)
    }

    private func forwardLayer(_ l: Int, _ s: Shard, weights w: LayerWeights, routing: Routing, output: Tensor) {
        let c = config
        let a = layers[l]
        let r = s.rows
        let first = r.lowerBound
        let d = c.hiddenSize
        let hd = c.headDim
        rmsNorm(a.input, r, weight: w.inputNorm, into: a.normed1, inverseRMS: a.inverseRMS1)
        let T = length
        LayerKernels.projectQKV(
            a.normed1.row(first), rows: r.count, layer: w, config: c, rope: rope, position: { (first + $0) % T },
            q: a.q.row(first), k: a.k.row(first), v: a.v.row(first), linear: LayerKernels.splitBLASLinear)
        let group = c.numHeads / c.numKVHeads
        let window = c.attentionWindow(layer: l)
        // Attention per sequence: small GEMMs, the group's sequences side by side on the cores when the step runs as one group.
        Parallel.forEach(s.sequences.count) { i in
            let b = s.sequences.lowerBound + i
            for h in 0..<c.numHeads {
                let g = h / group
                LayerKernels.attendHead(
                    q: a.q.row(b * T) + h * hd, qStride: c.qWidth, rows: T, first: 0,
                    keys: a.k.row(b * T) + g * hd, values: a.v.row(b * T) + g * hd, kvStride: c.kvWidth,
                    headDim: hd, window: window,
                    probabilities: a.probabilities.data + (b * c.numHeads + h) * T * T,
                    out: a.attended.row(b * T) + h * hd, outStride: c.qWidth, scratch: attentionScratch.row(b))
            }
        }
        LayerKernels.copy(a.input.row(first), into: a.mid.row(first), count: r.count * d)
        SplitGEMM.linear(a.attended.row(first), rows: r.count, weight: w.o, into: a.mid.row(first), accumulate: true)
        rmsNorm(a.mid, r, weight: w.postNorm, into: a.normed2, inverseRMS: a.inverseRMS2)
        LayerKernels.copy(a.mid.row(first), into: output.row(first), count: r.count * d)
        var mixing: RouterMixing?
        if case .soft(let m) = routing {
            m.forward(layer: l, input: a.normed2.data, rows: rows)
            mixing = m
        }
        for module in a.modules {
            let p = module.positions(of: r)
            guard !p.isEmpty, let ffn = w.ffn(module.route) else { continue }
            gather(module.rows, p, of: a.normed2, into: module.input)
            LayerKernels.swigluFFN(
                ffn, input: module.input.row(p.lowerBound), rows: p.count, gate: module.gate.row(p.lowerBound),
                up: module.up.row(p.lowerBound), activation: module.act.row(p.lowerBound), output: module.output.row(p.lowerBound),
                accumulate: false, linear: LayerKernels.splitBLASLinear)
            if let mixing, let j = mixing.router.routes.firstIndex(of: module.route) {
                let probabilities = mixing.probabilities[l]
                for t in r {
                    let weight = probabilities.row(t)[j]
                    let out = module.output.row(t)
                    let target = output.row(t)
                    for i in 0..<d { target[i] += weight * out[i] }
                }
            } else {
                scatterAdd(module.output, p, to: module.rows, p, of: output)
            }
        }
    }

    /// Each row's cross-entropy into `rowLoss`; leaves dLoss/dlogits (of the mean over all
    /// `rows`) in `logits` when `keepGradient`.
    private func crossEntropy(_ r: Range<Int>, targets: [Int], keepGradient: Bool) {
        let v = config.vocabSize
        let inverseRows = 1 / Float(rows)
        let out = rowLoss
        Parallel.forEachSlice(r.count, minimum: 64) { slice in
            for t in (r.lowerBound + slice.lowerBound)..<(r.lowerBound + slice.upperBound) {
                let row = logits.row(t)
                let target = row[targets[t]]
                guard keepGradient else {
                    out[t] = Ops.logSumExp(row, count: v) - Double(target)
                    continue
                }
                let maximum = Ops.maximum(row, count: v)
                let sum = Ops.exponentiate(row, count: v, minus: maximum)
                let scale = inverseRows / sum
                for j in 0..<v { row[j] *= scale }
                row[targets[t]] -= inverseRows
                out[t] = Double(maximum) + log(Double(sum)) - Double(target)
            }
        }
    }

    // MARK: backward

    /// The backward pass of layer `l` over one shard's rows, without the weights' gradients
    /// (`weightGradients`): on entry `dx` holds dLoss/d(layer output), on exit dLoss/d(layer
    /// input); the gradients that the weight gradients need stay in the modules' `dOutput`,
    /// `dGate` and `dUp`, in `dMid`, `dQ`, `dK`, `dV`, and the gains' in `gainPartials`.
    private func backwardLayer(_ l: Int, _ s: Shard, weights w: LayerWeights, mixing: RouterMixing?) {
        let c = config
        let a = layers[l]
        let r = s.rows
        let first = r.lowerBound
        let n = r.count
        let d = c.hiddenSize
        let hd = c.headDim
        let T = length
        // FFN modules.
        LayerKernels.zero(dNormed.row(first), count: n * d)
        if mixing != nil { dRouteProbabilities.zero() }
        for module in a.modules {
            let p = module.positions(of: r)
            guard !p.isEmpty, let ffn = w.ffn(module.route) else { continue }
            let inner = ffn.inner
            let (dOut, dAct, dUp) = (module.dOutput.row(p.lowerBound), module.dGate.row(p.lowerBound), module.dUp.row(p.lowerBound))
            if let mixing, let j = mixing.router.routes.firstIndex(of: module.route) {
                // Soft mix over all rows: dP = <dy, output>, and the module sees p * dy.
                let probabilities = mixing.probabilities[l]
                for t in r {
                    let dy = dx.row(t)
                    let out = module.output.row(t)
                    let target = module.dOutput.row(t)
                    var dot: Float = 0
                    for i in 0..<d { dot += dy[i] * out[i] }
                    dRouteProbabilities.row(t)[j] = dot
                    let weight = probabilities.row(t)[j]
                    for i in 0..<d { target[i] = weight * dy[i] }
                }
            } else {
                gather(module.rows, p, of: dx, into: module.dOutput)
            }
            let m = p.count
            SplitGEMM.gemmAB(m: m, n: inner, k: d, a: dOut, lda: d, b: ffn.down.data, ldb: inner, c: dAct, ldc: inner)
            let (gate, up) = (module.gate.row(p.lowerBound), module.up.row(p.lowerBound))
            Parallel.forEachSlice(m * inner, minimum: 32768) { r in
                BackwardOps.swigluBackward(
                    dact: dAct + r.lowerBound, gate: gate + r.lowerBound, up: up + r.lowerBound,
                    du: dUp + r.lowerBound, count: r.count)
            }
            // dLoss/d(module input) in this shard's own rows of `dIn`.
            let dInput = dIn.row(first)
            SplitGEMM.gemmAB(m: m, n: d, k: inner, a: dAct, lda: inner, b: ffn.gate.data, ldb: d, c: dInput, ldc: d)
            SplitGEMM.gemmAB(m: m, n: d, k: inner, a: dUp, lda: inner, b: ffn.up.data, ldb: d, c: dInput, ldc: d, beta: 1)
            scatterAdd(dIn, first..<(first + m), to: module.rows, p, of: dNormed)
        }
        if let mixing {
            mixing.backward(layer: l, dp: dRouteProbabilities, input: a.normed2.data, rows: rows, dInput: dNormed.data)
        }
        LayerKernels.copy(dx.row(first), into: dMid.row(first), count: n * d)
        rmsNormBackward(s, dy: dNormed, x: a.mid, inverseRMS: a.inverseRMS2, weight: w.postNorm, dx: dMid, gain: 0)
        // Attention output projection.
        SplitGEMM.gemmAB(
            m: n, n: c.qWidth, k: d, a: dMid.row(first), lda: d, b: w.o.data, ldb: c.qWidth, c: dAttended.row(first), ldc: c.qWidth)
        // Attention heads.
        let group = c.numHeads / c.numKVHeads
        // Per sequence (side by side when the step runs as one group); each writes only its own rows of dQ, dK, dV.
        Parallel.forEach(s.sequences.count) { i in
            let b = s.sequences.lowerBound + i
            dK.row(b * T).update(repeating: 0, count: T * c.kvWidth)
            dV.row(b * T).update(repeating: 0, count: T * c.kvWidth)
            let dp = dProbabilities.data + b * T * T
            for h in 0..<c.numHeads {
                let kv = h / group
                let p = a.probabilities.data + (b * c.numHeads + h) * T * T
                let dO = dAttended.row(b * T) + h * hd
                BackwardOps.attendHeadBackward(
                    q: a.q.row(b * T) + h * hd, qStride: c.qWidth, keys: a.k.row(b * T) + kv * hd,
                    values: a.v.row(b * T) + kv * hd, kvStride: c.kvWidth, rows: T, headDim: hd,
                    probabilities: p, dOut: dO, dOutStride: c.qWidth, scratch: dp,
                    dQ: dQ.row(b * T) + h * hd, dK: dK.row(b * T) + kv * hd, dV: dV.row(b * T) + kv * hd)
            }
            for t in b * T..<(b + 1) * T {
                rope.applyInverse(dQ.row(t), heads: c.numHeads, position: t % T)
                rope.applyInverse(dK.row(t), heads: c.numKVHeads, position: t % T)
            }
        }
        // q, k, v projections.
        let dNormed1 = dNormed.row(first)
        SplitGEMM.gemmAB(m: n, n: d, k: c.qWidth, a: dQ.row(first), lda: c.qWidth, b: w.q.data, ldb: d, c: dNormed1, ldc: d)
        SplitGEMM.gemmAB(m: n, n: d, k: c.kvWidth, a: dK.row(first), lda: c.kvWidth, b: w.k.data, ldb: d, c: dNormed1, ldc: d, beta: 1)
        SplitGEMM.gemmAB(m: n, n: d, k: c.kvWidth, a: dV.row(first), lda: c.kvWidth, b: w.v.data, ldb: d, c: dNormed1, ldc: d, beta: 1)
        LayerKernels.copy(dMid.row(first), into: dx.row(first), count: n * d)
        rmsNormBackward(s, dy: dNormed, x: a.input, inverseRMS: a.inverseRMS1, weight: w.inputNorm, dx: dx, gain: 1)
    }

    /// Layer `l`'s weight gradients, accumulated into `g`, from what `backwardLayer` left for
    /// every shard: each a product over all rows, split across the cores by its output.
    private func weightGradients(_ l: Int, into g: LayerWeights) {
        let c = config
        let a = layers[l]
        let n = rows
        let d = c.hiddenSize
        for module in a.modules {
            let m = module.rows.count
            guard m > 0, let gffn = g.ffn(module.route) else { continue }
            let inner = gffn.inner
            SplitGEMM.gemmAtB(
                m: d, n: inner, k: m, a: module.dOutput.data, lda: d, b: module.act.data, ldb: inner, c: gffn.down.data, ldc: inner,
                beta: 1)
            SplitGEMM.gemmAtB(
                m: inner, n: d, k: m, a: module.dGate.data, lda: inner, b: module.input.data, ldb: d, c: gffn.gate.data, ldc: d,
                beta: 1)
            SplitGEMM.gemmAtB(
                m: inner, n: d, k: m, a: module.dUp.data, lda: inner, b: module.input.data, ldb: d, c: gffn.up.data, ldc: d, beta: 1)
        }
        SplitGEMM.gemmAtB(
            m: d, n: c.qWidth, k: n, a: dMid.data, lda: d, b: a.attended.data, ldb: c.qWidth, c: g.o.data, ldc: c.qWidth, beta: 1)
        SplitGEMM.gemmAtB(m: c.qWidth, n: d, k: n, a: dQ.data, lda: c.qWidth, b: a.normed1.data, ldb: d, c: g.q.data, ldc: d, beta: 1)
        SplitGEMM.gemmAtB(m: c.kvWidth, n: d, k: n, a: dK.data, lda: c.kvWidth, b: a.normed1.data, ldb: d, c: g.k.data, ldc: d, beta: 1)
        SplitGEMM.gemmAtB(m: c.kvWidth, n: d, k: n, a: dV.data, lda: c.kvWidth, b: a.normed1.data, ldb: d, c: g.v.data, ldc: d, beta: 1)
        if let bias = g.qkvBias {
            BackwardOps.addColumnSums(dQ.data, rows: n, width: c.qWidth, into: bias.q.data)
            BackwardOps.addColumnSums(dK.data, rows: n, width: c.kvWidth, into: bias.k.data)
            BackwardOps.addColumnSums(dV.data, rows: n, width: c.kvWidth, into: bias.v.data)
        }
        addGainGradients(0, into: g.postNorm)
        addGainGradients(1, into: g.inputNorm)
    }

    // MARK: row-wise steps, in slices of rows across the cores

    /// `Ops.rmsNorm` of rows `r` of `x`.
    private func rmsNorm(_ x: Tensor, _ r: Range<Int>, weight: Tensor, into y: Tensor, inverseRMS: Tensor) {
        LayerKernels.rmsNorm(
            x.row(r.lowerBound), rows: r.count, width: config.hiddenSize, weight: weight.data, eps: config.rmsNormEps,
            into: y.row(r.lowerBound), inverseRMS: inverseRMS.data + r.lowerBound)
    }

    /// `BackwardOps.rmsNormBackward` of a shard's rows, one sequence at a time; the gain's
    /// gradient of each sequence goes to its row of `gainPartials[gain]` (summed over the
    /// sequences in order by `addGainGradients`, so that the result depends neither on the
    /// number of cores nor on the shards).
    private func rmsNormBackward(_ s: Shard, dy: Tensor, x: Tensor, inverseRMS: Tensor, weight: Tensor, dx: Tensor, gain: Int) {
        let d = config.hiddenSize
        let T = length
        Parallel.forEach(s.sequences.count) { i in
            let b = s.sequences.lowerBound + i
            let partial = gainPartials.data + (gain * batch + b) * d
            partial.update(repeating: 0, count: d)
            BackwardOps.rmsNormBackward(
                dy: dy.row(b * T), x: x.row(b * T), inverseRMS: inverseRMS.data + b * T, weight: weight.data,
                rows: T, width: d, dx: dx.row(b * T), dw: partial)
        }
    }

    /// Adds the per-sequence gain gradients `gainPartials[gain]` into `dw`, in order.
    private func addGainGradients(_ gain: Int, into dw: Tensor) {
        let d = config.hiddenSize
        for b in 0..<batch { Ops.add(gainPartials.data + (gain * batch + b) * d, into: dw.data, count: d) }
    }

    /// Copies batch rows `indices[p]` of `source` into rows `p` of `destination`, for p in `positions`.
    private func gather(_ indices: [Int], _ positions: Range<Int>, of source: Tensor, into destination: Tensor) {
        let d = config.hiddenSize
        indices.withUnsafeBufferPointer { indices in
            Parallel.forEachSlice(positions.count, minimum: 256) { r in
                for i in r {
                    let p = positions.lowerBound + i
                    destination.row(p).update(from: source.row(indices[p]), count: d)
                }
            }
        }
    }

    /// Adds rows `sourceRows` of `source` into batch rows `indices[p]` of `destination`, for the
    /// positions `positions` taken in order (distinct rows).
    private func scatterAdd(
        _ source: Tensor, _ sourceRows: Range<Int>, to indices: [Int], _ positions: Range<Int>, of destination: Tensor
    ) {
        let d = config.hiddenSize
        indices.withUnsafeBufferPointer { indices in
            Parallel.forEachSlice(positions.count, minimum: 256) { r in
                for i in r {
                    Ops.add(source.row(sourceRows.lowerBound + i), into: destination.row(indices[positions.lowerBound + i]), count: d)
                }
            }
        }
    }
}
