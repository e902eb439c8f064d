import Foundation

/// How the earlier tokens of a sequence are routed while one token's routes are searched.
public enum OracleContext: Sendable {
    /// Left to right, each earlier token keeps the routes the oracle chose for it (as when
    /// decoding with a cache).
    case causal
    /// The context is computed once under another policy (e.g. all-big); only the current
    /// token's routes vary.
    case fixed(RoutingPolicy)

    public var name: String {
        switch self {
        case .causal: return "causal"
        case .fixed(let policy): return "fixed:\(policy.name)"
        }
    }
}

/// The oracle's choice for one position: the pattern with the lowest loss on the true next token.
public struct OracleChoice: Sendable, Equatable {
    public var position: Int
    public var target: Int
    public var pattern: [Route]
    public var loss: Double
}

/// Thrown when an `onChoice` callback asks the oracle to stop.
public struct OracleStopped: Error { public init() {} }

/// Stage 2 of Duo-LLM: per-token oracle routings over a sequence.
public enum Oracle {
    /// The best pattern under `constraint` for every position that has a next token.
    /// `progress(done, total)` counts positions.
    /// `beamWidth` limits the search to a beam (see `OracleTree.search`); nil searches every pattern.
    /// `onChoice` sees each position's choice as soon as it is found; returning false stops the
    /// search with `OracleStopped` (a viewer cancelling work it no longer needs).
    /// `prefix` holds choices already made for the first positions of `ids` under the same
    /// constraint and context (e.g. before the text grew): a token's choice depends only on the
    /// tokens up to its target and on the earlier choices, so they are kept and only the later
    /// positions are searched (`onChoice` and `progress` see only those).
    public static func run(
        model: DuoModel, ids: [Int], constraint: OracleConstraint, context: OracleContext,
        beamWidth: Int? = nil, prefix: [OracleChoice] = [], progress: (Int, Int) -> Void = { _, _ in },
        onChoice: ((OracleChoice) -> Bool)? = nil
    ) throws -> [OracleChoice] {
        try constraint.validate(config: model.config)
        guard constraint != .anyBigSmall else { throw DuoError("choose a constraint: --k, --skips or --budget") }
        if let beamWidth, beamWidth < 1 { throw DuoError("--beam \(beamWidth) must be at least 1") }
        guard prefix.count < ids.count, prefix.enumerated().allSatisfy({ $1.position == $0 && $1.target == ids[$0 + 1] }) else {
            throw DuoError("the oracle's earlier choices are not for a prefix of this text")
        }
        try check(ids, model: model)
        // One BLAS thread: the tree spreads its own work over the cores, and BLAS threads woken
        // by the context's one-row passes would spin beside it.
        return try Parallel.withSingleThreadedBLAS {
            try searchEachPosition(
                model: model, ids: ids, context: context, constraint: constraint, beamWidth: beamWidth, prefix: prefix,
                progress: progress, onChoice: onChoice)
        }
    }

    /// Big/small oracles for every k = 0...L. In a fixed context one tree per token serves every k;
    /// in the causal context each k has its own context, so each k runs its own (pruned) tree.
    public static func everyK(
        model: DuoModel, ids: [Int], context: OracleContext,
        progress: (Int, Int) -> Void = { _, _ in }
    ) throws -> [[OracleChoice]] {
        try OracleConstraint.anyBigSmall.validate(config: model.config)
        try check(ids, model: model)
        return try Parallel.withSingleThreadedBLAS {
            try searchEveryKSideBySide(model: model, ids: ids, context: context, progress: progress)
        }
    }

    private static func check(_ ids: [Int], model: DuoModel) throws {
        guard ids.count >= 2 else { throw DuoError("the oracle needs at least 2 tokens") }
        guard ids.count <= model.config.maxPositions else {
            throw DuoError("sequence of \(ids.count) tokens is longer than the context of \(model.config.maxPositions)")
        }
    }

    /// Every k's big/small oracle as jobs on the cores (`Parallel.forEachJob`), each search on
    /// one core: in the causal context each k's whole sequence (its own context) is one job; in a
    /// fixed context each position's one big/small tree (serving every k) is one job.
    private static func searchEveryKSideBySide(
        model: DuoModel, ids: [Int], context: OracleContext, progress: (Int, Int) -> Void
    ) throws -> [[OracleChoice]] {
        let positions = ids.count - 1
        let ks = Array(0...model.config.numLayers)
        return try withoutActuallyEscaping(progress) { progress in
            switch context {
            case .causal:
                // Progress in positions: every k's search of a position counts 1/(L+1).
                let jobs = JobControl(shouldContinue: { true }, progress: { done, _ in progress(done / ks.count, positions) })
                var found = [[OracleChoice]](repeating: [], count: ks.count)
                found.withUnsafeMutableBufferPointer { found in
                    Parallel.forEachJob(ks.count) { k in
                        jobs.run {
                            let session = InferenceSession(model: model, capacity: ids.count)
                            let tree = OracleTree(model: model)
                            for t in 0..<positions {
                                let leaves = tree.search(
                                    token: ids[t], target: ids[t + 1], cache: session.cache, contextLength: t, constraint: .exactlyBig(k),
                                    scoring: .bestPerBigCount)
                                let choice = best(leaves, position: t, target: ids[t + 1])
                                found[k].append(choice)
                                tree.appendKeysAndValues(of: choice.pattern, to: session.cache)
                                jobs.advance(total: positions * ks.count)
                            }
                        }
                    }
                }
                try jobs.finish()
                return found
            case .fixed(let policy):
                let jobs = JobControl(shouldContinue: { true }, progress: progress)
                let session = InferenceSession(model: model, capacity: ids.count)
                _ = try session.forwardHidden(ids, policy: policy)
                var found = [[OracleChoice]](repeating: [], count: positions)
                found.withUnsafeMutableBufferPointer { found in
                    Parallel.forEachJob(positions) { t in
                        jobs.run {
                            let leaves = OracleTree(model: model).search(
                                token: ids[t], target: ids[t + 1], cache: session.cache, contextLength: t, constraint: .anyBigSmall,
                                scoring: .bestPerBigCount)
                            found[t] = ks.map { k in best(leaves.filter { $0.bigCount == k }, position: t, target: ids[t + 1]) }
                            jobs.advance(total: positions)
                        }
                    }
                }
                try jobs.finish()
                return ks.map { k in found.map { $0[k] } }
            }
        }
    }

    /// One constraint, position by position (`onChoice` sees each choice in order); `prefix`
    /// is taken as the first positions' choices.
    private static func searchEachPosition(
        model: DuoModel, ids: [Int], context: OracleContext, constraint: OracleConstraint,
        beamWidth: Int?, prefix: [OracleChoice], progress: (Int, Int) -> Void, onChoice: ((OracleChoice) -> Bool)?
    ) throws -> [OracleChoice] {
        let tree = OracleTree(model: model)
        let positions = ids.count - 1
        var results = prefix
        let start = prefix.count
        let session = InferenceSession(model: model, capacity: ids.count)
        switch context {
        case .fixed(let policy): _ = try session.forwardHidden(ids, policy: policy)
        case .causal:
            // The kept choices become the context, as if they had just been searched.
            if start > 0 {
                _ = try session.forwardHidden(Array(ids[0..<start]), policy: MatrixPolicy(RouteMatrix(rows: prefix.map(\.pattern))))
            }
        }
        for t in start..<positions {
            let leaves = tree.search(
                token: ids[t], target: ids[t + 1], cache: session.cache, contextLength: t, constraint: constraint, beamWidth: beamWidth,
                scoring: .bestPerBigCount)
            let choice = best(leaves, position: t, target: ids[t + 1])
            results.append(choice)
            if case .causal = context { tree.appendKeysAndValues(of: choice.pattern, to: session.cache) }
            if let onChoice, !onChoice(choice) { throw OracleStopped() }
            progress(t + 1 - start, positions - start)
        }
        return results
    }

    /// The lowest-loss leaf (ties: the first in tree order).
    static func best(_ leaves: [OracleTree.Leaf], position: Int, target: Int) -> OracleChoice {
        var winner = leaves[0]
        for leaf in leaves.dropFirst() where leaf.loss < winner.loss { winner = leaf }
        return OracleChoice(position: position, target: target, pattern: winner.pattern, loss: winner.loss)
    }
}

extension SequenceEvaluation {
    /// An oracle's choices as a scored sequence. The last token has no target and so no oracle;
    /// it is shown with the pattern of the token before it.
    public init(model: DuoModel, ids: [Int], oracle choices: [OracleChoice]) {
        var rows = choices.map(\.pattern)
        rows.append(rows.last ?? Array(repeating: .big, count: model.config.numLayers))
        self.init(
            ids: ids, routes: RouteMatrix(rows: rows), losses: choices.map(\.loss),
            top: Array(repeating: [], count: ids.count),
            ffnFractions: rows.map { model.cost.ffnFraction(pattern: $0) },
            totalFLOPs: rows.enumerated().reduce(0) { $0 + model.cost.total(pattern: $1.1, position: $1.0) })
    }
}
