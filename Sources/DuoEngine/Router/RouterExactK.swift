import Foundation

/// A router run at exactly k big layers per token, so it can be compared with the oracle at
/// equal compute: a first pass routes by the router's argmax and records each token's P(big)
/// at every layer; each token then takes big at its k layers of highest P(big) (small
/// elsewhere) in a second pass. (The ranking of P(big) does not depend on the temperature.)
public enum RouterExactK {
    public static func patterns(model: DuoModel, router: RouterWeights, ids: [Int], k: Int) throws -> [[Route]] {
        guard let big = router.routes.firstIndex(of: .big), router.routes.contains(.small) else {
            throw DuoError("exact-k routing needs a router over small and big")
        }
        let recorder = ProbabilityRecorder(router: router, big: big)
        _ = try InferenceSession(model: model, capacity: ids.count).forwardHidden(ids, policy: recorder)
        let layers = model.config.numLayers
        return (0..<ids.count).map { t in
            let ranked = (0..<layers).sorted { recorder.bigMargin[$0][t] > recorder.bigMargin[$1][t] }
            var pattern = Array(repeating: Route.small, count: layers)
            for layer in ranked.prefix(k) { pattern[layer] = .big }
            return pattern
        }
    }
}

/// The router's argmax policy, keeping log P(big) per layer and token.
final class ProbabilityRecorder: RoutingPolicy, @unchecked Sendable {
    let router: RouterWeights
    let big: Int
    var bigMargin: [[Float]] = []
    init(router: RouterWeights, big: Int) {
        self.router = router
        self.big = big
    }
    var name: String { "router" }
    func routes(layer: Int, positions: Range<Int>, ffnInput: UnsafePointer<Float>, width: Int) -> [Route] {
        let r = router.routes.count
        let logits = router.logits(layer: layer, input: ffnInput, rows: positions.count)
        // log P(big) = logit(big) - logsumexp(logits): it ranks P(big) at any temperature ordering.
        bigMargin.append((0..<positions.count).map { i in
            let row = logits[(i * r)..<((i + 1) * r)]
            let m = row.max()!
            return row[i * r + big] - (m + log(row.reduce(0) { $0 + exp($1 - m) }))
        })
        return (0..<positions.count).map { router.argmax(logits, row: $0) }
    }
}
