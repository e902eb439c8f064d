import DuoEngine
import Foundation

/// Computes policy runs on a text with the engine: the oracle, routers, the best fixed
/// pattern, random best-of-N, all-big and all-small, plus per-layer flip losses and greedy
/// continuations. Pure computation — no UI; complete runs are kept in a `ResultCache` when one
/// is given, so a text, policy and budget seen before come back at once.
public final class Analyzer: @unchecked Sendable {  // immutable after init
    public let model: DuoModel
    /// Trained routers over small and big, with their names (e.g. "k4").
    public let routers: [(name: String, weights: RouterWeights)]
    /// Trials behind the random baseline (the paper: best of 100).
    public let randomTrials: Int
    /// Where complete runs persist between sessions (nil: nowhere).
    public let cache: ResultCache?

    public init(
        model: DuoModel, routers: [(name: String, weights: RouterWeights)], randomTrials: Int = 100,
        cache: ResultCache? = nil
    ) {
        self.model = model
        self.routers = routers.filter { Set($0.weights.routes) == [.small, .big] }
        self.randomTrials = randomTrials
        self.cache = cache
    }

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
        case .random: parts.append("trials=\(randomTrials)")
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
    public func router(for k: Int) -> (name: String, weights: RouterWeights)? {
        let target = Double(k) / Double(layers)
        return routers.min { abs($0.weights.budget - target) < abs($1.weights.budget - target) }
    }

    /// Runs `key` on `ids`. `partial` sees oracle results as they arrive; `progress(done, total)`
    /// reports; when `shouldContinue` turns false the work stops with `OracleStopped`.
    public func run(
        _ key: PolicyKey, ids: [Int], shouldContinue: @escaping () -> Bool = { true },
        progress: @escaping (Int, Int) -> Void = { _, _ in },
        partial: @escaping (PolicyRun) -> Void = { _ in }
    ) throws -> PolicyRun {
        let cacheKey = cache == nil ? [] : self.cacheKey(key, ids: ids)
        if let hit = cache?.value(PolicyRun.self, for: cacheKey), hit.key == key, hit.isComplete, hit.routes.tokens == ids.count {
            return hit
        }
        let run = try compute(key, ids: ids, shouldContinue: shouldContinue, progress: progress, partial: partial)
        if run.isComplete { cache?.store(run, for: cacheKey) }
        return run
    }

    private func compute(
        _ key: PolicyKey, ids: [Int], shouldContinue: @escaping () -> Bool,
        progress: @escaping (Int, Int) -> Void, partial: @escaping (PolicyRun) -> Void
    ) throws -> PolicyRun {
        let L = layers
        switch key.kind {
        case .allBig: return try score(key, ids: ids, routes: RouteMatrix(tokens: ids.count, layers: L, fill: .big))
        case .allSmall: return try score(key, ids: ids, routes: RouteMatrix(tokens: ids.count, layers: L, fill: .small))
        case .oracle: return try oracle(key, ids: ids, shouldContinue: shouldContinue, progress: progress, partial: partial)
        case .router:
            guard let router = router(for: key.k) else { throw DuoError("no router over small and big in the model's routers/ folder") }
            let (patterns, probabilities) = try RouterExactK.run(model: model, router: router.weights, ids: ids, k: key.k)
            var run = try score(
                key, ids: ids, routes: RouteMatrix(rows: patterns), note: "router \(router.name), exactly \(key.k) big by P(big)")
            run.routerProbabilities = probabilities
            run.routerRoutes = router.weights.routes
            return run
        case .fixed:
            let losses = try FixedPatternSearch.losses(
                model: model, ids: ids, bigCounts: key.k...key.k,
                shouldContinue: shouldContinue, progress: progress)
            // The lowest loss; ties go to the lowest pattern index.
            let best = losses.min { $0.value < $1.value || ($0.value == $1.value && $0.key < $1.key) }!.key
            let pattern = FixedPatternSearch.pattern(index: best, layers: L)
            return try score(
                key, ids: ids, routes: RouteMatrix(rows: Array(repeating: pattern, count: ids.count)),
                note: "best of \(losses.count) fixed patterns: \(String(pattern.map(\.letter)))")
        case .random:
            let trials = (key.k == 0 || key.k == L) ? 1 : randomTrials
            var best: (loss: Double, seed: UInt64)?
            for seed in 0..<UInt64(trials) {
                guard shouldContinue() else { throw OracleStopped() }
                let policy = RandomPolicy(mode: .exactly(key.k), seed: seed, layers: L)
                let loss = try SequenceEvaluation.run(model: model, ids: ids, policy: policy, topK: 0).meanLoss
                if best == nil || loss < best!.loss { best = (loss, seed) }
                progress(Int(seed) + 1, trials)
            }
            let policy = RandomPolicy(mode: .exactly(key.k), seed: best!.seed, layers: L)
            let routes = RouteMatrix(rows: (0..<ids.count).map { policy.pattern(position: $0) })
            return try score(key, ids: ids, routes: routes, note: "best of \(trials) random trials (seed \(best!.seed))")
        }
    }

    private func oracle(
        _ key: PolicyKey, ids: [Int], shouldContinue: @escaping () -> Bool,
        progress: @escaping (Int, Int) -> Void, partial: @escaping (PolicyRun) -> Void
    ) throws -> PolicyRun {
        let L = layers
        let context: OracleContext = key.context == .causal ? .causal : .fixed(UniformPolicy(.big))
        var found: [OracleChoice] = []
        let cost = model.cost
        let choices = try Oracle.run(model: model, ids: ids, constraint: .exactlyBig(key.k), context: context, progress: progress) {
            choice in
            found.append(choice)
            var rows = found.map(\.pattern)
            rows += Array(repeating: Array(repeating: Route.small, count: L), count: ids.count - rows.count)
            partial(
                PolicyRun(
                    key: key, routes: RouteMatrix(rows: rows), completed: found.count, losses: found.map(\.loss),
                    top: [], lens: [], ffnFractions: rows.map { cost.ffnFraction(pattern: $0) }, note: ""))
            return shouldContinue()
        }
        let sequence = SequenceEvaluation(model: model, ids: ids, oracle: choices)
        var run = try score(
            key, ids: ids, routes: sequence.routes,
            note:
                "oracle, exactly \(key.k) big, \(key.context.rawValue) context; "
                + "the last token is not scored (no next token) and repeats the routes before it"
        )
        // The oracle's own losses: equal to the forward pass in the causal context, and the
        // per-token optimum over an all-big context in the fixed one.
        run.losses = choices.map(\.loss)
        return run
    }

    /// Scores fixed routes: losses, top-5 predictions and the logit lens after every layer.
    public func score(_ key: PolicyKey, ids: [Int], routes: RouteMatrix, note: String = "") throws -> PolicyRun {
        let session = InferenceSession(model: model, capacity: ids.count)
        var lens = Array(repeating: [TokenProbability](), count: ids.count)
        let hidden = try session.forwardHidden(ids, policy: MatrixPolicy(routes)) { _, x in
            let read = SequenceEvaluation.score(model: self.model, ids: ids, logits: session.logits(of: x), routes: routes, topK: 1)
            for t in 0..<ids.count { lens[t].append(read.top[t].first ?? TokenProbability(id: 0, probability: 0)) }
        }
        let evaluation = SequenceEvaluation.score(model: model, ids: ids, logits: session.logits(of: hidden), routes: routes, topK: 5)
        return PolicyRun(
            key: key, routes: routes, completed: ids.count, losses: evaluation.losses, top: evaluation.top,
            lens: lens, ffnFractions: evaluation.ffnFractions, note: note)
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

    /// The routing policy a continuation is generated under (the oracle needs the true next
    /// token, so it generates under the router instead).
    public func generationPolicy(for key: PolicyKey, fixedPattern: [Route]?) -> (policy: RoutingPolicy, label: String) {
        switch key.kind {
        case .allBig: return (UniformPolicy(.big), "all-big")
        case .allSmall: return (UniformPolicy(.small), "all-small")
        case .random: return (RandomPolicy(mode: .exactly(key.k), seed: 0, layers: layers), "random@\(key.k)")
        case .fixed:
            if let fixedPattern { return (PatternPolicy(fixedPattern), "fixed " + String(fixedPattern.map(\.letter))) }
            return (UniformPolicy(.big), "all-big (fixed pattern not ready)")
        case .oracle, .router:
            if let router = router(for: key.k) { return (RouterPolicy(router: router.weights), "router \(router.name) argmax") }
            return (UniformPolicy(.big), "all-big (no router)")
        }
    }

    /// Greedy continuation of `ids` by up to `count` tokens under `policy`; `onToken` sees the
    /// new id, the routes of every token so far and the probability the new token was chosen
    /// with, and returns false to stop.
    public func generate(
        ids: [Int], count: Int, policy: RoutingPolicy,
        onToken: (_ id: Int, _ routes: [[Route]], _ probability: Double) -> Bool
    ) throws {
        let capacity = model.config.maxPositions
        guard ids.count < capacity else { throw DuoError("the text already fills the model's context of \(capacity) tokens") }
        let session = InferenceSession(model: model, capacity: capacity)
        var logits = try session.forward(ids, policy: policy)
        var row = logits.rows - 1
        for _ in 0..<min(count, capacity - ids.count) {
            let vocab = model.config.vocabSize
            let values = logits.row(row)
            var best = 0
            for i in 1..<vocab where values[i] > values[best] { best = i }
            let probability = Foundation.exp(-Ops.targetLoss(values, count: vocab, target: best))
            logits = try session.forward([best], policy: policy)
            row = 0
            guard onToken(best, session.routes, probability) else { return }
        }
    }
}
