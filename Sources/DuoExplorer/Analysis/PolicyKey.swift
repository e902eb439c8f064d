import DuoEngine

/// The routing policies the explorer compares.
public enum PolicyKind: String, CaseIterable, Sendable, Codable {
    case oracle, router, fixed, random
    case allBig = "all-big"
    case allSmall = "all-small"

    /// The key that makes this policy the primary one (its upper case makes it the partner).
    public var key: Character {
        switch self {
        case .oracle: return "o"
        case .router: return "r"
        case .fixed: return "f"
        case .random: return "x"
        case .allBig: return "b"
        case .allSmall: return "s"
        }
    }

    public init?(key: Character) {
        guard let kind = PolicyKind.allCases.first(where: { $0.key == key }) else { return nil }
        self = kind
    }

    /// Whether the budget k changes this policy's routes.
    public var usesBudget: Bool { self != .allBig && self != .allSmall }
}

/// How the oracle routes earlier tokens while it searches one token's routes.
public enum ContextMode: String, Sendable, Codable {
    /// Earlier tokens keep the routes the oracle chose for them.
    case causal
    /// Earlier tokens run all-big; only the current token's routes vary.
    case fixed

    public var toggled: ContextMode { self == .causal ? .fixed : .causal }
}

/// One policy at one budget: what a `PolicyRun` is cached under.
public struct PolicyKey: Hashable, Sendable, Codable, CustomStringConvertible {
    public var kind: PolicyKind
    /// Number of big layers per token (ignored by all-big and all-small).
    public var k: Int
    /// The oracle's context mode (ignored by the other policies).
    public var context: ContextMode

    public init(_ kind: PolicyKind, k: Int, context: ContextMode = .causal) {
        self.kind = kind
        self.k = kind.usesBudget ? k : 0
        self.context = kind == .oracle ? context : .causal
    }

    /// `oracle@4`, `router@4`, `all-big`, with ` fixed` for a fixed-context oracle.
    public var description: String {
        guard kind.usesBudget else { return kind.rawValue }
        return "\(kind.rawValue)@\(k)" + (kind == .oracle && context == .fixed ? " fixed" : "")
    }
}
