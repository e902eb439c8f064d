/// How the oracle routes earlier tokens while it searches one token's routes.
public enum ContextMode: String, Sendable, Codable, CaseIterable {
    /// Earlier tokens keep the routes the oracle chose for them.
    case causal
    /// Earlier tokens run all-big; only the current token's routes vary.
    case fixed

    public var toggled: ContextMode { self == .causal ? .fixed : .causal }
}

/// One policy of the catalogue at one budget: what every command and view evaluates and what
/// results are keyed and cached by. Written and parsed in one grammar (`PolicyKey.parse`):
/// `big`, `small`, `KIND@K` for a policy at a budget of K big layers per token (`oracle@4`,
/// `router@4`, `fixed@6`, `random@6`, ...), `oracle@4:fixed` for the oracle in a fixed (all-big)
/// context, `random@6x100` for best of 100 random trials.
public struct PolicyKey: Hashable, Sendable, Codable, CustomStringConvertible {
    public var kind: PolicyKind
    /// Number of big layers per token (0 for policies without a budget).
    public var k: Int
    /// The oracle's context mode (causal for the other policies).
    public var context: ContextMode
    /// Trials behind a best-of-N policy; nil: the evaluator's default.
    public var trials: Int?

    public init(_ kind: PolicyKind, k: Int, context: ContextMode = .causal, trials: Int? = nil) {
        self.kind = kind
        self.k = kind.usesBudget ? k : 0
        self.context = kind.usesContext ? context : .causal
        self.trials = kind.usesTrials ? trials : nil
    }

    /// The key in the policy grammar: `oracle@4`, `oracle@4:fixed`, `random@6x100`, `all-big`.
    public var description: String {
        guard kind.usesBudget else { return kind.rawValue }
        return "\(kind.rawValue)@\(k)" + (trials.map { "x\($0)" } ?? "") + (context == .fixed ? ":fixed" : "")
    }

    /// The grammar as one line, for usage messages.
    public static var grammar: String {
        PolicyKind.allCases.map { $0.usesBudget ? "\($0.name)@K" : $0.name }.joined(separator: ", ")
            + " (oracle@K:fixed for an all-big context, random@KxN for best of N)"
    }

    /// Parses one policy of the grammar. A policy with a budget given without `@K` takes
    /// `defaultK` (an error when that is nil). Bounds that depend on the model are checked by
    /// `validate(layers:)`. Errors start with `label` (default: `policy "TEXT"`).
    public static func parse(_ text: String, defaultK: Int? = nil, label: String? = nil) throws -> PolicyKey {
        let spec = text.trimmingCharacters(in: .whitespaces).lowercased()
        let label = label ?? "policy \"\(TerminalSafe.escape(text))\""
        func fail(_ problem: String) -> DuoError { DuoError("\(label): \(problem)") }
        guard !spec.isEmpty, spec.first != ":", spec.first != "@" else { throw fail("empty policy (expected \(grammar))") }
        var head = Substring(spec)
        var context = ContextMode.causal
        if let colon = head.firstIndex(of: ":") {
            let mode = head[head.index(after: colon)...]
            guard let parsed = ContextMode(rawValue: String(mode)) else { throw fail("context \(mode): expected causal or fixed") }
            context = parsed
            head = head[..<colon]
        }
        let name: Substring
        var budget: Substring?
        if let at = head.firstIndex(of: "@") {
            name = head[..<at]
            budget = head[head.index(after: at)...]
        } else {
            name = head
        }
        guard let kind = PolicyKind.allCases.first(where: { $0.name == name || $0.rawValue == name }) else {
            throw fail(name.isEmpty ? "empty policy (expected \(grammar))" : "unknown policy (expected \(grammar))")
        }
        guard kind.usesBudget else {
            guard budget == nil, context == .causal else { throw fail("\(kind.rawValue) takes no budget or context") }
            return PolicyKey(kind, k: 0)
        }
        if context == .fixed, !kind.usesContext { throw fail("only the oracle has a context") }
        var trials: Int?
        if kind.usesTrials, let b = budget, let x = b.firstIndex(of: "x") {
            guard let n = Int(b[b.index(after: x)...]), (1...10_000).contains(n) else { throw fail("trials must be in 1...10000") }
            trials = n
            budget = b[..<x]
        }
        let k: Int
        if let budget {
            guard let parsed = Int(budget), parsed >= 0 else { throw fail("budget \(budget) is not a number of big layers") }
            k = parsed
        } else if let defaultK {
            k = defaultK
        } else {
            throw fail("\(kind.rawValue) needs a budget: \(kind.rawValue)@K with K big layers per token")
        }
        return PolicyKey(kind, k: k, context: context, trials: trials)
    }

    /// Checks the budget against a model of `layers` layers.
    public func validate(layers: Int) throws {
        guard k <= layers else { throw DuoError("policy \(self): k = \(k) is outside 0...\(layers)") }
    }
}

extension PolicyKind {
    /// The policy whose explorer key is `key`.
    public init?(key: Character) {
        guard let kind = PolicyKind.allCases.first(where: { $0.key == key }) else { return nil }
        self = kind
    }
}
