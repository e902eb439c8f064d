import DuoEngine

/// A unit of background work the explorer asks for.
public enum ExplorerJob: Hashable, Sendable {
    case run(PolicyKey)
    case flips(FlipKey)
    /// The logit lens of a complete run (`Analyzer.lens`), added to the run in the store.
    case lens(PolicyKey)
    /// A policy at every k = 0...layers from one search that serves them all
    /// (`PolicyKind.sharesSearchAcrossK`): what the Summary view asks for.
    case sweep(PolicyKind, context: ContextMode, layers: Int)

    /// Searches (`PolicyKind.isSearch`) take seconds to minutes.
    public var isSearch: Bool {
        switch self {
        case .run(let key): return key.kind.isSearch
        case .flips, .lens: return false
        case .sweep: return true
        }
    }

    /// The runs a job leaves in the store.
    public var keys: [PolicyKey] {
        switch self {
        case .run(let key): return [key]
        case .flips, .lens: return []
        case .sweep(let kind, let context, let layers): return (0...layers).map { PolicyKey(kind, k: $0, context: context) }
        }
    }

    public var id: String {
        switch self {
        case .run(let key): return key.description
        case .flips(let key): return "flips \(key.policy) token \(key.token)"
        case .lens(let key): return "lens \(key)"
        case .sweep(let kind, let context, let layers):
            return "\(kind.rawValue)@0...\(layers)" + (kind.usesContext && context == .fixed ? ":fixed" : "")
        }
    }
}
