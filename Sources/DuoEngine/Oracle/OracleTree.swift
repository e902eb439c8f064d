/// Exhaustive search over the route patterns of one token, as a tree over layers. Patterns that
/// share a prefix share all its work: the frontier of distinct prefixes is pushed through each
/// layer as one batch (attention and each FFN module as GEMMs), then every prefix forks into its
/// admissible children. The context (earlier positions' keys and values) is fixed and shared.
public final class OracleTree {
    public let model: DuoModel

    /// One admissible pattern and its loss on the target token.
    public struct Leaf: Sendable, Equatable {
        public var pattern: [Route]
        public var loss: Double
        public var bigCount: Int { pattern.filter { $0 == .big }.count }
    }

    public init(model: DuoModel) { self.model = model }

    /// Counts of rows run through attention and each FFN in the last search (for benchmarks).
    public private(set) var rowsThroughAttention = 0
    public private(set) var rowsThroughFFN: [Route: Int] = [:]
    public private(set) var leavesScored = 0
    /// Leaves whose full LM head was computed in the last search (fewer than `leavesScored` when
    /// a bound ruled the others out).
    public private(set) var leavesScoredExactly = 0

    /// Every admissible pattern for token `id` at position `contextLength` (predicting `target`),
    /// attending to positions `0..<contextLength` of `cache`. With `beamWidth`, after each layer
    /// only the `beamWidth` prefixes whose hidden state already predicts the target best (the
    /// logit-lens loss: final norm and LM head applied early) go on — a beam search for
    /// constraints whose full tree is too large (ternary: 3^L leaves).
    /// With `scoring: .bestPerBigCount` only the winners come back (see `Scoring`).
    public func search(
        token id: Int, target: Int, cache: KVCache, contextLength t: Int,
        constraint: OracleConstraint, beamWidth: Int? = nil, scoring: Scoring = .everyLeaf
    ) -> [Leaf] {
        // One BLAS thread per core. Without a beam, the top of the tree, where the frontier is
        // narrow, grows once, as one tree; once the frontier holds `splitRows` prefixes a core,
        // they are dealt to the cores, balanced by the patterns below each, and each core grows
        // its share to the leaves on its own (`Parallel.forEachJob`): no fork/join inside every
        // small step, and each core reads each layer's weights once.
        // The leaves are then scored together, so the LM-head bound prunes across the whole tree.
        Parallel.withSingleThreadedBLAS {
            let L = model.config.numLayers
            begin(at: t)
            var grown = Frontier(root: model.weights.embedding.row(id), width: model.config.hiddenSize)
            let splits = beamWidth == nil && Parallel.workers > 1 && !Parallel.isInsideJob
            func grow(_ layers: Range<Int>) {
                grown = self.grow(
                    token: id, target: target, cache: cache, contextLength: t, constraint: constraint, beamWidth: beamWidth,
                    from: grown, layers: layers)
            }
            var depth = 0
            if splits {
                while depth < L, grown.count > 0, grown.count < Self.splitRows * Parallel.workers {
                    grow(depth..<(depth + 1))
                    depth += 1
                }
            } else {
                grow(0..<L)
                depth = L
            }
            splitDepth = depth
            activeSubtrees = 0
            if depth < L {
                let shares = Self.deal(grown, parts: Parallel.workers, constraint: constraint, from: depth, cost: model.cost)
                while subtrees.count < shares.count { subtrees.append(OracleTree(model: model)) }
                activeSubtrees = shares.count
                let parts = subtrees
                let top = grown
                var found = [Frontier?](repeating: nil, count: shares.count)
                found.withUnsafeMutableBufferPointer { found in
                    Parallel.forEachJob(shares.count) { i in
                        parts[i].begin(at: t)
                        found[i] = parts[i].grow(
                            token: id, target: target, cache: cache, contextLength: t, constraint: constraint, beamWidth: nil,
                            from: top.rows(shares[i]), layers: depth..<L)
                    }
                }
                for part in parts.prefix(shares.count) {
                    rowsThroughAttention += part.rowsThroughAttention
                    rowsThroughFFN.merge(part.rowsThroughFFN, uniquingKeysWith: +)
                }
                grown = Frontier(merging: found.map { $0! }, width: model.config.hiddenSize)
            }
            return score(grown, target: target, scoring: scoring)
        }
    }

    /// Appends to `cache`, at position `cache.count`, the keys and values that the last search
    /// computed for its token under `pattern` (a leaf of that search): what a forward pass of the
    /// token with that pattern would append, without running it again. The causal oracle extends
    /// its context with each position's winner this way.
    public func appendKeysAndValues(of pattern: [Route], to cache: KVCache) {
        let L = model.config.numLayers
        precondition(pattern.count == L && cache.count < cache.capacity, "OracleTree: pattern or cache")
        appendOwnKeysAndValues(of: pattern, layers: 0..<splitDepth, to: cache)
        if splitDepth < L {
            let prefix = Self.code(of: pattern, layers: splitDepth)
            let part = subtrees.prefix(activeSubtrees).first { $0.entryCodes[splitDepth].contains(prefix) }
            precondition(part != nil, "OracleTree: the pattern is not a leaf of the last search")
            part!.appendOwnKeysAndValues(of: pattern, layers: splitDepth..<L, to: cache)
        }
        cache.count += 1
    }

    /// The keys and values of `layers` for `pattern`, from the frontiers this tree grew there.
    private func appendOwnKeysAndValues(of pattern: [Route], layers: Range<Int>, to cache: KVCache) {
        let c = model.config
        let t = cache.count
        precondition(grownAt == t, "OracleTree: the last search was not at the cache's next position")
        for l in layers {
            guard let row = entryCodes[l].firstIndex(of: Self.code(of: pattern, layers: l)) else {
                preconditionFailure("OracleTree: the pattern is not a leaf of the last search")
            }
            cache.keys[l].row(t).update(from: layerKeysAndValues.buffer(2 * l, count: 0) + row * c.kvWidth, count: c.kvWidth)
            cache.values[l].row(t).update(from: layerKeysAndValues.buffer(2 * l + 1, count: 0) + row * c.kvWidth, count: c.kvWidth)
        }
    }

    /// The routes of a pattern's first `layers` layers, two bits a layer (a prefix's code).
    private static func code(of pattern: [Route], layers: Int) -> UInt64 {
        (0..<layers).reduce(0) { $0 | Prefix.bits(of: pattern[$1], layer: $1) }
    }

    /// Forgets the last search's frontiers before a search at position `t`.
    private func begin(at t: Int) {
        grownAt = t
        entryCodes = Array(repeating: [], count: model.config.numLayers)
        rowsThroughAttention = 0
        rowsThroughFFN = [:]
    }

    /// A prefix of a pattern: its routes (two bits a layer), its counts of big and skipped
    /// layers, its FFN FLOPs, and which row of the frontier that was dealt to the cores it
    /// descends from (its `root`, for the tree order).
    struct Prefix {
        var code: UInt64 = 0
        var bigs = 0
        var skips = 0
        var ffnCost = 0
        var root = 0

        /// The bits of `route` at layer `layer` in a code.
        static func bits(of route: Route, layer: Int) -> UInt64 { UInt64(route.rawValue) << (2 * UInt64(layer)) }

        /// This prefix followed by `route` at layer `layer`.
        func child(_ route: Route, layer: Int, cost: ComputeCost) -> Prefix {
            Prefix(
                code: code | Self.bits(of: route, layer: layer), bigs: bigs + (route == .big ? 1 : 0),
                skips: skips + (route == .skip ? 1 : 0), ffnCost: ffnCost + cost.ffn(route), root: root)
        }

        /// Whether `constraint` admits this prefix with `remaining` layers still to route.
        func isAdmitted(by constraint: OracleConstraint, remaining: Int, cost: ComputeCost) -> Bool {
            constraint.admits(big: bigs, skip: skips, ffnFLOPs: ffnCost, remaining: remaining, cost: cost)
        }

        /// The routes of the first `layers` layers.
        func pattern(layers: Int) -> [Route] {
            (0..<layers).map { Route(rawValue: UInt8((code >> (2 * UInt64($0))) & 3))! }
        }
    }

    /// Prefixes of patterns after some layers: their residual streams, a row each.
    struct Frontier {
        var hidden: Tensor
        var prefixes: [Prefix] = []
        var count: Int { prefixes.count }

        /// The empty prefix: the token's embedding.
        init(root embedding: UnsafePointer<Float>, width: Int) {
            hidden = Tensor(shape: [1, width])
            hidden.data.update(from: embedding, count: width)
            prefixes = [Prefix()]
        }

        init(hidden: Tensor, prefixes: [Prefix] = []) {
            self.hidden = hidden
            self.prefixes = prefixes
        }

        /// The rows `picked` (in that order), each its own root.
        func rows(_ picked: [Int]) -> Frontier {
            Frontier(
                hidden: hidden.rows(picked),
                prefixes: picked.map { i in
                    var prefix = prefixes[i]
                    prefix.root = i
                    return prefix
                })
        }

        /// The cores' shares of the tree, back in tree order: by root, and within a root in the
        /// order its share grew them.
        init(merging parts: [Frontier], width: Int) {
            let rows = parts.enumerated().flatMap { p, part in (0..<part.count).map { (part: p, row: $0) } }
            let order = rows.indices.sorted {
                let (a, b) = (rows[$0], rows[$1])
                return (parts[a.part].prefixes[a.row].root, $0) < (parts[b.part].prefixes[b.row].root, $1)
            }
            hidden = Tensor(shape: [rows.count, width])
            for (j, i) in order.enumerated() {
                let (p, r) = rows[i]
                hidden.row(j).update(from: parts[p].hidden.row(r), count: width)
                prefixes.append(parts[p].prefixes[r])
            }
        }
    }

    /// The frontier's rows dealt to `parts` cores, each share in increasing row order, balanced
    /// by the number of admissible patterns below each row (largest first, each to the share
    /// with the fewest so far).
    static func deal(_ frontier: Frontier, parts: Int, constraint: OracleConstraint, from layer: Int, cost: ComputeCost) -> [[Int]] {
        let L = cost.layers
        // The count below a prefix depends only on its counts and FLOPs, not on its routes.
        var memo: [[Int]: Int] = [:]
        func leaves(_ prefix: Prefix, layer: Int) -> Int {
            if layer == L { return 1 }
            let key = [prefix.bigs, prefix.skips, prefix.ffnCost, layer]
            if let known = memo[key] { return known }
            var total = 0
            for route in constraint.routes {
                let child = prefix.child(route, layer: layer, cost: cost)
                if child.isAdmitted(by: constraint, remaining: L - layer - 1, cost: cost) { total += leaves(child, layer: layer + 1) }
            }
            memo[key] = total
            return total
        }
        let work = frontier.prefixes.map { leaves($0, layer: layer) }
        var shares = [[Int]](repeating: [], count: min(parts, frontier.count))
        var load = [Int](repeating: 0, count: shares.count)
        for i in work.indices.sorted(by: { work[$0] > work[$1] || (work[$0] == work[$1] && $0 < $1) }) {
            let lightest = load.indices.min { load[$0] < load[$1] }!
            shares[lightest].append(i)
            load[lightest] += work[i]
        }
        return shares.map { $0.sorted() }
    }

    private func score(_ leaves: Frontier, target: Int, scoring: Scoring) -> [Leaf] {
        let L = model.config.numLayers
        leavesScored = leaves.count
        func leaf(_ i: Int, _ loss: Double) -> Leaf { Leaf(pattern: leaves.prefixes[i].pattern(layers: L), loss: loss) }
        guard leaves.count > 0 else { return [] }
        switch scoring {
        case .everyLeaf:
            leavesScoredExactly = leaves.count
            return losses(of: leaves.hidden, target: target).enumerated().map { leaf($0, $1) }
        case .bestPerBigCount:
            leavesScoredExactly = 0
            return bestPerGroup(of: leaves.hidden, target: target, groups: leaves.prefixes.map(\.bigs)).map { leaf($0.index, $0.loss) }
        }
    }

    /// Prefixes per core in the frontier at which the tree is dealt to the cores: enough that the
    /// shares come out about even, few enough that the layers above are cheap to grow as one tree
    /// (a core that grows a share reads each layer's weights once; splitting at a fixed depth of
    /// four subtrees read them twice as often and grew the top layers four times).
    static let splitRows = 4

    /// Pushes the frontier `from` through `layers`, each prefix forking into its admissible
    /// children after each layer (and, with a beam, only the best `beamWidth` going on).
    private func grow(
        token id: Int, target: Int, cache: KVCache, contextLength t: Int,
        constraint: OracleConstraint, beamWidth: Int?, from start: Frontier, layers: Range<Int>
    ) -> Frontier {
        let c = model.config
        let w = model.weights
        let cost = model.cost
        let d = c.hiddenSize
        let hd = c.headDim
        let L = c.numLayers
        precondition(t <= cache.count && t < c.maxPositions, "OracleTree: context beyond the cache")
        // The frontier's residual streams, `m` rows, and the next layer's, in two scratch slots
        // that swap after every layer.
        var (frontierSlot, childrenSlot) = (Scratch.frontier, Scratch.children)
        var m = start.count
        var frontier = scratch.buffer(frontierSlot.rawValue, count: m * d)
        frontier.update(from: start.hidden.data, count: m * d)
        var prefixes = start.prefixes
        let group = c.numHeads / c.numKVHeads
        let inner = max(c.intermediateSize, c.smallIntermediateSize ?? 0)
        func buffer(_ slot: Scratch, _ count: Int) -> UnsafeMutablePointer<Float> { scratch.buffer(slot.rawValue, count: count) }
        for l in layers {
            let lw = w.layers[l]
            rowsThroughAttention += m
            entryCodes[l] = prefixes.map(\.code)
            // Attention: each prefix's own query/key/value at position t against the shared context.
            let normed = buffer(.normed, m * d)
            Ops.rmsNorm(frontier, rows: m, width: d, weight: lw.inputNorm.data, eps: c.rmsNormEps, into: normed)
            let (qWidth, kvWidth) = (c.qWidth, c.kvWidth)
            let q = buffer(.q, m * qWidth)
            // Kept per layer: the search's winner takes its keys and values into the cache.
            let k = layerKeysAndValues.buffer(2 * l, count: m * kvWidth)
            let v = layerKeysAndValues.buffer(2 * l + 1, count: m * kvWidth)
            LayerKernels.projectQKV(
                normed, rows: m, layer: lw, config: c, rope: model.rope, position: { _ in t }, q: q, k: k, v: v,
                linear: LayerKernels.splitLinear)
            let attended = buffer(.attended, m * qWidth)
            let perHead = LayerKernels.attendScratchCount(rows: m, context: t + 1, headDim: hd)
            let headScratch = buffer(.attention, c.numHeads * perHead)
            let keys = cache.keys[l].data
            let values = cache.values[l].data
            let window = c.attentionWindow(layer: l)
            // Heads side by side on the cores: each prefix's own key and value at position t
            // beside the shared context's.
            func attendHead(_ h: Int) {
                let g = h / group
                LayerKernels.attendHead(
                    q: q + h * hd, qStride: qWidth, rows: m, first: t, keys: keys + g * hd, values: values + g * hd,
                    kvStride: kvWidth, own: .init(keys: k + g * hd, values: v + g * hd, stride: kvWidth), headDim: hd,
                    window: window, probabilities: nil, out: attended + h * hd, outStride: qWidth,
                    scratch: headScratch + h * perHead)
            }
            if m > 1 {
                Parallel.forEach(c.numHeads, attendHead)
            } else {
                for h in 0..<c.numHeads { attendHead(h) }
            }
            LayerKernels.splitLinear(attended, m, lw.o, frontier, true)
            // FFN: fork every prefix into its admissible children.
            let normed2 = buffer(.normed, m * d)
            Ops.rmsNorm(frontier, rows: m, width: d, weight: lw.postNorm.data, eps: c.rmsNormEps, into: normed2)
            var parents: [Int] = []
            var childRoutes: [Route] = []
            var childPrefixes: [Prefix] = []
            for i in 0..<m {
                for route in constraint.routes {
                    let child = prefixes[i].child(route, layer: l, cost: cost)
                    guard child.isAdmitted(by: constraint, remaining: L - l - 1, cost: cost) else { continue }
                    parents.append(i)
                    childRoutes.append(route)
                    childPrefixes.append(child)
                }
            }
            // No prefix has an admissible child (a share whose rows all end here).
            if parents.isEmpty { return Frontier(hidden: Tensor(shape: [0, d])) }
            let children = buffer(childrenSlot, parents.count * d)
            for (j, i) in parents.enumerated() { (children + j * d).update(from: frontier + i * d, count: d) }
            for route in [Route.small, .big] {
                let rows = childRoutes.indices.filter { childRoutes[$0] == route }
                guard !rows.isEmpty, let module = lw.ffn(route) else { continue }
                rowsThroughFFN[route, default: 0] += rows.count
                let input = buffer(.ffnInput, rows.count * d)
                for (j, r) in rows.enumerated() { (input + j * d).update(from: normed2 + parents[r] * d, count: d) }
                let gate = buffer(.gate, rows.count * inner)
                let up = buffer(.up, rows.count * inner)
                let out = buffer(.ffnOutput, rows.count * d)
                LayerKernels.swigluFFN(
                    module, input: input, rows: rows.count, gate: gate, up: up, activation: gate, output: out, accumulate: false,
                    linear: LayerKernels.splitLinear)
                for (j, r) in rows.enumerated() { Ops.add(out + j * d, into: children + r * d, count: d) }
            }
            prefixes = childPrefixes
            (frontier, m) = (children, parents.count)
            swap(&frontierSlot, &childrenSlot)
            if let beamWidth, l + 1 < L, m > beamWidth {
                let lens = losses(of: Self.tensor(frontier, rows: m, width: d), target: target)
                let keep = lens.indices.sorted { lens[$0] < lens[$1] }.prefix(beamWidth).sorted()
                let kept = buffer(childrenSlot, keep.count * d)
                for (j, i) in keep.enumerated() { (kept + j * d).update(from: frontier + i * d, count: d) }
                (frontier, m) = (kept, keep.count)
                swap(&frontierSlot, &childrenSlot)
                prefixes = keep.map { prefixes[$0] }
            }
        }
        return Frontier(hidden: Self.tensor(frontier, rows: m, width: d), prefixes: prefixes)
    }

    /// The scratch slots of `grow` and of scoring the leaves.
    private enum Scratch: Int, CaseIterable {
        case frontier, children, normed, q, attended, attention, ffnInput, gate, up, ffnOutput
        /// Scoring the leaves: their final-norm outputs, rows gathered for the full LM head, and
        /// every leaf's logits over the shortlist.
        case leafNormed, leafRows, shortLogits
    }

    /// The temporaries of `grow` and of scoring the leaves, kept from one search to the next.
    private let scratch = ScratchBuffers(slots: Scratch.allCases.count)
    /// Per layer, the keys (slot 2l) and values (2l + 1) of the frontier that entered it in the
    /// last `grow`, and that frontier's prefixes (`entryCodes`); the context length it grew at.
    private lazy var layerKeysAndValues = ScratchBuffers(slots: 2 * model.config.numLayers)
    private var entryCodes: [[UInt64]] = []
    private var grownAt = -1
    /// The layer at which the last search dealt its frontier to `subtrees` (the number of layers
    /// when it grew as one tree), and how many of them took a share.
    private var splitDepth = 0
    private var activeSubtrees = 0

    /// The trees that grow the cores' shares in `search` (kept, with their scratch, for the next token).
    private var subtrees: [OracleTree] = []

    /// A copy of `rows` rows as a tensor.
    private static func tensor(_ x: UnsafePointer<Float>, rows: Int, width: Int) -> Tensor {
        let tensor = Tensor(shape: [rows, width])
        tensor.data.update(from: x, count: rows * width)
        return tensor
    }

    /// Which leaves a search scores, and how.
    public enum Scoring: Sendable {
        /// Every leaf, each with its exact loss.
        case everyLeaf
        /// Only the best leaf of each number of big layers (ties: the first in tree order), in
        /// tree order: all an oracle needs. A leaf is dropped as soon as a lower bound of its
        /// loss, the log-sum-exp over a shortlist of the vocabulary (never more than over the
        /// whole), proves it cannot win, so most leaves never get the full LM head. The winners
        /// and their losses are those `everyLeaf` gives.
        case bestPerBigCount
    }

    /// Vocabulary entries in the shortlist whose log-sum-exp bounds a leaf's from below.
    static let shortlistSize = 256
    /// Leaves scored exactly at a time while the bound drops the others.
    static let exactBatch = 32
    /// How far a bound must exceed the best loss found to drop a leaf: far above the rounding
    /// differences between the shortlist's and the whole vocabulary's log-sum-exp.
    static let boundMargin = 1e-3

    /// The best row of each group (lowest loss on `target`, ties: the lowest index), in index
    /// order, computing the full LM head only for rows whose shortlist bound cannot rule them out.
    /// The shortlist is the tokens ranked highest by a few probe rows' full logits (and the target).
    func bestPerGroup(of hidden: Tensor, target: Int, groups: [Int]) -> [(index: Int, loss: Double)] {
        let c = model.config
        let d = c.hiddenSize
        let n = hidden.rows
        let vocab = c.vocabSize
        let normed = scratch.buffer(Scratch.leafNormed.rawValue, count: n * d)
        LayerKernels.rmsNorm(hidden.data, rows: n, width: d, weight: model.weights.finalNorm.data, eps: c.rmsNormEps, into: normed)
        var best: [Int: (index: Int, loss: Double)] = [:]
        func record(_ i: Int, _ loss: Double) {
            leavesScoredExactly += 1
            if let current = best[groups[i]], !(loss < current.loss || (loss == current.loss && i < current.index)) { return }
            best[groups[i]] = (i, loss)
        }
        func score(_ rows: [Int]) {
            let gathered = scratch.buffer(Scratch.leafRows.rawValue, count: rows.count * d)
            for (j, i) in rows.enumerated() { (gathered + j * d).update(from: normed + i * d, count: d) }
            for (i, loss) in zip(rows, normalizedLosses(of: gathered, rows: rows.count, target: target)) { record(i, loss) }
        }
        // Few rows or a small vocabulary: the full LM head costs about what the bound would.
        guard n >= 4 * Self.exactBatch, vocab >= 8 * Self.shortlistSize else {
            score(Array(0..<n))
            return best.values.sorted { $0.index < $1.index }
        }
        let probes = (0..<4).map { $0 * n / 4 }
        let probeLogits = Tensor(shape: [probes.count, vocab])
        let probeRows = Tensor(shape: [probes.count, d])
        for (j, i) in probes.enumerated() { probeRows.row(j).update(from: normed + i * d, count: d) }
        LayerKernels.splitLinear(probeRows.data, probes.count, model.weights.lmHead, probeLogits.data, false)
        for (j, i) in probes.enumerated() { record(i, Ops.targetLoss(probeLogits.row(j), count: vocab, target: target)) }
        let shortlist = Self.shortlist(probeLogits, size: Self.shortlistSize, including: target)
        let shortWeights = model.weights.lmHead.rows(shortlist)
        let shortLogits = scratch.buffer(Scratch.shortLogits.rawValue, count: n * shortlist.count)
        LayerKernels.splitLinear(normed, n, shortWeights, shortLogits, false)
        let targetColumn = shortlist.firstIndex(of: target)!
        var bounds = [Double](repeating: 0, count: n)
        bounds.withUnsafeMutableBufferPointer { out in
            Parallel.forEachSlice(n, minimum: 64) { r in
                for i in r {
                    let row = shortLogits + i * shortlist.count
                    out[i] = Ops.logSumExp(row, count: shortlist.count) - Double(row[targetColumn])
                }
            }
        }
        let order = (0..<n).sorted { bounds[$0] < bounds[$1] }
        let probed = Set(probes)
        var next = 0
        while next < n {
            var batch: [Int] = []
            while next < n, batch.count < Self.exactBatch {
                let i = order[next]
                next += 1
                if probed.contains(i) { continue }
                if let current = best[groups[i]], bounds[i] > current.loss + Self.boundMargin { continue }
                batch.append(i)
            }
            if !batch.isEmpty { score(batch) }
        }
        return best.values.sorted { $0.index < $1.index }
    }

    /// The `size` tokens with the highest logit in any row of `logits` (in id order; ties at the
    /// cut to the lower ids), the lowest of them replaced by `target` when it is not among them.
    static func shortlist(_ logits: Tensor, size: Int, including target: Int? = nil) -> [Int] {
        let vocab = logits.columns
        var top = [Float](repeating: -.infinity, count: vocab)
        for r in 0..<logits.rows {
            let row = logits.row(r)
            for j in 0..<vocab where row[j] > top[j] { top[j] = row[j] }
        }
        guard size < vocab else { return Array(0..<vocab) }
        // The size-th highest value, by selection (quickselect) on a copy: linear on average.
        var values = top
        var (low, high, k) = (0, vocab - 1, size - 1)
        while low < high {
            let pivot = values[(low + high) / 2]
            var (i, j) = (low, high)
            while i <= j {
                while values[i] > pivot { i += 1 }
                while values[j] < pivot { j -= 1 }
                if i <= j {
                    values.swapAt(i, j)
                    i += 1
                    j -= 1
                }
            }
            if k <= j {
                high = j
            } else if k >= i {
                low = i
            } else {
                break
            }
        }
        let cut = values[k]
        var tokens = (0..<vocab).filter { top[$0] > cut }
        for j in 0..<vocab where tokens.count < size && top[j] == cut { tokens.append(j) }
        if let target, !tokens.contains(target), let lowest = tokens.indices.min(by: { top[tokens[$0]] < top[tokens[$1]] }) {
            tokens[lowest] = target
        }
        return tokens.sorted()
    }

    /// Loss on `target` of each row of a residual stream: final norm and LM head.
    func losses(of hidden: Tensor, target: Int) -> [Double] {
        let c = model.config
        let normed = scratch.buffer(Scratch.leafNormed.rawValue, count: hidden.rows * c.hiddenSize)
        Ops.rmsNorm(
            hidden.data, rows: hidden.rows, width: c.hiddenSize, weight: model.weights.finalNorm.data, eps: c.rmsNormEps,
            into: normed)
        return normalizedLosses(of: normed, rows: hidden.rows, target: target)
    }

    /// Loss on `target` of each of `n` rows of the final norm's output: the rows in a slice per
    /// core, each slice through the LM head in blocks of `lossBlock` rows, into logits kept from
    /// one call to the next (fresh ones page-faulted and zeroed on every call).
    private func normalizedLosses(of normed: UnsafePointer<Float>, rows n: Int, target: Int) -> [Double] {
        let vocab = model.config.vocabSize
        let d = model.config.hiddenSize
        var losses = [Double](repeating: 0, count: n)
        let slices = min(Parallel.workers, max(1, n / 8))
        // Taken before the slices run side by side: each then writes only its own.
        let logits = (0..<slices).map { lossLogits.buffer($0, count: Self.lossBlock * vocab) }
        losses.withUnsafeMutableBufferPointer { out in
            Parallel.forEach(slices) { s in
                var start = n * s / slices
                let end = n * (s + 1) / slices
                while start < end {
                    let rows = min(Self.lossBlock, end - start)
                    LayerKernels.localLinear(normed + start * d, rows, model.weights.lmHead, logits[s], false)
                    for r in 0..<rows { out[start + r] = Ops.targetLoss(logits[s] + r * vocab, count: vocab, target: target) }
                    start += rows
                }
            }
        }
        return losses
    }

    /// Rows of the LM head computed at a time by one core in `normalizedLosses`.
    static let lossBlock = 32
    /// `normalizedLosses`' logits, one slot per core.
    private lazy var lossLogits = ScratchBuffers(slots: Parallel.workers)
}
