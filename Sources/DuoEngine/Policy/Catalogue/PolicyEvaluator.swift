import Foundation

/// What a policy did on a text: the routes it chose and the loss of every scored token.
public struct PolicyOutcome: Sendable {
    /// Routes per window, token x layer. A window's last token has no target and shows the routes
    /// of the token before it (policies that need the target cannot route it).
    public var routes: [RouteMatrix]
    /// Loss (nats) of each scored token, windows in order; fewer while a search is in progress.
    public var losses: [Double]
    /// How the routes were chosen (which router, which fixed pattern, which random seed).
    public var note: String
    /// A router's probabilities per token (windows in order), layer and route ...
    public var routerProbabilities: [[[Float]]]?
    /// ... and the routes they refer to.
    public var routerRoutes: [Route]?
    /// For a best-of-N policy: the mean over the trials of each trial's mean loss.
    public var trialMeanLoss: Double?

    public init(
        routes: [RouteMatrix], losses: [Double], note: String, routerProbabilities: [[[Float]]]? = nil, routerRoutes: [Route]? = nil,
        trialMeanLoss: Double? = nil
    ) {
        self.routes = routes
        self.losses = losses
        self.note = note
        self.routerProbabilities = routerProbabilities
        self.routerRoutes = routerRoutes
        self.trialMeanLoss = trialMeanLoss
    }

    public var meanLoss: Double { losses.isEmpty ? .nan : losses.reduce(0, +) / Double(losses.count) }
    /// Every window's routes for its scored tokens, windows in order.
    public var scoredRoutes: [[Route]] { routes.flatMap { m in (0..<max(m.tokens - 1, 0)).map { Array(m.row($0)) } } }
}

/// A policy's outcome on a shorter text that the one being evaluated extends (the text before
/// tokens were generated): policies whose routes for a token depend only on the tokens up to it
/// keep those routes and compute only the new positions.
public struct EarlierOutcome: Sendable {
    public var ids: [Int]
    public var outcome: PolicyOutcome
    public init(ids: [Int], outcome: PolicyOutcome) {
        self.ids = ids
        self.outcome = outcome
    }

    /// The oracle choices it holds for a prefix of `window`, if it is one (one window, losses
    /// for its first tokens).
    func oracleChoices(for window: [Int]) -> [OracleChoice] {
        guard outcome.routes.count == 1, ids.count >= 2, ids.count <= window.count, window.starts(with: ids) else { return [] }
        let routes = outcome.routes[0]
        let known = min(outcome.losses.count, ids.count - 1, routes.tokens)
        return (0..<known).map { t in
            OracleChoice(position: t, target: window[t + 1], pattern: Array(routes.row(t)), loss: outcome.losses[t])
        }
    }
}

/// Cancellation, progress and partial results for one evaluation.
public struct EvaluationControl {
    /// Returns false when the result is no longer wanted; the work then stops with `OracleStopped`.
    public var shouldContinue: () -> Bool
    /// (done, total) of the step that is running.
    public var progress: (Int, Int) -> Void
    /// Sees the oracle's routes and losses as each token's search ends (one window only).
    public var partial: ((PolicyOutcome) -> Void)?

    public init(
        shouldContinue: @escaping () -> Bool = { true }, progress: @escaping (Int, Int) -> Void = { _, _ in },
        partial: ((PolicyOutcome) -> Void)? = nil
    ) {
        self.shouldContinue = shouldContinue
        self.progress = progress
        self.partial = partial
    }

    /// The same control without progress (one step of a loop that reports its own).
    var silenced: EvaluationControl { EvaluationControl(shouldContinue: shouldContinue, progress: { _, _ in }) }
}

/// Evaluates the catalogue's policies on a model: what they may use (trained routers, the number
/// of random trials and their seed) and the building blocks the cases of `PolicyKind` are made of.
/// Texts longer than the context are given as windows, each scored from position 0.
public final class PolicyEvaluator: @unchecked Sendable {  // immutable after init
    public let model: DuoModel
    /// Trained routers over small and big (some may also skip), with their names (e.g. "k4").
    public let routers: [(name: String, weights: RouterWeights)]
    /// Trials behind best-of-N random routing (the paper: 100).
    public let randomTrials: Int
    /// The first random seed; trial i uses seed + i.
    public let seed: UInt64
    /// How earlier tokens are routed in the oracle's fixed context (all-big unless `eval
    /// --context POLICY` chose another policy).
    public let fixedContext: RoutingPolicy

    public init(
        model: DuoModel, routers: [(name: String, weights: RouterWeights)] = [], randomTrials: Int = 100, seed: UInt64 = 0,
        fixedContext: RoutingPolicy = UniformPolicy(.big)
    ) {
        self.model = model
        self.routers = routers.filter { $0.weights.routes.contains(.small) && $0.weights.routes.contains(.big) }
        self.randomTrials = randomTrials
        self.seed = seed
        self.fixedContext = fixedContext
    }

    public var layers: Int { model.config.numLayers }
    /// The route of a layer that is not big: small, or skip on a model without a small FFN
    /// (a plain Llama model: the budget policies then choose between big and skip).
    public var low: Route { model.config.isDuo ? .small : .skip }

    /// The catalogue with every router in the model's routers/ folder.
    public static func forModel(_ model: DuoModel, randomTrials: Int = 100, seed: UInt64 = 0) throws -> PolicyEvaluator {
        let routers = try model.directory.map { try ModelDirectory($0).routers(for: model.config) } ?? []
        return PolicyEvaluator(model: model, routers: routers, randomTrials: randomTrials, seed: seed)
    }

    /// Splits `ids` into windows of at most the model's context (at least 2 tokens each).
    public func windows(_ ids: [Int]) -> [[Int]] { Self.windows(ids, length: model.config.maxPositions) }

    /// Consecutive windows of at most `length` tokens; a last window of one token (nothing to
    /// score) is dropped.
    public static func windows(_ ids: [Int], length: Int) -> [[Int]] {
        stride(from: 0, to: ids.count, by: max(length, 1)).map { Array(ids[$0..<min($0 + length, ids.count)]) }.filter { $0.count >= 2 }
    }

    /// `key` on one text within the context as a scored sequence (top-k predictions included);
    /// the losses are the policy's own (see `oracle`).
    public func sequence(_ key: PolicyKey, ids: [Int], topK: Int = 5) throws -> SequenceEvaluation {
        let outcome = try evaluate(key, windows: [ids])
        var evaluation = try SequenceEvaluation.run(model: model, ids: ids, policy: MatrixPolicy(outcome.routes[0]), topK: topK)
        evaluation.losses = outcome.losses
        return evaluation
    }

    /// Evaluates `key` on `windows` (one window: a text within the context). `earlier` is the
    /// same policy's outcome on a text this one extends; the oracle then searches only the new
    /// positions (`Oracle.run(prefix:)`).
    public func evaluate(
        _ key: PolicyKey, windows: [[Int]], control: EvaluationControl = EvaluationControl(), earlier: EarlierOutcome? = nil
    ) throws -> PolicyOutcome {
        try check(key, windows: windows)
        // The searches spread their own work over the cores (`LayerKernels.splitLinear`);
        // BLAS threads woken by a small call in between would spin beside them.
        return try Parallel.withSingleThreadedBLAS {
            try key.kind.outcome(key, windows: windows, evaluator: self, control: control, earlier: earlier)
        }
    }

    /// Evaluates a policy with a budget at every k = 0...L.
    public func evaluateEveryK(
        _ kind: PolicyKind, context: ContextMode = .causal, trials: Int? = nil, windows: [[Int]],
        control: EvaluationControl = EvaluationControl()
    ) throws -> [PolicyOutcome] {
        try check(PolicyKey(kind, k: 0, context: context, trials: trials), windows: windows)
        return try Parallel.withSingleThreadedBLAS {
            try kind.outcomesForEveryK(context: context, trials: trials, windows: windows, evaluator: self, control: control)
        }
    }

    private func check(_ key: PolicyKey, windows: [[Int]]) throws {
        try key.validate(layers: layers)
        guard !windows.isEmpty, windows.allSatisfy({ $0.count >= 2 }) else {
            throw DuoError("text is too short to evaluate (needs at least 2 tokens)")
        }
        if let reason = key.kind.unavailable(in: self) { throw DuoError(reason) }
    }

    /// The router trained for the budget nearest k/L: among the routers over small and big (whose
    /// budget is a share of big layers), else among those that can also skip.
    public func router(for k: Int) -> (name: String, weights: RouterWeights)? {
        let target = Double(k) / Double(max(layers, 1))
        let twoWay = routers.filter { !$0.weights.routes.contains(.skip) }
        return (twoWay.isEmpty ? routers : twoWay).min { abs($0.weights.budget - target) < abs($1.weights.budget - target) }
    }

    // MARK: Building blocks

    /// Scores explicit routes (one matrix per window) by a forward pass.
    func score(_ windows: [[Int]], routes: [RouteMatrix], note: String) throws -> PolicyOutcome {
        var losses: [Double] = []
        for (w, m) in zip(windows, routes) {
            losses += try SequenceEvaluation.run(model: model, ids: w, policy: MatrixPolicy(m), topK: 0).losses
        }
        return PolicyOutcome(routes: routes, losses: losses, note: note)
    }

    /// Scores one pattern used by every token.
    func score(_ windows: [[Int]], pattern: [Route], note: String) throws -> PolicyOutcome {
        try score(windows, routes: windows.map { RouteMatrix(rows: Array(repeating: pattern, count: $0.count)) }, note: note)
    }

    /// Exactly k big layers, the others small (skipped on a model without a small FFN).
    private func constraint(k: Int) -> OracleConstraint { model.config.isDuo ? .exactlyBig(k) : .bigOrSkip(skips: layers - k) }

    private func oracleContext(_ mode: ContextMode) -> OracleContext { mode == .causal ? .causal : .fixed(fixedContext) }

    private func oracleNote(k: Int, context: ContextMode) -> String {
        let name = context == .causal || fixedContext.name == "all-big" ? context.rawValue : oracleContext(context).name
        return "oracle, exactly \(k) big, \(name) context; the last token is not scored (no next token) and repeats the routes before it"
    }

    /// The oracle with exactly k big layers. Its losses are its own: equal to the forward pass in
    /// the causal context, the per-token optimum over an all-big context in the fixed one.
    func oracle(
        k: Int, context: ContextMode, windows: [[Int]], control: EvaluationControl, earlier: EarlierOutcome? = nil
    ) throws -> PolicyOutcome {
        let L = layers
        var matrices: [RouteMatrix] = []
        var losses: [Double] = []
        for w in windows {
            let prefix = windows.count == 1 ? earlier?.oracleChoices(for: w) ?? [] : []
            var found = prefix
            let choices = try Oracle.run(
                model: model, ids: w, constraint: constraint(k: k), context: oracleContext(context), prefix: prefix,
                progress: control.progress
            ) { choice in
                found.append(choice)
                if let partial = control.partial {
                    var rows = found.map(\.pattern)
                    rows += Array(repeating: Array(repeating: Route.small, count: L), count: w.count - rows.count)
                    partial(PolicyOutcome(routes: [RouteMatrix(rows: rows)], losses: found.map(\.loss), note: ""))
                }
                return control.shouldContinue()
            }
            matrices.append(SequenceEvaluation(model: model, ids: w, oracle: choices).routes)
            losses += choices.map(\.loss)
        }
        return PolicyOutcome(routes: matrices, losses: losses, note: oracleNote(k: k, context: context))
    }

    /// Oracles for every k from one search per window (`Oracle.everyK`).
    func oracleEveryK(context: ContextMode, windows: [[Int]], control: EvaluationControl) throws -> [PolicyOutcome] {
        // One big/small tree serves every k; big/skip has no such search, so each k runs its own.
        guard model.config.isDuo else {
            return try (0...layers).map { try oracle(k: $0, context: context, windows: windows, control: control.silenced) }
        }
        var outcomes = (0...layers).map { k in PolicyOutcome(routes: [], losses: [], note: oracleNote(k: k, context: context)) }
        let scored = windows.reduce(0) { $0 + $1.count - 1 }
        var done = 0
        for w in windows {
            guard control.shouldContinue() else { throw OracleStopped() }
            let before = done
            let perK = try Oracle.everyK(model: model, ids: w, context: oracleContext(context)) { tokens, _ in
                control.progress(before + tokens, scored)
            }
            for k in 0...layers {
                outcomes[k].routes.append(SequenceEvaluation(model: model, ids: w, oracle: perK[k]).routes)
                outcomes[k].losses += perK[k].map(\.loss)
            }
            done += w.count - 1
        }
        return outcomes
    }

    /// A router at exactly k big layers: the k layers of highest P(big) per token.
    func routerExactK(k: Int, windows: [[Int]]) throws -> PolicyOutcome {
        guard let router = router(for: k) else { throw DuoError("no router over small and big in the model's routers/ folder") }
        var matrices: [RouteMatrix] = []
        var probabilities: [[[Float]]] = []
        for w in windows {
            let run = try RouterExactK.run(model: model, router: router.weights, ids: w, k: k)
            matrices.append(RouteMatrix(rows: run.patterns))
            probabilities += run.probabilities
        }
        var outcome = try score(windows, routes: matrices, note: "router \(router.name), exactly \(k) big by P(big)")
        outcome.routerProbabilities = probabilities
        outcome.routerRoutes = router.weights.routes
        return outcome
    }

    /// The best fixed pattern for each k in `bigCounts` (ties: the lowest pattern index), by summed
    /// loss over every window; one layer-prefix tree per window serves every k. A text within
    /// the context takes the bounded search (`FixedPatternSearch.best`); over several windows
    /// every pattern's loss is summed.
    func bestFixed(bigCounts: ClosedRange<Int>, windows: [[Int]], control: EvaluationControl) throws -> [PolicyOutcome] {
        let L = layers
        var winners: [Int: Int] = [:]
        if windows.count == 1 {
            winners = try FixedPatternSearch.best(
                model: model, ids: windows[0], bigCounts: bigCounts, low: low, shouldContinue: control.shouldContinue,
                progress: control.progress
            ).winners.mapValues(\.index)
        } else {
            var sums: [Int: Double] = [:]
            let scored = windows.reduce(0) { $0 + $1.count - 1 }
            var done = 0
            for w in windows {
                let before = done
                let search = try FixedPatternSearch.losses(
                    model: model, ids: w, bigCounts: bigCounts, low: low, shouldContinue: control.shouldContinue,
                    progress: { part, whole in control.progress(before + (w.count - 1) * part / max(whole, 1), scored) })
                for (index, sum) in search { sums[index, default: 0] += sum }
                done += w.count - 1
            }
            for k in bigCounts {
                winners[k] =
                    sums.filter { $0.key.nonzeroBitCount == k }.min { $0.value < $1.value || ($0.value == $1.value && $0.key < $1.key) }!
                    .key
            }
        }
        return try bigCounts.map { k in
            let candidates = (0..<(1 << L)).filter { $0.nonzeroBitCount == k }.count
            let pattern = FixedPatternSearch.pattern(index: winners[k]!, layers: L, low: low)
            return try score(windows, pattern: pattern, note: "best of \(candidates) fixed patterns: \(String(pattern.map(\.letter)))")
        }
    }

    /// The best of `trials` random routings with exactly k big layers per token (one trial when
    /// k is 0 or L: there is only one pattern), chosen by mean loss over every window.
    func bestRandom(k: Int, trials: Int, windows: [[Int]], control: EvaluationControl) throws -> PolicyOutcome {
        let L = layers
        let n = (k == 0 || k == L) ? 1 : trials
        // Window by window, the trials side by side on the cores, sharing the window's first
        // layer (`RoutingTrials`); each trial's summed loss in its own slot, in window order.
        var sums = [Double](repeating: 0, count: n)
        let jobs = JobControl(shouldContinue: control.shouldContinue, progress: control.progress)
        for w in windows {
            let trials = try RoutingTrials(model: model, ids: w)
            sums.withUnsafeMutableBufferPointer { sums in
                Parallel.forEachJob(n) { trial in
                    jobs.run {
                        // Each token's pattern drawn once (the policy draws it again for every layer).
                        let policy = RandomPolicy(mode: .exactly(k), seed: seed &+ UInt64(trial), layers: L, low: low)
                        let routes = MatrixPolicy(RouteMatrix(rows: (0..<w.count).map { policy.pattern(position: $0) }))
                        for loss in try trials.losses(under: routes) { sums[trial] += loss }
                        jobs.advance(total: n * windows.count)
                    }
                }
            }
            try jobs.finish()
        }
        let scored = windows.reduce(0) { $0 + $1.count - 1 }
        let means = sums.map { $0 / Double(max(scored, 1)) }
        // The first trial of lowest mean loss, as a loop over the trials in order would pick it.
        let winner = means.indices.min { means[$0] < means[$1] }!
        let best = (loss: means[winner], seed: seed &+ UInt64(winner))
        let sum = means.reduce(0, +)
        let policy = RandomPolicy(mode: .exactly(k), seed: best.seed, layers: L, low: low)
        let routes = windows.map { w in RouteMatrix(rows: (0..<w.count).map { policy.pattern(position: $0) }) }
        var outcome = try score(windows, routes: routes, note: "best of \(n) random trials (seed \(best.seed))")
        outcome.trialMeanLoss = sum / Double(n)
        return outcome
    }
}
