import DuoEngine

/// The explorer's five views, in Tab order.
public enum ViewKind: Int, CaseIterable, Sendable, Codable {
    case routes, compare, difficulty, layers, summary

    public var title: String {
        switch self {
        case .routes: return "Routes"
        case .compare: return "Compare"
        case .difficulty: return "Difficulty"
        case .layers: return "Layers"
        case .summary: return "Summary"
        }
    }

    public var name: String { title.lowercased() }

    public init?(name: String) {
        guard let v = ViewKind.allCases.first(where: { $0.name == name.lowercased() }) else { return nil }
        self = v
    }
}

/// What the difficulty view colors tokens by.
public enum DifficultyMetric: String, Sendable, Codable {
    /// Loss of the true next token under the primary policy.
    case rawLoss = "raw loss"
    /// Loss all-small minus loss oracle@k: what compute can gain (the paper's difficulty).
    case potential = "potential loss reduction"
}

/// A line the user is typing into.
public struct InputLine: Equatable, Sendable {
    /// Find a token (`/`), type a text (`i`), or run a command (`:`, `PaletteCommand`).
    public enum Purpose: Equatable, Sendable { case find, text, command }
    public var purpose: Purpose
    public var buffer: String = ""
}

/// What the help overlay lists: the keys (and, where the screen has room, the commands after
/// `:`), or the commands alone (`:help`).
public enum HelpPage: Sendable {
    case keys, commands
}

/// Everything the user has chosen; views are pure functions of this, the document and the results.
public struct ExplorerState: Sendable {
    public var view: ViewKind = .routes
    public var token = 0
    public var layer = 0
    /// The primary policy and its partner in Compare (default: oracle vs router).
    public var primary: PolicyKind = .oracle
    public var partner: PolicyKind = .router
    public var k = 4
    public var context: ContextMode = .causal
    public var metric: DifficultyMetric = .potential
    /// Tokens as rows instead of columns in Routes and Compare.
    public var transposed = false
    public var showHelp = false
    public var helpPage = HelpPage.keys
    /// The text picker (sample texts, files, typed text) is open.
    public var showPicker = false
    public var pickerIndex = 0
    /// What the picker offers: sample texts, files from the command line, then "type a text".
    public var pickerChoices: [String] = []
    /// A continuation is being generated (under this policy label).
    public var generating: String?
    /// The router chosen with `:router` (a name in the model's routers/ folder or an absolute
    /// path; nil: every router there, the one trained nearest the budget).
    public var router: String?
    /// The color depth chosen (nil: the most the terminal shows); `none` draws glyphs.
    public var colors: ColorDepth?
    /// How a continuation (`g`) is generated: its length and sampling.
    public var generation = GenerationSettings()
    public var input: InputLine?
    public var lastFind = ""
    /// A one-line message for the status bar (errors, where a snapshot went).
    public var message: String?

    public init() {}

    public var primaryKey: PolicyKey { PolicyKey(primary, k: k, context: context) }
    public var partnerKey: PolicyKey { PolicyKey(partner, k: k, context: context) }
    public func key(_ kind: PolicyKind) -> PolicyKey { PolicyKey(kind, k: k, context: context) }
}
