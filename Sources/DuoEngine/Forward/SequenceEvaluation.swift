import Foundation

/// A token id with its predicted probability.
public struct TokenProbability: Sendable, Equatable, Codable {
    public var id: Int
    public var probability: Double
    public init(id: Int, probability: Double) {
        self.id = id
        self.probability = probability
    }
}

/// The result of running one sequence under one policy: routes taken, per-token loss of the
/// true next token, top-k predictions, perplexity and compute.
public struct SequenceEvaluation: Sendable {
    public var ids: [Int]
    public var routes: RouteMatrix
    /// `losses[t]` = -log p(ids[t+1] | ids[...t]) in nats; one fewer than the tokens.
    public var losses: [Double]
    /// The k most likely next tokens after each position.
    public var top: [[TokenProbability]]
    /// FFN compute of each token's pattern as a fraction of all-big.
    public var ffnFractions: [Double]
    /// Every FLOP of the forward pass (attention, routed FFNs, LM head).
    public var totalFLOPs: Int

    public var meanLoss: Double { losses.isEmpty ? .nan : losses.reduce(0, +) / Double(losses.count) }
    public var perplexity: Double { exp(meanLoss) }
    public var meanFFNFraction: Double { ffnFractions.reduce(0, +) / Double(max(ffnFractions.count, 1)) }

    /// Runs `ids` through `model` under `policy` from position 0 with a batched prefill.
    public static func run(model: DuoModel, ids: [Int], policy: RoutingPolicy, topK: Int = 5) throws -> SequenceEvaluation {
        let session = InferenceSession(model: model, capacity: ids.count)
        let logits = try session.forward(ids, policy: policy)
        return score(model: model, ids: ids, logits: logits, routes: RouteMatrix(rows: session.routes), topK: topK)
    }

    /// Scores logits [n, vocab] of a sequence against its own next tokens.
    public static func score(model: DuoModel, ids: [Int], logits: Tensor, routes: RouteMatrix, topK: Int) -> SequenceEvaluation {
        let vocab = model.config.vocabSize
        let n = ids.count
        // Rows spread over the cores; each slot written once.
        var lossOf = [Double](repeating: 0, count: n)
        var top = [[TokenProbability]](repeating: [], count: n)
        lossOf.withUnsafeMutableBufferPointer { lossOf in
            top.withUnsafeMutableBufferPointer { top in
                Parallel.forEachSlice(n, minimum: 16) { rows in
                    for t in rows {
                        let row = logits.row(t)
                        let lse = Ops.logSumExp(row, count: vocab)
                        if t + 1 < n { lossOf[t] = lse - Double(row[ids[t + 1]]) }
                        top[t] = topTokens(row, count: vocab, k: topK, logSumExp: lse)
                    }
                }
            }
        }
        let losses = Array(lossOf.prefix(max(n - 1, 0)))
        let cost = model.cost
        let fractions = (0..<routes.tokens).map { cost.ffnFraction(pattern: routes.row($0)) }
        let flops = (0..<routes.tokens).reduce(0) { $0 + cost.total(pattern: routes.row($1), position: $1) }
        return SequenceEvaluation(ids: ids, routes: routes, losses: losses, top: top, ffnFractions: fractions, totalFLOPs: flops)
    }

    /// The k highest logits (ties to the lower id) as probabilities.
    static func topTokens(_ row: UnsafePointer<Float>, count: Int, k: Int, logSumExp: Double) -> [TokenProbability] {
        guard k > 0 else { return [] }
        var best: [(Float, Int)] = []
        best.reserveCapacity(k + 1)
        for i in 0..<count {
            let value = row[i]
            if best.count == k, let last = best.last, value <= last.0 { continue }
            let slot = best.firstIndex { value > $0.0 } ?? best.count
            best.insert((value, i), at: slot)
            if best.count > k { best.removeLast() }
        }
        return best.map { TokenProbability(id: $0.1, probability: exp(Double($0.0) - logSumExp)) }
    }
}
