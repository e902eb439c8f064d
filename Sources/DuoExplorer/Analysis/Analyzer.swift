import DuoEngine
import Foundation

/// Runs the catalogue's policies (`PolicyEvaluator`) on the explorer's text and adds what the
/// views show beside the routes: top-5 predictions, and on demand the logit lens after every
/// layer, per-layer flip losses and greedy continuations. Pure computation — no UI; complete
/// runs are kept in a `ResultCache` when one is given, so a text, policy and budget seen before
/// come back at once.
public final class Analyzer: @unchecked Sendable {  // immutable after init
    public let evaluator: PolicyEvaluator
    /// Where complete runs persist between sessions (nil: nowhere).
    public let cache: ResultCache?

    public init(
        model: DuoModel, routers: [(name: String, weights: RouterWeights)], randomTrials: Int = 100,
        cache: ResultCache? = nil
    ) {
        evaluator = PolicyEvaluator(model: model, routers: routers, randomTrials: randomTrials)
        self.cache = cache
    }

    /// The same analyzer with other routers or another number of random trials, sharing the
    /// cache (its keys name the router and the trials, so no result is taken for another's).
    public func with(routers: [(name: String, weights: RouterWeights)]? = nil, randomTrials: Int? = nil) -> Analyzer {
        Analyzer(model: model, routers: routers ?? self.routers, randomTrials: randomTrials ?? self.randomTrials, cache: cache)
    }

    public var model: DuoModel { evaluator.model }
    /// Trained routers over small and big, with their names (e.g. "k4").
    public var routers: [(name: String, weights: RouterWeights)] { evaluator.routers }
    /// Trials behind the random baseline (the paper: best of 100).
    public var randomTrials: Int { evaluator.randomTrials }

    /// What a run's result depends on: the model (by content), the token ids, the policy and its
    /// budget and context, and for routers the router's weights, for random the number of trials.
    func cacheKey(_ key: PolicyKey, ids: [Int]) -> [String] {
        var parts = ["explorer-run", model.fingerprint, key.kind.rawValue, "k=\(key.k)", "context=\(key.context.rawValue)"]
        switch key.kind {
        case .router:
            var hasher = ContentHash.Hasher128()
            if let router = router(for: key.k) {
                hasher.add(router.name)
                hasher.add(tensors: router.weights.named)
            }
            parts.append("router=" + hasher.hex)
        case .random: parts.append("trials=\(key.trials ?? randomTrials)")
        default: break
        }
        parts.append(ids.map(String.init).joined(separator: ","))
        return parts
    }

    /// Loads every router in MODEL/routers; one that cannot be loaded (corrupt, made for another
    /// model, not a regular file) is an error naming it, not a router silently missing.
    public static func loadRouters(for model: DuoModel) throws -> [(name: String, weights: RouterWeights)] {
        try model.directory.map { try ModelDirectory($0).routers(for: model.config) } ?? []
    }

    var layers: Int { model.config.numLayers }

    /// The router trained for the budget nearest k/L.
    public func router(for k: Int) -> (name: String, weights: RouterWeights)? { evaluator.router(for: k) }

    /// Runs `key` on `ids`. `partial` sees oracle results as they arrive; `progress(done, total)`
    /// reports; when `shouldContinue` turns false the work stops with `OracleStopped`. `earlier`
    /// is the same policy's run on a text `ids` extends (before a continuation was generated):
    /// the oracle keeps its choices and searches only the new positions.
    public func run(
        _ key: PolicyKey, ids: [Int], shouldContinue: @escaping () -> Bool = { true },
        progress: @escaping (Int, Int) -> Void = { _, _ in },
        earlier: (ids: [Int], run: PolicyRun)? = nil,
        partial: @escaping (PolicyRun) -> Void = { _ in }
    ) throws -> PolicyRun {
        let cacheKey = cache == nil ? [] : self.cacheKey(key, ids: ids)
        if let hit = cached(key, ids: ids, cacheKey: cacheKey) { return hit }
        let cost = model.cost
        let control = EvaluationControl(shouldContinue: shouldContinue, progress: progress) { found in
            let routes = found.routes[0]
            partial(
                PolicyRun(
                    key: key, routes: routes, completed: found.losses.count, losses: found.losses, top: [], lens: [],
                    ffnFractions: (0..<routes.tokens).map { cost.ffnFraction(pattern: routes.row($0)) }, note: ""))
        }
        let resume = earlier.map {
            EarlierOutcome(ids: $0.ids, outcome: PolicyOutcome(routes: [$0.run.routes], losses: $0.run.losses, note: ""))
        }
        let outcome = try evaluator.evaluate(key, windows: [ids], control: control, earlier: resume)
        return try finish(key, ids: ids, outcome: outcome, cacheKey: cacheKey)
    }

    /// `kind` at every k = 0...L from one search (`PolicyKind.sharesSearchAcrossK`), each run
    /// cached under the key `run` would use; runs already in the cache come back at once.
    public func runEveryK(
        _ kind: PolicyKind, context: ContextMode, ids: [Int], shouldContinue: @escaping () -> Bool = { true },
        progress: @escaping (Int, Int) -> Void = { _, _ in }
    ) throws -> [PolicyRun] {
        let keys = (0...layers).map { PolicyKey(kind, k: $0, context: context) }
        let cacheKeys = keys.map { cache == nil ? [] : self.cacheKey($0, ids: ids) }
        let hits = zip(keys, cacheKeys).map { cached($0, ids: ids, cacheKey: $1) }
        if hits.allSatisfy({ $0 != nil }) { return hits.map { $0! } }
        let outcomes = try evaluator.evaluateEveryK(
            kind, context: context, windows: [ids], control: EvaluationControl(shouldContinue: shouldContinue, progress: progress))
        return try keys.indices.map { try finish(keys[$0], ids: ids, outcome: outcomes[$0], cacheKey: cacheKeys[$0]) }
    }

    /// The complete run of `key` on `ids` in the cache, if there is one.
    private func cached(_ key: PolicyKey, ids: [Int], cacheKey: [String]) -> PolicyRun? {
        guard let hit = cache?.value(PolicyRun.self, for: cacheKey), hit.key == key, hit.isComplete, hit.routes.tokens == ids.count
        else { return nil }
        return hit
    }

    /// A policy's outcome as a scored run (losses its own: an oracle in a fixed context scores
    /// each token over an all-big context), cached when complete.
    private func finish(_ key: PolicyKey, ids: [Int], outcome: PolicyOutcome, cacheKey: [String]) throws -> PolicyRun {
        var run = try score(key, ids: ids, routes: outcome.routes[0], note: outcome.note)
        run.losses = outcome.losses
        run.routerProbabilities = outcome.routerProbabilities
        run.routerRoutes = outcome.routerRoutes
        if run.isComplete { cache?.store(run, for: cacheKey) }
        return run
    }

    /// Scores fixed routes: losses and top-5 predictions (the logit lens is left to `lens(of:)`).
    public func score(_ key: PolicyKey, ids: [Int], routes: RouteMatrix, note: String = "") throws -> PolicyRun {
        let session = InferenceSession(model: model, capacity: ids.count)
        let hidden = try session.forwardHidden(ids, policy: MatrixPolicy(routes))
        let evaluation = SequenceEvaluation.score(model: model, ids: ids, logits: session.logits(of: hidden), routes: routes, topK: 5)
        return PolicyRun(
            key: key, routes: routes, completed: ids.count, losses: evaluation.losses, top: evaluation.top,
            lens: [], ffnFractions: evaluation.ffnFractions, note: note)
    }

    /// The logit lens of a run's routes: the most likely next token read out after each layer
    /// (final norm and LM head applied early), `[token][layer]`. Twelve LM heads over the text
    /// cost more than the run's own forward pass, so it is computed only for the run the Layers
    /// view shows, when it shows it.
    public func lens(of run: PolicyRun, ids: [Int]) throws -> [[TokenProbability]] {
        let session = InferenceSession(model: model, capacity: ids.count)
        var lens = Array(repeating: [TokenProbability](), count: ids.count)
        _ = try session.forwardHidden(ids, policy: MatrixPolicy(run.routes)) { _, x in
            let read = SequenceEvaluation.score(model: self.model, ids: ids, logits: session.logits(of: x), routes: run.routes, topK: 1)
            for t in 0..<ids.count { lens[t].append(read.top[t].first ?? TokenProbability(id: 0, probability: 0)) }
        }
        return lens
    }

    /// The loss of token `token`'s target when that token's route at one layer is flipped
    /// (big <-> small, skip -> big), everything else as in `run`; one value per layer.
    /// Earlier tokens keep their routes (all-big for a fixed-context oracle).
    public func flipLosses(_ run: PolicyRun, ids: [Int], token t: Int) throws -> [Double] {
        guard t + 1 < ids.count else { return [] }
        let session = InferenceSession(model: model, capacity: ids.count)
        if t > 0 {
            let context: RoutingPolicy =
                run.key.kind == .oracle && run.key.context == .fixed ? UniformPolicy(.big) : MatrixPolicy(run.routes)
            _ = try session.forwardHidden(Array(ids[0..<t]), policy: context)
        }
        let pattern = Array(run.routes.row(t))
        return try (0..<layers).map { layer in
            var flipped = pattern
            flipped[layer] = pattern[layer] == .big ? .small : .big
            let logits = try session.forward([ids[t]], policy: PatternPolicy(flipped))
            session.rewind(to: t)
            return Ops.targetLoss(logits.row(0), count: model.config.vocabSize, target: ids[t + 1])
        }
    }

    /// The routing policy a continuation is generated under (see `PolicyKind.generationPolicy`).
    public func generationPolicy(for key: PolicyKey, routes: RouteMatrix?) -> (policy: RoutingPolicy, label: String) {
        key.kind.generationPolicy(k: key.k, evaluator: evaluator, routes: routes)
    }

    /// Continuation of `ids` by up to `settings.length` tokens under `policy`, greedy or sampled
    /// (`GenerationSettings`); `onToken` sees the new id, the routes of every token so far and
    /// the probability the model gave the new token, and returns false to stop.
    public func generate(
        ids: [Int], settings: GenerationSettings = GenerationSettings(), policy: RoutingPolicy,
        onToken: (_ id: Int, _ routes: [[Route]], _ probability: Double) -> Bool
    ) throws {
        let capacity = model.config.maxPositions
        guard ids.count < capacity else { throw DuoError("the text already fills the model's context of \(capacity) tokens") }
        let session = InferenceSession(model: model, capacity: capacity)
        var logits = try session.forward(ids, policy: policy)
        var row = logits.rows - 1
        var rng = SplitMix64(seed: settings.seed)
        for _ in 0..<min(max(settings.length, 0), capacity - ids.count) {
            let vocab = model.config.vocabSize
            let values = logits.row(row)
            let next = settings.choose(values, count: vocab, using: &rng)
            let probability = Foundation.exp(-Ops.targetLoss(values, count: vocab, target: next))
            logits = try session.forward([next], policy: policy)
            row = 0
            guard onToken(next, session.routes, probability) else { return }
        }
    }
}
