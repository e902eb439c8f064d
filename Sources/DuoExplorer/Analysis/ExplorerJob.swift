/// A unit of background work the explorer asks for.
public enum ExplorerJob: Hashable, Sendable {
    case run(PolicyKey)
    case flips(FlipKey)

    /// Oracle, fixed-pattern and random best-of-N runs take seconds to minutes.
    public var isSearch: Bool {
        guard case .run(let key) = self else { return false }
        return key.kind == .oracle || key.kind == .fixed || key.kind == .random
    }

    public var id: String {
        switch self {
        case .run(let key): return key.description
        case .flips(let key): return "flips \(key.policy) token \(key.token)"
        }
    }
}
