import Foundation

/// The losses of one sequence under many routings (the best of N random routings). Layer 0's
/// attention sees only the token embeddings, so it is the same under every routing, and so is
/// its FFN's input: its output takes one value per route and token. Both are computed once
/// here; each routing then runs only layers 1...L-1 and the LM head.
final class RoutingTrials: @unchecked Sendable {  // immutable after init
    let model: DuoModel
    let ids: [Int]
    /// Layer 0's FFN input (normalised), and the residual stream after layer 0 for each route.
    private let firstInput: Tensor
    private let afterFirstLayer: [Route: Tensor]

    init(model: DuoModel, ids: [Int]) throws {
        self.model = model
        self.ids = ids
        let c = model.config
        let session = InferenceSession(model: model, capacity: ids.count)
        let attended = try session.embed(ids)
        try session.prefillAttention(0, x: attended)
        firstInput = Tensor(shape: [ids.count, c.hiddenSize])
        let layer = model.weights.layers[0]
        LayerKernels.rmsNorm(
            attended.data, rows: ids.count, width: c.hiddenSize, weight: layer.postNorm.data, eps: c.rmsNormEps,
            into: firstInput.data)
        var after: [Route: Tensor] = [.skip: attended]
        for route in [Route.small, .big] where layer.ffn(route) != nil {
            let x = Tensor(shape: attended.shape)
            x.data.update(from: attended.data, count: attended.count)
            try session.prefillFFN(0, x: x, policy: UniformPolicy(route))
            after[route] = x
        }
        afterFirstLayer = after
    }

    /// The loss of each token's next token (`ids.count - 1` of them) with the sequence routed by
    /// `policy`: what `SequenceEvaluation.run` gives, up to rounding.
    func losses(under policy: RoutingPolicy) throws -> [Double] {
        let c = model.config
        let n = ids.count
        let first = policy.routes(layer: 0, positions: 0..<n, ffnInput: firstInput.data, width: c.hiddenSize)
        guard first.count == n else { throw DuoError("policy \(policy.name) returned \(first.count) routes for \(n) tokens") }
        let x = Tensor(shape: [n, c.hiddenSize])
        for (t, route) in first.enumerated() {
            guard let stream = afterFirstLayer[route] else { throw InferenceSession.noSmallFFN(policy) }
            x.row(t).update(from: stream.row(t), count: c.hiddenSize)
        }
        let session = InferenceSession(model: model, capacity: n)
        for layer in 1..<c.numLayers {
            try session.prefillAttention(layer, x: x)
            try session.prefillFFN(layer, x: x, policy: policy)
        }
        let logits = session.logits(of: x)
        return (0..<(n - 1)).map { Ops.targetLoss(logits.row($0), count: c.vocabSize, target: ids[$0 + 1]) }
    }
}
