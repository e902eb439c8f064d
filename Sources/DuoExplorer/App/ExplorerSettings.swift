import DuoEngine
import Foundation

/// What the explorer remembers between runs, in a small JSON file in the XDG config directory
/// (`$DUOSCOPE_CONFIG_DIR`, else `$XDG_CONFIG_HOME/duoscope`, else `~/.config/duoscope`;
/// `DUOSCOPE_NO_CONFIG` turns it off): the policies, budget, context, view, difficulty metric,
/// orientation, random trials, how `g` generates and the colors. Command-line options override it; `snapshot`
/// never reads it. A key missing from the file (one written by an older duoscope) keeps its default.
public struct ExplorerSettings: Codable, Equatable, Sendable {
    public var primary: PolicyKind = .oracle
    public var partner: PolicyKind = .router
    public var k = 4
    public var context: ContextMode = .causal
    public var view: ViewKind = .routes
    public var metric: DifficultyMetric = .potential
    public var transposed = false
    public var trials = 100
    public var generation = GenerationSettings()
    /// The color depth chosen with --colors, --no-color or `:colors` (nil: the terminal's most).
    public var colors: ColorDepth?
    /// The router chosen with `:router` (nil: the one trained nearest the budget).
    public var router: String?

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = ExplorerSettings()
        primary = try c.decodeIfPresent(PolicyKind.self, forKey: .primary) ?? d.primary
        partner = try c.decodeIfPresent(PolicyKind.self, forKey: .partner) ?? d.partner
        k = try c.decodeIfPresent(Int.self, forKey: .k) ?? d.k
        context = try c.decodeIfPresent(ContextMode.self, forKey: .context) ?? d.context
        view = try c.decodeIfPresent(ViewKind.self, forKey: .view) ?? d.view
        metric = try c.decodeIfPresent(DifficultyMetric.self, forKey: .metric) ?? d.metric
        transposed = try c.decodeIfPresent(Bool.self, forKey: .transposed) ?? d.transposed
        trials = try c.decodeIfPresent(Int.self, forKey: .trials) ?? d.trials
        generation = try c.decodeIfPresent(GenerationSettings.self, forKey: .generation) ?? d.generation
        colors = try c.decodeIfPresent(ColorDepth.self, forKey: .colors)
        router = try c.decodeIfPresent(String.self, forKey: .router)
    }

    /// The settings of a session, to keep.
    public init(_ state: ExplorerState, trials: Int) {
        primary = state.primary
        partner = state.partner
        k = state.k
        context = state.context
        view = state.view
        metric = state.metric
        transposed = state.transposed
        generation = state.generation
        colors = state.colors
        router = state.router
        self.trials = trials
    }

    /// A state starting from these settings, with k clamped to the model's layers.
    public func state(layers: Int) -> ExplorerState {
        var s = ExplorerState()
        s.primary = primary
        s.partner = partner
        s.k = min(max(k, 0), layers)
        s.context = context
        s.view = view
        s.metric = metric
        s.transposed = transposed
        s.generation = generation
        s.colors = colors
        s.router = router
        return s
    }

    /// The settings file, or nil when settings are off or there is no home.
    public static func standardFile(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL? {
        UserDirectory.config.url(environment: environment)?.appendingPathComponent("explorer.json")
    }

    /// The settings in `file`; a missing file gives the defaults, an unreadable or invalid one
    /// the defaults and a one-line note saying so (the explorer shows it and starts anyway).
    public static func load(from file: URL?) -> (ExplorerSettings, note: String?) {
        guard let file, FileManager.default.fileExists(atPath: file.path) else { return (ExplorerSettings(), nil) }
        do {
            let data = try InputFile.contents(file, limit: 1 << 20, what: "a settings file")
            return (try JSONDecoder().decode(ExplorerSettings.self, from: data), nil)
        } catch {
            let reason = (error as? DuoError)?.problem ?? "not valid settings JSON"
            return (ExplorerSettings(), "ignored settings \(TerminalSafe.escape(file.path)): \(reason)")
        }
    }

    /// Writes the settings atomically; a failure only costs remembering them.
    public func save(to file: URL) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        guard let data = try? encoder.encode(self) else { return }
        try? FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try? AtomicFile.write(data + Data("\n".utf8), to: file)
    }
}
