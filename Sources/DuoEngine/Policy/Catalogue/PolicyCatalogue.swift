/// The catalogue: every routing policy at a budget that duoscope compares, one case each, with
/// everything that is particular to it in this file — its name in the policy grammar, its key
/// in the explorer, how it chooses routes on a text, how it generates. Commands, the budget
/// sweep (`eval`), the explorer's views and the Summary chart iterate over `allCases`, so a new
/// policy is a new case here (and its tests); see docs/architecture.md.
public enum PolicyKind: String, CaseIterable, Sendable, Codable {
    /// The paper's oracle: per token, the pattern with exactly k big layers that minimises the
    /// loss of the true next token.
    case oracle
    /// A trained router at exactly k big layers (the k layers of highest P(big)).
    case router
    /// The best single pattern with k big layers, the same for every token.
    case fixed
    /// The best of N random routings with exactly k big layers per token.
    case random
    /// Early exit from the big modules: big for the first k layers, small after, every token.
    case earlyExit = "early-exit"
    case allBig = "all-big"
    case allSmall = "all-small"

    /// The explorer's key that makes this policy the primary one (upper case: the partner).
    public var key: Character {
        switch self {
        case .oracle: return "o"
        case .router: return "r"
        case .fixed: return "f"
        case .random: return "x"
        case .earlyExit: return "y"
        case .allBig: return "b"
        case .allSmall: return "s"
        }
    }

    /// The shortest name in the policy grammar (`big` for all-big).
    public var name: String {
        switch self {
        case .allBig: return "big"
        case .allSmall: return "small"
        default: return rawValue
        }
    }

    /// The letter that marks this policy's points in the terminal's Summary chart.
    public var chartMark: Character {
        switch self {
        case .random: return "N"
        default: return Character(key.uppercased())
        }
    }

    /// Three letters, for narrow table columns.
    public var shortName: String {
        switch self {
        case .oracle: return "ora"
        case .router: return "rou"
        case .fixed: return "fix"
        case .random: return "rnd"
        case .earlyExit: return "ee"
        case .allBig: return "big"
        case .allSmall: return "sml"
        }
    }

    /// Whether finding the routes is a search over many routings (seconds to minutes; the
    /// explorer runs these in its background search lane).
    public var isSearch: Bool { self == .oracle || self == .fixed || self == .random }

    /// Whether one search serves every k (`outcomesForEveryK`): the oracle's trees and the
    /// fixed-pattern tree; the others run once per k.
    public var sharesSearchAcrossK: Bool { self == .oracle || self == .fixed }

    /// Whether the budget k changes this policy's routes (those are the sweep's curves).
    public var usesBudget: Bool { self != .allBig && self != .allSmall }
    /// Whether the oracle context (causal or fixed) applies.
    public var usesContext: Bool { self == .oracle }
    /// Whether the policy is a best of N trials.
    public var usesTrials: Bool { self == .random }

    /// The policies drawn as curves against k (the paper's Fig. 4b).
    public static var budgetKinds: [PolicyKind] { allCases.filter(\.usesBudget) }

    /// Why this policy cannot run with `evaluator` (nil when it can).
    public func unavailable(in evaluator: PolicyEvaluator) -> String? {
        switch self {
        case .router: return evaluator.routers.isEmpty ? "no router over small and big in the model's routers/ folder" : nil
        case .allSmall: return evaluator.model.config.isDuo ? nil : "this model has no small FFN (a plain Llama config)"
        default: return nil
        }
    }

    /// Chooses routes for `key` (of this kind) on each window and scores them; `earlier` is its
    /// outcome on a text these windows extend, for policies that can keep it.
    func outcome(
        _ key: PolicyKey, windows: [[Int]], evaluator e: PolicyEvaluator, control: EvaluationControl, earlier: EarlierOutcome? = nil
    ) throws -> PolicyOutcome {
        let L = e.layers
        switch self {
        case .allBig: return try e.score(windows, pattern: Array(repeating: .big, count: L), note: "all-big")
        case .allSmall: return try e.score(windows, pattern: Array(repeating: .small, count: L), note: "all-small")
        case .oracle: return try e.oracle(k: key.k, context: key.context, windows: windows, control: control, earlier: earlier)
        case .router: return try e.routerExactK(k: key.k, windows: windows)
        case .fixed: return try e.bestFixed(bigCounts: key.k...key.k, windows: windows, control: control)[0]
        case .random: return try e.bestRandom(k: key.k, trials: key.trials ?? e.randomTrials, windows: windows, control: control)
        case .earlyExit:
            return try e.score(
                windows, pattern: earlyExitPattern(k: key.k, layers: L, low: e.low),
                note: "big for layers 0..<\(key.k), \(e.low.name) after")
        }
    }

    /// Outcomes for k = 0...L; the oracle and fixed patterns share one search over every k
    /// (`sharesSearchAcrossK`).
    func outcomesForEveryK(
        context: ContextMode, trials: Int?, windows: [[Int]], evaluator e: PolicyEvaluator, control: EvaluationControl
    ) throws -> [PolicyOutcome] {
        switch self {
        case .oracle: return try e.oracleEveryK(context: context, windows: windows, control: control)
        case .fixed: return try e.bestFixed(bigCounts: 0...e.layers, windows: windows, control: control)
        default:
            return try (0...e.layers).map { k in
                let outcome = try self.outcome(
                    PolicyKey(self, k: k, context: context, trials: trials), windows: windows, evaluator: e, control: control.silenced)
                control.progress(k + 1, e.layers + 1)
                return outcome
            }
        }
    }

    /// The rule a continuation is generated under, token by token, with a label. Policies that
    /// need the true next token (the oracle) or the whole text (the router at exactly k) generate
    /// under the router's argmax instead; `routes` are this policy's routes on the text so far,
    /// when known (the best fixed pattern is their first row).
    public func generationPolicy(k: Int, evaluator e: PolicyEvaluator, routes: RouteMatrix?) -> (policy: RoutingPolicy, label: String) {
        let fixedPattern = routes.map { Array($0.row(0)) }
        switch self {
        case .allBig: return (UniformPolicy(.big), "all-big")
        case .allSmall: return (UniformPolicy(.small), "all-small")
        case .random: return (RandomPolicy(mode: .exactly(k), seed: e.seed, layers: e.layers, low: e.low), "random@\(k)")
        case .earlyExit: return (PatternPolicy(earlyExitPattern(k: k, layers: e.layers, low: e.low)), "early-exit@\(k)")
        case .fixed:
            if let fixedPattern { return (PatternPolicy(fixedPattern), "fixed " + String(fixedPattern.map(\.letter))) }
            return (UniformPolicy(.big), "all-big (fixed pattern not ready)")
        case .oracle, .router:
            if let router = e.router(for: k) { return (RouterPolicy(router: router.weights), "router \(router.name) argmax") }
            return (UniformPolicy(.big), "all-big (no router)")
        }
    }
}

/// Big for the first k layers, `low` (small, or skip without a small FFN) after.
private func earlyExitPattern(k: Int, layers: Int, low: Route) -> [Route] { (0..<layers).map { $0 < k ? .big : low } }

/// The paper's token difficulty: the loss a token can gain from compute, its loss all-small
/// minus its oracle loss at the budget (not its raw loss).
public enum TokenDifficulty {
    /// The two runs difficulty compares, at budget k.
    public static func policies(k: Int, context: ContextMode) -> (allSmall: PolicyKey, oracle: PolicyKey) {
        (PolicyKey(.allSmall, k: 0), PolicyKey(.oracle, k: k, context: context))
    }

    public static func potential(allSmall: Double, oracle: Double) -> Double { allSmall - oracle }
}
