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
        let logits = router.logits(layer: layer, input: ffnInput, rows: positions.count)
        return (0..<positions.count).map { router.argmax(logits, row: $0) }
    }
}
