import DuoEngine

/// A unit of background work the explorer asks for.
public enum ExplorerJob: Hashable, Sendable {
    case run(PolicyKey)
    case flips(FlipKey)

    /// Searches (`PolicyKind.isSearch`) take seconds to minutes.
    public var isSearch: Bool {
        guard case .run(let key) = self else { return false }
        return key.kind.isSearch
    }

    public var id: String {
        switch self {
        case .run(let key): return key.description
        case .flips(let key): return "flips \(key.policy) token \(key.token)"
        }
    }
}
