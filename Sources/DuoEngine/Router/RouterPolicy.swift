/// A trained router as a routing policy: at each layer, the route with the highest logit.
/// (Exact-k inference, which needs a token's probabilities at every layer first, is done by the
/// evaluation as a second pass over a route matrix.)
public struct RouterPolicy: RoutingPolicy {
    public let router: RouterWeights
    public let name: String

    public init(router: RouterWeights, name: String = "router") {
        self.router = router
        self.name = name
    }

    public func routes(layer: Int, positions: Range<Int>, ffnInput: UnsafePointer<Float>, width: Int) -> [Route] {
        let r = router.routes.count
        var logits = [Float](repeating: 0, count: positions.count * r)
        logits.withUnsafeMutableBufferPointer { router.logits(layer: layer, input: ffnInput, rows: positions.count, into: $0.baseAddress!) }
        return (0..<positions.count).map { i in
            var best = 0
            for j in 1..<r where logits[i * r + j] > logits[i * r + best] { best = j }
            return router.routes[best]
        }
    }
}
