/// A policy as every command takes it, in one grammar: a policy of the catalogue at a budget
/// (`PolicyKey`: `big`, `small`, `oracle@4`, `oracle@4:fixed`, `router@4`, `fixed@6`,
/// `random@6x100`, ...) or a routing rule applied token by token (`PolicySpec`: `skip`,
/// `pattern:BSK...`, `random[:K|:P|:skip=A,small=B,big=C][,SEED]`, `router:NAME`).
public enum PolicyChoice: Sendable, Equatable, CustomStringConvertible {
    case catalogue(PolicyKey)
    case rule(String)

    /// The names that start a token-by-token rule (`PolicySpec`) rather than a catalogue policy.
    static let ruleNames: Set<String> = ["skip", "all-skip", "pattern", "random", "router"]

    public static var grammar: String {
        PolicyKey.grammar + "; or a rule per token: skip, pattern:BSK..., random[:K|:P][,SEED], router:NAME"
    }

    public static func parse(_ text: String) throws -> PolicyChoice {
        let spec = text.trimmingCharacters(in: .whitespaces).lowercased()
        let name = spec.prefix { $0 != ":" && $0 != "@" }
        if ruleNames.contains(String(name)), !spec.contains("@") { return .rule(text) }
        do {
            return .catalogue(try PolicyKey.parse(text))
        } catch let error as DuoError {
            throw DuoError(error.problem.replacingOccurrences(of: "(expected \(PolicyKey.grammar))", with: "(expected \(grammar))"))
        }
    }

    /// The catalogue policy, if this is one.
    public var key: PolicyKey? {
        if case .catalogue(let key) = self { return key }
        return nil
    }

    /// The token-by-token rule, if this is one.
    public var rule: String? {
        if case .rule(let text) = self { return text }
        return nil
    }

    public var description: String {
        switch self {
        case .catalogue(let key): return key.description
        case .rule(let text): return text
        }
    }
}
