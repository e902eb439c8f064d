/// Decides each token's route at each layer during a forward pass. Static policies ignore the
/// FFN input; routers read it. Decisions must depend only on the position, the layer and the
/// token's own FFN input, so batched prefill and token-by-token decoding route alike.
public protocol RoutingPolicy: Sendable {
    /// A short label, e.g. "all-big", "random:k=4,seed=0".
    var name: String { get }
    /// Routes for the rows at consecutive `positions` at `layer`; `ffnInput` holds their
    /// normalised FFN inputs, `positions.count` rows of `width` floats.
    func routes(layer: Int, positions: Range<Int>, ffnInput: UnsafePointer<Float>, width: Int) -> [Route]
}
