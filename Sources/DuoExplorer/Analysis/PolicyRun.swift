import DuoEngine
import Foundation

/// A policy's routes and their consequences on the current text.
public struct PolicyRun: Sendable, Codable {
    public var key: PolicyKey
    /// Routes per token and layer; only the first `completed` tokens are known while an
    /// oracle is still searching.
    public var routes: RouteMatrix
    public var completed: Int
    /// `losses[t]`: loss of the true next token after token t (nats); `completed` entries
    /// while in progress, `tokens - 1` when done.
    public var losses: [Double]
    /// The five most likely next tokens after each token (empty while in progress).
    public var top: [[TokenProbability]]
    /// Logit lens: the most likely next token read out after each layer, `lens[t][layer]`; empty
    /// until the Layers view asks for it (`ExplorerJob.lens`).
    public var lens: [[TokenProbability]]
    /// Router probabilities per token, layer and route (router runs only).
    public var routerProbabilities: [[[Float]]]?
    /// The routes those probabilities refer to.
    public var routerRoutes: [Route]?
    /// FFN compute of each token's pattern as a fraction of all-big.
    public var ffnFractions: [Double]
    /// A note shown with the run (e.g. which router file or fixed pattern).
    public var note: String

    public var isComplete: Bool { completed == routes.tokens }
    public var meanLoss: Double { losses.isEmpty ? .nan : losses.reduce(0, +) / Double(losses.count) }
    public var perplexity: Double { Foundation.exp(meanLoss) }
    public var meanFFNFraction: Double {
        let known = ffnFractions.prefix(completed)
        return known.isEmpty ? .nan : known.reduce(0, +) / Double(known.count)
    }

    /// The route at (token, layer) if known.
    public func route(token: Int, layer: Int) -> Route? {
        token < completed && token < routes.tokens ? routes[token, layer] : nil
    }

    public func loss(_ token: Int) -> Double? { token < losses.count ? losses[token] : nil }

    /// Share of big, small and skip at each layer over the known tokens that have a target.
    public func layerShares() -> [[Double]] {
        let n = max(min(completed, routes.tokens - 1), 0)
        return (0..<routes.layers).map { l in
            [Route.big, .small, .skip].map { r in
                n == 0 ? 0 : Double((0..<n).filter { routes[$0, l] == r }.count) / Double(n)
            }
        }
    }
}
