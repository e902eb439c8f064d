import Foundation

/// The paper's central comparison on held-out text: perplexity against the number of big layers
/// k = 0...L for the oracle, the best fixed pattern, trained routers (at exactly k), and the best
/// and mean of N random routings, beside all-big and all-small; per-layer route shares; and each
/// token's difficulty (its loss under all-small minus its oracle loss). Long texts are scored in
/// context-sized windows, each from position 0.
public enum BudgetSweep {
    public struct Options: Sendable {
        public var context: OracleContext = .causal
        public var randomTrials = 100
        public var seed: UInt64 = 0
        /// Big/small routers to evaluate at exactly k (each k uses the router whose budget is nearest k/L).
        public var routers: [RouterWeights] = []
        public var includeFixed = true
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

    public struct Result: Sendable, Codable {
        public var layers: Int
        public var tokensScored: Int
        public var context: String
        public var randomTrials: Int
        public var shareK: Int
        public var allBig: Double
        public var allSmall: Double
        /// Mean loss (nats) per k = 0...L; nil where a policy was not run.
        public var oracle: [Double]
        public var fixed: [Double]?
        public var fixedPatterns: [String]?
        public var router: [Double]?
        public var routerNames: [String]?
        public var randomBest: [Double]
        public var randomMean: [Double]
        /// Per policy, per layer: share of tokens taking big, small, skip at `shareK` (routers: argmax).
        public var layerShares: [String: [[Double]]]
        public var tokens: [TokenRow]
    }

    /// Splits `ids` into windows of at most the context length (at least 2 tokens each).
    static func windows(_ ids: [Int], context: Int) -> [[Int]] {
        stride(from: 0, to: ids.count, by: context).map { Array(ids[$0..<min($0 + context, ids.count)]) }.filter { $0.count >= 2 }
    }

    public static func run(
        model: DuoModel, ids: [Int], options: Options,
        progress: (String, Int, Int) -> Void = { _, _, _ in }
    ) throws -> Result {
        let c = model.config
        let L = c.numLayers
        guard c.isDuo else { throw DuoError("the budget sweep needs a Duo model with a small FFN") }
        let windows = windows(ids, context: c.maxPositions)
        guard !windows.isEmpty else { throw DuoError("text is too short to evaluate (needs at least 2 tokens)") }
        let shareK = min(max(options.shareK ?? L / 2, 0), L)
        let scored = windows.reduce(0) { $0 + $1.count - 1 }

        func losses(_ policy: RoutingPolicy) throws -> (losses: [Double], routes: [[Route]]) {
            var all: [Double] = []
            var routes: [[Route]] = []
            for w in windows {
                let e = try SequenceEvaluation.run(model: model, ids: w, policy: policy, topK: 0)
                all += e.losses
                routes += (0..<(w.count - 1)).map { Array(e.routes.row($0)) }
            }
            return (all, routes)
        }
        func mean(_ values: [Double]) -> Double { values.reduce(0, +) / Double(max(values.count, 1)) }
        var shares: [String: [[Double]]] = [:]
        func share(_ name: String, _ routes: [[Route]]) {
            shares[name] = (0..<L).map { l in
                let column = routes.map { $0[l] }
                return [Route.big, .small, .skip].map { r in Double(column.filter { $0 == r }.count) / Double(max(column.count, 1)) }
            }
        }

        progress("all-big / all-small", 0, 2)
        let big = try losses(UniformPolicy(.big)).losses
        let small = try losses(UniformPolicy(.small)).losses

        // Oracle for every k.
        var oracleLosses = Array(repeating: [Double](), count: L + 1)
        var oracleRoutes = Array(repeating: [[Route]](), count: L + 1)
        var done = 0
        progress("oracle", 0, scored)
        for w in windows {
            let before = done
            let perK = try Oracle.everyK(model: model, ids: w, context: options.context) { tokens, _ in
                progress("oracle", before + tokens, scored)
            }
            for k in 0...L {
                oracleLosses[k] += perK[k].map(\.loss)
                oracleRoutes[k] += perK[k].map(\.pattern)
            }
            done += w.count - 1
            progress("oracle", done, scored)
        }
        share("oracle", oracleRoutes[shareK])

        // Random routings: best and mean of N trials at each k.
        var randomBest = [Double]()
        var randomMean = [Double]()
        progress("random", 0, L + 1)
        for k in 0...L {
            var trials: [Double] = []
            var bestRoutes: [[Route]] = []
            for trial in 0..<options.randomTrials {
                let policy = RandomPolicy(mode: .exactly(k), seed: options.seed &+ UInt64(trial), layers: L)
                let (l, r) = try losses(policy)
                if trials.isEmpty || mean(l) < trials.min()! { bestRoutes = r }
                trials.append(mean(l))
                if k == 0 || k == L { break }
            }
            randomBest.append(trials.min()!)
            randomMean.append(mean(trials))
            if k == shareK { share("random best", bestRoutes) }
            progress("random", k + 1, L + 1)
        }

        // Fixed: the best single pattern per k, over all 2^L patterns (a layer-prefix tree per window).
        var fixed: [Double]?
        var fixedPatterns: [String]?
        if options.includeFixed {
            var sums = Array(repeating: 0.0, count: 1 << L)
            var done = 0
            progress("fixed patterns", 0, scored)
            for w in windows {
                let before = done
                let search = try FixedPatternSearch.losses(
                    model: model, ids: w, bigCounts: 0...L,
                    progress: { part, whole in
                        progress("fixed patterns", before + (w.count - 1) * part / max(whole, 1), scored)
                    })
                for (index, sum) in search { sums[index] += sum }
                done += w.count - 1
                progress("fixed patterns", done, scored)
            }
            var best = Array(repeating: Double.infinity, count: L + 1)
            var bestPattern = Array(repeating: "", count: L + 1)
            for index in 0..<(1 << L) {
                let k = index.nonzeroBitCount
                let m = sums[index] / Double(scored)
                if m < best[k] {
                    best[k] = m
                    bestPattern[k] = String(FixedPatternSearch.pattern(index: index, layers: L).map(\.letter))
                }
            }
            fixed = best
            fixedPatterns = bestPattern
            let p = bestPattern[shareK].compactMap { Route(letter: $0) }
            share("fixed", Array(repeating: p, count: scored))
        }

        // Routers at exactly k, each k with the router nearest its budget.
        var router: [Double]?
        var routerNames: [String]?
        let twoWay = options.routers.filter { Set($0.routes) == [.small, .big] }
        if !twoWay.isEmpty {
            var values: [Double] = []
            var names: [String] = []
            for k in 0...L {
                let target = Double(k) / Double(L)
                let chosen = twoWay.min { abs($0.budget - target) < abs($1.budget - target) }!
                var all: [Double] = []
                var routes: [[Route]] = []
                for w in windows {
                    let patterns = try RouterExactK.patterns(model: model, router: chosen, ids: w, k: k)
                    let e = try SequenceEvaluation.run(model: model, ids: w, policy: MatrixPolicy(RouteMatrix(rows: patterns)), topK: 0)
                    all += e.losses
                    routes += patterns.dropLast()
                }
                values.append(mean(all))
                names.append("budget \(chosen.budget)")
                if k == shareK { share("router", routes) }
                progress("routers", k + 1, L + 1)
            }
            router = values
            routerNames = names
        }
        for r in options.routers {
            let label = "router argmax (budget \(r.budget)\(r.routes.contains(.skip) ? ", with skip" : ""))"
            share(label, try losses(RouterPolicy(router: r)).routes)
        }

        let tokens: [TokenRow] = {
            var rows: [TokenRow] = []
            var index = 0
            for w in windows {
                for t in 0..<(w.count - 1) {
                    rows.append(
                        TokenRow(
                            id: w[t], target: w[t + 1], lossAllSmall: small[index], lossAllBig: big[index],
                            lossOracle: (0...L).map { oracleLosses[$0][index] },
                            difficulty: small[index] - oracleLosses[shareK][index]))
                    index += 1
                }
            }
            return rows
        }()
        return Result(
            layers: L, tokensScored: scored, context: options.context.name, randomTrials: options.randomTrials,
            shareK: shareK, allBig: mean(big), allSmall: mean(small), oracle: oracleLosses.map(mean),
            fixed: fixed, fixedPatterns: fixedPatterns, router: router, routerNames: routerNames,
            randomBest: randomBest, randomMean: randomMean, layerShares: shares, tokens: tokens)
    }
}
