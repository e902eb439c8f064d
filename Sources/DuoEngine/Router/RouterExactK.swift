import Foundation

/// A router run at exactly k big layers per token, so it can be compared with the oracle at
/// equal compute: a first pass routes by the router's argmax and records each token's P(big)
/// at every layer; each token then takes big at its k layers of highest P(big) in a second pass,
/// and elsewhere small — or, for a router that can also skip, whichever of small and skip it
/// gave the higher probability. (The ranking of P(big) does not depend on the temperature.)
public enum RouterExactK {
    public static func patterns(model: DuoModel, router: RouterWeights, ids: [Int], k: Int) throws -> [[Route]] {
        try run(model: model, router: router, ids: ids, k: k).patterns
    }

    /// The exact-k patterns together with the first pass's route probabilities,
    /// `probabilities[t][layer][r]` for the router's routes `router.routes[r]`.
    public static func run(model: DuoModel, router: RouterWeights, ids: [Int], k: Int) throws
        -> (patterns: [[Route]], probabilities: [[[Float]]])
    {
        guard let big = router.routes.firstIndex(of: .big), router.routes.contains(.small) else {
            throw DuoError("exact-k routing needs a router over small and big")
        }
        let recorder = ProbabilityRecorder(router: router, big: big)
        _ = try InferenceSession(model: model, capacity: ids.count).forwardHidden(ids, policy: recorder)
        let layers = model.config.numLayers
        let small = router.routes.firstIndex(of: .small)!
        let skip = router.routes.firstIndex(of: .skip)
        let patterns = (0..<ids.count).map { t in
            let ranked = (0..<layers).sorted { recorder.bigMargin[$0][t] > recorder.bigMargin[$1][t] }
            var pattern = (0..<layers).map { layer -> Route in
                guard let skip else { return .small }
                let p = recorder.probabilities[layer][t]
                return p[skip] > p[small] ? .skip : .small
            }
            for layer in ranked.prefix(k) { pattern[layer] = .big }
            return pattern
        }
        let probabilities = (0..<ids.count).map { t in (0..<layers).map { recorder.probabilities[$0][t] } }
        return (patterns, probabilities)
    }
}

/// The router's argmax policy, keeping log P(big) per layer and token.
final class ProbabilityRecorder: RoutingPolicy, @unchecked Sendable {  // used by one forward pass on one thread
    let router: RouterWeights
    let big: Int
    var bigMargin: [[Float]] = []
    /// Softmax over the router's routes, per layer and position.
    var probabilities: [[[Float]]] = []
    init(router: RouterWeights, big: Int) {
        self.router = router
        self.big = big
    }
    var name: String { "router" }
    func routes(layer: Int, positions: Range<Int>, ffnInput: UnsafePointer<Float>, width: Int) -> [Route] {
        let r = router.routes.count
        let logits = router.logits(layer: layer, input: ffnInput, rows: positions.count)
        // log P(big) = logit(big) - logsumexp(logits): it ranks P(big) at any temperature ordering.
        var margins: [Float] = []
        var probs: [[Float]] = []
        for i in 0..<positions.count {
            let row = logits[(i * r)..<((i + 1) * r)]
            let m = row.max()!
            let lse = m + log(row.reduce(0) { $0 + exp($1 - m) })
            margins.append(row[i * r + big] - lse)
            probs.append(row.map { exp($0 - lse) })
        }
        bigMargin.append(margins)
        probabilities.append(probs)
        return (0..<positions.count).map { router.argmax(logits, row: $0) }
    }
}
