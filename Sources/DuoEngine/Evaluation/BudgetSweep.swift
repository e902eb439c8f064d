import Foundation

/// The paper's central comparison on held-out text: perplexity against the number of big layers
/// k = 0...L for every policy of the catalogue with a budget (`PolicyKind.budgetKinds`: the
/// oracle, trained routers at exactly k, the best fixed pattern, best-of-N random, ...), beside
/// all-big and all-small; per-layer route shares; and each token's difficulty (`TokenDifficulty`).
/// Long texts are scored in context-sized windows, each from position 0.
public enum BudgetSweep {
    public struct Options: Sendable {
        public var context: OracleContext = .causal
        public var randomTrials = 100
        public var seed: UInt64 = 0
        /// Big/small routers to evaluate at exactly k (each k uses the router whose budget is nearest k/L).
        public var routers: [RouterWeights] = []
        /// Policies left out (e.g. the exhaustive fixed-pattern search on a long text).
        public var excluded: Set<PolicyKind> = []
        /// The k at which per-layer shares and token difficulty are reported.
        public var shareK: Int?
        public init() {}
    }

    /// One token's figures.
    public struct TokenRow: Sendable, Codable {
        public var id: Int
        public var target: Int
        public var lossAllSmall: Double
        public var lossAllBig: Double
        /// Oracle loss for k = 0...L.
        public var lossOracle: [Double]
        /// Potential loss reduction at `shareK`: all-small minus oracle.
        public var difficulty: Double
    }

    /// One policy's mean loss against k.
    public struct Curve: Sendable, Codable {
        /// The policy's name in the grammar (`oracle`, `router`, ...); `random mean` is the mean
        /// over the trials behind `random`.
        public var policy: String
        /// Mean loss (nats) for k = 0...L.
        public var meanLoss: [Double]
        /// How each k's routes were chosen (router file, best fixed pattern, random seed).
        public var notes: [String]
    }

    /// What `eval` writes as eval.json. Schema 2 (duoscope 0.2): per-policy curves in `curves`,
    /// where schema 1 had the fields oracle, fixed, fixedPatterns, router, routerNames,
    /// randomBest and randomMean.
    public struct Result: Sendable, Codable {
        public static let currentSchema = 2
        public var schema: Int
        public var layers: Int
        public var tokensScored: Int
        public var context: String
        public var randomTrials: Int
        public var shareK: Int
        public var allBig: Double
        public var allSmall: Double
        /// One curve per policy evaluated, in catalogue order.
        public var curves: [Curve]
        /// Per policy, per layer: share of tokens taking big, small, skip at `shareK` (routers: argmax).
        public var layerShares: [String: [[Double]]]
        public var tokens: [TokenRow]

        /// The mean loss per k of a policy, if it was evaluated.
        public func curve(_ policy: String) -> [Double]? { curves.first { $0.policy == policy }?.meanLoss }
        public func curve(_ kind: PolicyKind) -> [Double]? { curve(kind.rawValue) }
    }

    public static func run(
        model: DuoModel, ids: [Int], options: Options,
        progress: @escaping (String, Int, Int) -> Void = { _, _, _ in }
    ) throws -> Result {
        let c = model.config
        let L = c.numLayers
        guard c.isDuo else { throw DuoError("the budget sweep needs a Duo model with a small FFN") }
        let context: ContextMode
        let contextPolicy: RoutingPolicy
        switch options.context {
        case .causal: (context, contextPolicy) = (.causal, UniformPolicy(.big))
        case .fixed(let policy): (context, contextPolicy) = (.fixed, policy)
        }
        let evaluator = PolicyEvaluator(
            model: model, routers: options.routers.map { ("budget \($0.budget)", $0) }, randomTrials: options.randomTrials,
            seed: options.seed, fixedContext: contextPolicy)
        let windows = evaluator.windows(ids)
        guard !windows.isEmpty else { throw DuoError("text is too short to evaluate (needs at least 2 tokens)") }
        let shareK = min(max(options.shareK ?? L / 2, 0), L)
        let scored = windows.reduce(0) { $0 + $1.count - 1 }
        var shares: [String: [[Double]]] = [:]
        func share(_ name: String, _ routes: [[Route]]) {
            shares[name] = (0..<L).map { l in
                let column = routes.map { $0[l] }
                return [Route.big, .small, .skip].map { r in Double(column.filter { $0 == r }.count) / Double(max(column.count, 1)) }
            }
        }

        progress("all-big / all-small", 0, 2)
        let big = try evaluator.evaluate(PolicyKey(.allBig, k: 0), windows: windows).losses
        let small = try evaluator.evaluate(PolicyKey(.allSmall, k: 0), windows: windows).losses

        var curves: [Curve] = []
        var oracleLosses: [[Double]] = []
        for kind in PolicyKind.budgetKinds where !options.excluded.contains(kind) && kind.unavailable(in: evaluator) == nil {
            let control = EvaluationControl(progress: { done, total in progress(kind.rawValue, done, total) })
            let outcomes = try evaluator.evaluateEveryK(kind, context: context, windows: windows, control: control)
            curves.append(Curve(policy: kind.rawValue, meanLoss: outcomes.map(\.meanLoss), notes: outcomes.map(\.note)))
            if outcomes.contains(where: { $0.trialMeanLoss != nil }) {
                curves.append(
                    Curve(
                        policy: "\(kind.rawValue) mean", meanLoss: outcomes.map { $0.trialMeanLoss ?? $0.meanLoss },
                        notes: outcomes.map { _ in "mean over the trials" }))
            }
            share(kind.rawValue, outcomes[shareK].scoredRoutes)
            if kind == .oracle { oracleLosses = outcomes.map(\.losses) }
        }
        for r in options.routers {
            let label = "router argmax (budget \(r.budget)\(r.routes.contains(.skip) ? ", with skip" : ""))"
            let routes = try windows.map {
                try SequenceEvaluation.run(model: model, ids: $0, policy: RouterPolicy(router: r), topK: 0).routes
            }
            share(label, PolicyOutcome(routes: routes, losses: [], note: label).scoredRoutes)
        }

        let tokens: [TokenRow] = {
            var rows: [TokenRow] = []
            var index = 0
            for w in windows {
                for t in 0..<(w.count - 1) {
                    rows.append(
                        TokenRow(
                            id: w[t], target: w[t + 1], lossAllSmall: small[index], lossAllBig: big[index],
                            lossOracle: oracleLosses.map { $0[index] },
                            difficulty: TokenDifficulty.potential(allSmall: small[index], oracle: oracleLosses[shareK][index])))
                    index += 1
                }
            }
            return rows
        }()
        func mean(_ values: [Double]) -> Double { values.reduce(0, +) / Double(max(values.count, 1)) }
        return Result(
            schema: Result.currentSchema, layers: L, tokensScored: scored, context: options.context.name,
            randomTrials: options.randomTrials, shareK: shareK, allBig: mean(big), allSmall: mean(small), curves: curves,
            layerShares: shares, tokens: tokens)
    }
}
