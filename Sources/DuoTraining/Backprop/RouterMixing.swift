import DuoEngine

/// Stage-3 soft routing while a router trains with the LM frozen: at each layer the FFN output
/// is the probability-weighted mix of the modules' outputs, with probabilities
/// softmax(router logits / temperature); the loss adds
/// `alpha * (mean over layers and tokens of the compute share - budget)^2`, where the share is
/// P(big) for a big/small router and the expected FFN FLOP fraction for a router with skip.
public final class RouterMixing {
    public let router: RouterWeights
    /// dLoss/d(router parameters), accumulated by `TrainingGraph.run` (zero them first).
    public let gradients: RouterWeights
    public var temperature: Float
    public var budget: Double
    public var alpha: Double
    /// Compute share per route: 1 for big, the small/big FLOP ratio for small, 0 for skip.
    let share: [Float]
    /// Per layer, the route probabilities [rows, R] of the last forward pass.
    var probabilities: [Tensor] = []
    /// The mean compute share and the penalty of the last forward pass.
    public private(set) var meanShare = 0.0
    public private(set) var penalty = 0.0

    public init(router: RouterWeights, config: ModelConfig, temperature: Float, budget: Double, alpha: Double) {
        self.router = router
        gradients = RouterWeights(routes: router.routes, layers: router.layers, hidden: router.hidden)
        self.temperature = temperature
        self.budget = budget
        self.alpha = alpha
        let cost = ComputeCost(config)
        let twoWay = Set(router.routes) == [.small, .big]
        share = router.routes.map { route in
            if twoWay { return route == .big ? 1 : 0 }
            return Float(cost.ffn(route)) / Float(cost.bigFFN)
        }
    }

    func prepare(rows: Int, layers: Int) {
        if probabilities.count != layers || probabilities.first?.rows != rows {
            probabilities = (0..<layers).map { _ in Tensor(shape: [rows, router.routes.count]) }
        }
    }

    /// Fills `probabilities[layer]` from the FFN inputs.
    func forward(layer: Int, input: UnsafePointer<Float>, rows: Int) {
        let p = probabilities[layer]
        let r = router.routes.count
        router.logits(layer: layer, input: input, rows: rows, into: p.data)
        let inverse = 1 / temperature
        for t in 0..<rows {
            let row = p.row(t)
            for j in 0..<r { row[j] *= inverse }
            Ops.softmax(row, count: r)
        }
    }

    /// Computes the mean share and the penalty from all layers' probabilities.
    func finishForward(rows: Int) -> Double {
        var total = 0.0
        for p in probabilities {
            for t in 0..<rows {
                for (j, s) in share.enumerated() { total += Double(p.row(t)[j] * s) }
            }
        }
        meanShare = total / Double(rows * probabilities.count)
        penalty = alpha * (meanShare - budget) * (meanShare - budget)
        return penalty
    }

    /// Backward of the mixing at one layer. `dp` [rows, R] holds dLoss/dP from the mix; adds the
    /// penalty's gradient, goes through the softmax, accumulates router gradients, and adds
    /// dLoss/d(FFN input) into `dInput`.
    func backward(layer: Int, dp: Tensor, input: UnsafePointer<Float>, rows: Int, dInput: UnsafeMutablePointer<Float>) {
        let p = probabilities[layer]
        let r = router.routes.count
        let penaltyGradient = Float(2 * alpha * (meanShare - budget) / Double(rows * probabilities.count))
        let inverse = 1 / temperature
        for t in 0..<rows {
            let pr = p.row(t)
            let dr = dp.row(t)
            for j in 0..<r { dr[j] += penaltyGradient * share[j] }
            var dot: Float = 0
            for j in 0..<r { dot += pr[j] * dr[j] }
            for j in 0..<r { dr[j] = pr[j] * (dr[j] - dot) * inverse }  // now dLoss/dlogit
        }
        let h = router.hidden
        BLAS.gemmAtB(m: r, n: h, k: rows, a: dp.data, lda: r, b: input, ldb: h, c: gradients.weights[layer].data, ldc: h, beta: 1)
        let db = gradients.biases[layer].data
        for t in 0..<rows { for j in 0..<r { db[j] += dp.row(t)[j] } }
        BLAS.gemmAB(m: rows, n: h, k: r, a: dp.data, lda: r, b: router.weights[layer].data, ldb: h, c: dInput, ldc: h, beta: 1)
    }
}
