import DuoEngine
import Foundation

/// Forward and backward of a whole Duo model over a batch of equal-length sequences with a
/// given route per token per layer — the stage-1 training computation. Rows routed to each FFN
/// module are gathered, run as one GEMM, and scattered back; skip runs no FFN. Activations are
/// kept in buffers allocated once for the batch shape, so a training step allocates nothing.
public final class TrainingGraph {
    public let config: ModelConfig
    public let batch: Int
    public let length: Int
    public var rows: Int { batch * length }
    let rope: RoPETable

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

    /// One FFN module's rows and intermediate values in one layer.
    final class ModuleActivations {
        let route: Route
        var rows: [Int] = []
        let input, gate, up, act: Tensor
        /// The module's output rows (kept for soft mixing, where dLoss/dP needs them).
        let output: Tensor

        init(route: Route, inner: Int, rows n: Int, width: Int) {
            self.route = route
            input = Tensor(shape: [n, width])
            gate = Tensor(shape: [n, inner])
            up = Tensor(shape: [n, inner])
            act = Tensor(shape: [n, inner])
            output = Tensor(shape: [n, width])
        }
    }

    let layers: [LayerActivations]
    let final: Tensor, finalNormed: Tensor, finalInverseRMS: Tensor
    let logits: Tensor
    // Backward scratch.
    let dx, dMid, dNormed, dAttended, dQ, dK, dV, dProbabilities, dOut, dIn, dAct, dUp: Tensor
    /// dLoss/d(route probabilities) of one layer under soft mixing, [rows, routes].
    var dRouteProbabilities = Tensor(shape: [0])
    /// A norm gain's gradient per slice of rows, summed in order (`rmsNormBackward`).
    let gainPartials: Tensor

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
        let inner = max(c.intermediateSize, c.smallIntermediateSize ?? 0)
        dx = Tensor(shape: [n, c.hiddenSize])
        dMid = Tensor(shape: [n, c.hiddenSize])
        dNormed = Tensor(shape: [n, c.hiddenSize])
        dAttended = Tensor(shape: [n, c.qWidth])
        dQ = Tensor(shape: [n, c.qWidth])
        dK = Tensor(shape: [n, c.kvWidth])
        dV = Tensor(shape: [n, c.kvWidth])
        dProbabilities = Tensor(shape: [batch, length, length])
        dOut = Tensor(shape: [n, c.hiddenSize])
        dIn = Tensor(shape: [n, c.hiddenSize])
        dAct = Tensor(shape: [n, inner])
        dUp = Tensor(shape: [n, inner])
        gainPartials = Tensor(shape: [min(8, max(n, 1)), c.hiddenSize])
    }

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
        // Every product is split over the cores by `SplitGEMM` and `Parallel` (attention: one
        // sequence per core), never by BLAS's threads.
        Parallel.withSingleThreadedBLAS {
            step(weights: w, inputs: inputs, targets: targets, routing: routing, gradients: gradients)
        }
    }

    private func step(weights w: ModelWeights, inputs: [Int], targets: [Int], routing: Routing, gradients: ModelWeights?) -> Double {
        let c = config
        precondition(inputs.count == rows && targets.count == rows, "TrainingGraph: batch shape")
        let d = c.hiddenSize
        var mixing: RouterMixing?
        if case .soft(let m) = routing {
            m.prepare(rows: rows, layers: c.numLayers)
            mixing = m
            if dRouteProbabilities.shape != [rows, m.router.routes.count] {
                dRouteProbabilities = Tensor(shape: [rows, m.router.routes.count])
            }
        }
        for (t, id) in inputs.enumerated() { layers[0].input.row(t).update(from: w.embedding.row(id), count: d) }
        for l in 0..<c.numLayers {
            let output = l + 1 < c.numLayers ? layers[l + 1].input : final
            forwardLayer(l, weights: w.layers[l], routing: routing, output: output)
        }
        rmsNorm(final, weight: w.finalNorm, into: finalNormed, inverseRMS: finalInverseRMS)
        SplitGEMM.linear(finalNormed.data, rows: rows, weight: w.lmHead, into: logits.data)
        let train = gradients != nil || mixing != nil
        var loss = crossEntropy(targets: targets, keepGradient: train)
        if let mixing { loss += mixing.finishForward(rows: rows) }
        if train { backward(weights: w, gradients: gradients, mixing: mixing, inputs: inputs) }
        return loss
    }

    // MARK: forward

    private func forwardLayer(_ l: Int, weights w: LayerWeights, routing: Routing, output: Tensor) {
        let c = config
        let a = layers[l]
        let n = rows
        let d = c.hiddenSize
        let hd = c.headDim
        rmsNorm(a.input, weight: w.inputNorm, into: a.normed1, inverseRMS: a.inverseRMS1)
        let T = length
        LayerKernels.projectQKV(
            a.normed1.data, rows: n, layer: w, config: c, rope: rope, position: { $0 % T },
            q: a.q.data, k: a.k.data, v: a.v.data, linear: LayerKernels.splitBLASLinear)
        let group = c.numHeads / c.numKVHeads
        let window = c.attentionWindow(layer: l)
        // Attention per sequence: small GEMMs, one sequence per core.
        Parallel.forEach(batch) { b in
            for h in 0..<c.numHeads {
                let g = h / group
                LayerKernels.attendHead(
                    q: a.q.row(b * T) + h * hd, qStride: c.qWidth, rows: T, first: 0,
                    keys: a.k.row(b * T) + g * hd, values: a.v.row(b * T) + g * hd, kvStride: c.kvWidth,
                    headDim: hd, window: window,
                    probabilities: a.probabilities.data + (b * c.numHeads + h) * T * T,
                    out: a.attended.row(b * T) + h * hd, outStride: c.qWidth)
            }
        }
        LayerKernels.copy(a.input.data, into: a.mid.data, count: n * d)
        SplitGEMM.linear(a.attended.data, rows: n, weight: w.o, into: a.mid.data, accumulate: true)
        rmsNorm(a.mid, weight: w.postNorm, into: a.normed2, inverseRMS: a.inverseRMS2)
        LayerKernels.copy(a.mid.data, into: output.data, count: n * d)
        var mixing: RouterMixing?
        if case .soft(let m) = routing {
            m.forward(layer: l, input: a.normed2.data, rows: n)
            mixing = m
        }
        for module in a.modules {
            switch routing {
            case .hard(let routes): module.rows = (0..<n).filter { routes[$0 * c.numLayers + l] == module.route }
            case .soft(let m): module.rows = m.router.routes.contains(module.route) ? Array(0..<n) : []
            }
            let m = module.rows.count
            guard m > 0, let ffn = w.ffn(module.route) else { continue }
            gather(module.rows, of: a.normed2, into: module.input)
            LayerKernels.swigluFFN(
                ffn, input: module.input.data, rows: m, gate: module.gate.data, up: module.up.data,
                activation: module.act.data, output: module.output.data, accumulate: false,
                linear: LayerKernels.splitBLASLinear)
            if let mixing, let j = mixing.router.routes.firstIndex(of: module.route) {
                let p = mixing.probabilities[l]
                for t in 0..<n {
                    let weight = p.row(t)[j]
                    let out = module.output.row(t)
                    let target = output.row(t)
                    for i in 0..<d { target[i] += weight * out[i] }
                }
            } else {
                scatterAdd(module.output, to: module.rows, of: output)
            }
        }
    }

    /// Mean cross-entropy; leaves dLoss/dlogits in `logits` when `keepGradient`.
    private func crossEntropy(targets: [Int], keepGradient: Bool) -> Double {
        let v = config.vocabSize
        let inverseRows = 1 / Float(rows)
        var rowLoss = [Double](repeating: 0, count: rows)
        rowLoss.withUnsafeMutableBufferPointer { out in
            Parallel.forEachSlice(rows, minimum: 64) { range in
                for t in range {
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
        return rowLoss.reduce(0, +) / Double(rows)
    }

    // MARK: backward

    /// `g` nil: the model is frozen, only activation gradients (and the router's) are formed.
    private func backward(weights w: ModelWeights, gradients g: ModelWeights?, mixing: RouterMixing?, inputs: [Int]) {
        let c = config
        let n = rows
        let d = c.hiddenSize
        let v = c.vocabSize
        // LM head and final norm.
        SplitGEMM.gemmAB(m: n, n: d, k: v, a: logits.data, lda: v, b: w.lmHead.data, ldb: d, c: dNormed.data, ldc: d)
        if let g {
            SplitGEMM.gemmAtB(m: v, n: d, k: n, a: logits.data, lda: v, b: finalNormed.data, ldb: d, c: g.lmHead.data, ldc: d, beta: 1)
        }
        LayerKernels.zero(dx.data, count: dx.count)
        rmsNormBackward(dy: dNormed, x: final, inverseRMS: finalInverseRMS, weight: w.finalNorm, dx: dx, dw: g?.finalNorm)
        for l in stride(from: c.numLayers - 1, through: 0, by: -1) {
            backwardLayer(l, weights: w.layers[l], gradients: g?.layers[l], mixing: mixing)
        }
        if let g { for (t, id) in inputs.enumerated() { Ops.add(dx.row(t), into: g.embedding.row(id), count: d) } }
    }

    /// On entry `dx` holds dLoss/d(layer output); on exit dLoss/d(layer input).
    private func backwardLayer(_ l: Int, weights w: LayerWeights, gradients g: LayerWeights?, mixing: RouterMixing?) {
        let c = config
        let a = layers[l]
        let n = rows
        let d = c.hiddenSize
        let hd = c.headDim
        let T = length
        // FFN modules.
        LayerKernels.zero(dNormed.data, count: dNormed.count)
        if mixing != nil { dRouteProbabilities.zero() }
        for module in a.modules {
            let m = module.rows.count
            guard m > 0, let ffn = w.ffn(module.route) else { continue }
            let inner = ffn.inner
            if let mixing, let j = mixing.router.routes.firstIndex(of: module.route) {
                // Soft mix over all rows: dP = <dy, output>, and the module sees p * dy.
                let p = mixing.probabilities[l]
                for t in 0..<n {
                    let dy = dx.row(t)
                    let out = module.output.row(t)
                    let target = dOut.row(t)
                    var dot: Float = 0
                    for i in 0..<d { dot += dy[i] * out[i] }
                    dRouteProbabilities.row(t)[j] = dot
                    let weight = p.row(t)[j]
                    for i in 0..<d { target[i] = weight * dy[i] }
                }
            } else {
                gather(module.rows, of: dx, into: dOut)
            }
            SplitGEMM.gemmAB(m: m, n: inner, k: d, a: dOut.data, lda: d, b: ffn.down.data, ldb: inner, c: dAct.data, ldc: inner)
            if let gffn = g?.ffn(module.route) {
                SplitGEMM.gemmAtB(
                    m: d, n: inner, k: m, a: dOut.data, lda: d, b: module.act.data, ldb: inner, c: gffn.down.data, ldc: inner, beta: 1)
            }
            let (dact, gate, up, du) = (dAct.data, module.gate.data, module.up.data, dUp.data)
            Parallel.forEachSlice(m * inner, minimum: 32768) { r in
                BackwardOps.swigluBackward(
                    dact: dact + r.lowerBound, gate: gate + r.lowerBound, up: up + r.lowerBound,
                    du: du + r.lowerBound, count: r.count)
            }
            SplitGEMM.gemmAB(m: m, n: d, k: inner, a: dAct.data, lda: inner, b: ffn.gate.data, ldb: d, c: dIn.data, ldc: d)
            SplitGEMM.gemmAB(m: m, n: d, k: inner, a: dUp.data, lda: inner, b: ffn.up.data, ldb: d, c: dIn.data, ldc: d, beta: 1)
            if let gffn = g?.ffn(module.route) {
                SplitGEMM.gemmAtB(
                    m: inner, n: d, k: m, a: dAct.data, lda: inner, b: module.input.data, ldb: d, c: gffn.gate.data, ldc: d, beta: 1)
                SplitGEMM.gemmAtB(
                    m: inner, n: d, k: m, a: dUp.data, lda: inner, b: module.input.data, ldb: d, c: gffn.up.data, ldc: d, beta: 1)
            }
            scatterAdd(dIn, to: module.rows, of: dNormed)
        }
        if let mixing {
            mixing.backward(layer: l, dp: dRouteProbabilities, input: a.normed2.data, rows: n, dInput: dNormed.data)
        }
        LayerKernels.copy(dx.data, into: dMid.data, count: n * d)
        rmsNormBackward(dy: dNormed, x: a.mid, inverseRMS: a.inverseRMS2, weight: w.postNorm, dx: dMid, dw: g?.postNorm)
        // Attention output projection.
        SplitGEMM.gemmAB(m: n, n: c.qWidth, k: d, a: dMid.data, lda: d, b: w.o.data, ldb: c.qWidth, c: dAttended.data, ldc: c.qWidth)
        if let g {
            SplitGEMM.gemmAtB(
                m: d, n: c.qWidth, k: n, a: dMid.data, lda: d, b: a.attended.data, ldb: c.qWidth, c: g.o.data, ldc: c.qWidth, beta: 1)
        }
        // Attention heads.
        let group = c.numHeads / c.numKVHeads
        // One sequence per core; each writes only its own rows of dQ, dK, dV.
        Parallel.forEach(batch) { b in
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
        SplitGEMM.gemmAB(m: n, n: d, k: c.qWidth, a: dQ.data, lda: c.qWidth, b: w.q.data, ldb: d, c: dNormed.data, ldc: d)
        SplitGEMM.gemmAB(m: n, n: d, k: c.kvWidth, a: dK.data, lda: c.kvWidth, b: w.k.data, ldb: d, c: dNormed.data, ldc: d, beta: 1)
        SplitGEMM.gemmAB(m: n, n: d, k: c.kvWidth, a: dV.data, lda: c.kvWidth, b: w.v.data, ldb: d, c: dNormed.data, ldc: d, beta: 1)
        if let g {
            SplitGEMM.gemmAtB(m: c.qWidth, n: d, k: n, a: dQ.data, lda: c.qWidth, b: a.normed1.data, ldb: d, c: g.q.data, ldc: d, beta: 1)
            SplitGEMM.gemmAtB(m: c.kvWidth, n: d, k: n, a: dK.data, lda: c.kvWidth, b: a.normed1.data, ldb: d, c: g.k.data, ldc: d, beta: 1)
            SplitGEMM.gemmAtB(m: c.kvWidth, n: d, k: n, a: dV.data, lda: c.kvWidth, b: a.normed1.data, ldb: d, c: g.v.data, ldc: d, beta: 1)
            if let bias = g.qkvBias {
                BackwardOps.addColumnSums(dQ.data, rows: n, width: c.qWidth, into: bias.q.data)
                BackwardOps.addColumnSums(dK.data, rows: n, width: c.kvWidth, into: bias.k.data)
                BackwardOps.addColumnSums(dV.data, rows: n, width: c.kvWidth, into: bias.v.data)
            }
        }
        LayerKernels.copy(dMid.data, into: dx.data, count: n * d)
        rmsNormBackward(dy: dNormed, x: a.input, inverseRMS: a.inverseRMS1, weight: w.inputNorm, dx: dx, dw: g?.inputNorm)
    }

    // MARK: row-wise steps, in slices of rows across the cores

    /// `Ops.rmsNorm` of every row of `x`.
    private func rmsNorm(_ x: Tensor, weight: Tensor, into y: Tensor, inverseRMS: Tensor) {
        LayerKernels.rmsNorm(
            x.data, rows: rows, width: config.hiddenSize, weight: weight.data, eps: config.rmsNormEps, into: y.data,
            inverseRMS: inverseRMS.data)
    }

    /// `BackwardOps.rmsNormBackward` of every row. The gain's gradient is summed per slice of
    /// rows, then over the slices in order: a fixed number of slices, so that the result does not
    /// depend on the number of cores. `dw` nil: the gain is frozen, its gradient is dropped.
    private func rmsNormBackward(dy: Tensor, x: Tensor, inverseRMS: Tensor, weight: Tensor, dx: Tensor, dw: Tensor?) {
        let d = config.hiddenSize
        let slices = gainPartials.rows
        gainPartials.zero()
        Parallel.forEach(slices) { s in
            let r = (rows * s / slices)..<(rows * (s + 1) / slices)
            BackwardOps.rmsNormBackward(
                dy: dy.row(r.lowerBound), x: x.row(r.lowerBound), inverseRMS: inverseRMS.data + r.lowerBound, weight: weight.data,
                rows: r.count, width: d, dx: dx.row(r.lowerBound), dw: gainPartials.row(s))
        }
        if let dw { for s in 0..<slices { Ops.add(gainPartials.row(s), into: dw.data, count: d) } }
    }

    /// Copies rows `indices` of `source` into the first rows of `destination`, in order.
    private func gather(_ indices: [Int], of source: Tensor, into destination: Tensor) {
        let d = config.hiddenSize
        indices.withUnsafeBufferPointer { indices in
            Parallel.forEachSlice(indices.count, minimum: 256) { r in
                for i in r { destination.row(i).update(from: source.row(indices[i]), count: d) }
            }
        }
    }

    /// Adds the first rows of `source` into rows `indices` of `destination` (distinct rows).
    private func scatterAdd(_ source: Tensor, to indices: [Int], of destination: Tensor) {
        let d = config.hiddenSize
        indices.withUnsafeBufferPointer { indices in
            Parallel.forEachSlice(indices.count, minimum: 256) { r in
                for i in r { Ops.add(source.row(i), into: destination.row(indices[i]), count: d) }
            }
        }
    }
}
