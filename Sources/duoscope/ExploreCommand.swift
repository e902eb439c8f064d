import ArgumentParser
import DuoEngine
import DuoExplorer
import Foundation

/// Options shared by `explore` and `snapshot`: what to show and under which policies. Each is
/// optional: `explore` falls back to the remembered settings, `snapshot` to the defaults.
struct ExplorerOptions: ParsableArguments {
    @Option(name: .long, help: "Primary policy, e.g. oracle, oracle@4, oracle@4:fixed, router, fixed, random, big, small (default oracle).")
    var policy: String?

    @Option(name: .long, help: "Partner policy for the Compare view (default router).")
    var compare: String?

    @Option(name: .long, help: "Budget: big layers per token (default 4).")
    var k: Int?

    @Option(name: .long, help: contextHelp)
    var context: String?

    /// `--context`'s help, in the words of `OracleContextOption.help` (`oracle`, `eval`).
    static let contextHelp = ArgumentHelp(
        "The oracle's context: causal (earlier tokens keep their own oracle routes) or fixed (earlier tokens all-big); "
            + "default causal.")

    @Option(name: .long, help: "View: routes, compare, difficulty, layers, summary (default routes).")
    var view: String?

    @Option(name: .long, help: "Trials behind the random best-of-N baseline (default 100).")
    var trials: Int?

    @Flag(name: .long, help: "Keep the first context-length tokens of a longer text instead of failing.")
    var truncate = false

    /// `base` with every option given on the command line applied.
    func settings(over base: ExplorerSettings) throws -> ExplorerSettings {
        var s = base
        if let k {
            guard k >= 0 else { throw DuoError("--k \(k) must be at least 0") }
            s.k = k
        }
        if let trials {
            guard trials >= 1 else { throw DuoError("--trials \(trials) must be at least 1") }
            s.trials = trials
        }
        if let context {
            guard let mode = ContextMode(rawValue: context) else { throw DuoError("--context \(context): expected causal or fixed") }
            s.context = mode
        }
        if let policy {
            let key = try Self.policy(policy, option: "--policy", k: s.k)
            s.primary = key.kind
            if key.kind.usesBudget { s.k = key.k }
            if policy.contains(":") { s.context = key.context }
        }
        if let compare {
            let key = try Self.policy(compare, option: "--compare", k: s.k)
            guard !key.kind.usesBudget || key.k == s.k else {
                throw DuoError("--compare \(TerminalSafe.escape(compare)): the partner runs at the primary's budget k = \(s.k)")
            }
            s.partner = key.kind
        }
        if let view {
            guard let v = ViewKind(name: view) else {
                throw DuoError("--view \(view): expected routes, compare, difficulty, layers or summary")
            }
            s.view = v
        }
        return s
    }

    /// The starting state for a model of `layers` layers; an explicit --k beyond them is an error.
    func state(over base: ExplorerSettings, layers: Int) throws -> ExplorerState {
        if let k, k > layers { throw DuoError("--k \(k) is outside 0...\(layers)") }
        let s = try settings(over: base)
        if let policy, policy.contains("@"), s.k > layers {
            throw DuoError("--policy \(TerminalSafe.escape(policy)): k is outside 0...\(layers)")
        }
        return s.state(layers: layers)
    }

    /// A policy of the catalogue in the policy grammar; without `@K` it takes budget `k`.
    static func policy(_ text: String, option: String, k: Int) throws -> PolicyKey {
        try PolicyKey.parse(text, defaultK: k, label: "\(option) \(TerminalSafe.escape(text))")
    }
}

/// `duoscope explore`: the interactive explorer (also what bare `duoscope` runs).
struct ExploreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explore",
        abstract: "Explore routing patterns, token difficulty and oracle vs router in the terminal.",
        discussion: "With no MODEL, opens the bundled sample model and a sample text. Press ? inside for every key."
    )

    @Argument(help: "Model directory (default: the bundled sample model).")
    var model: String?

    @Argument(help: "Text files to explore (the first one opens; all are offered by p).")
    var texts: [String] = []

    @OptionGroup var options: ExplorerOptions

    @Flag(name: .long, help: "Glyphs and attributes instead of color (also when NO_COLOR is set).")
    var noColor = false

    @Option(name: .long, help: "Force a color depth: truecolor, 256, 16 or 8.")
    var colors: String?

    @Option(name: .long, help: "Folder for snapshots (key e).")
    var snapshots: String = "duoscope-snapshots"

    func run() throws {
        let started = Date()
        guard isatty(STDIN_FILENO) != 0, isatty(STDOUT_FILENO) != 0 else {
            throw DuoError("the explorer needs a terminal; use `duoscope snapshot` to render views to files")
        }
        let settingsFile = ExplorerSettings.standardFile()
        var (remembered, note) = ExplorerSettings.load(from: settingsFile)
        // Colors: --colors or --no-color (remembered like every option), else the remembered
        // choice; NO_COLOR wins for this session without being remembered.
        if let colors {
            guard let d = ColorDepth(rawValue: colors), d != .none else {
                throw DuoError("--colors \(TerminalSafe.escape(colors)): expected truecolor, 256, 16 or 8")
            }
            remembered.colors = d
        }
        if noColor { remembered.colors = ColorDepth.none }
        let explorer = try ExplorerSetup.make(
            modelPath: model, texts: texts, options: options, settings: remembered, snapshots: snapshots, note: note)
        let noColorEnvironment = !(ProcessInfo.processInfo.environment["NO_COLOR"] ?? "").isEmpty
        let depth = noColorEnvironment ? ColorDepth.none : explorer.state.colors
        let log = ProcessInfo.processInfo.environment["DUOSCOPE_TIMING_LOG"].map { URL(fileURLWithPath: $0) }
        try ExplorerApp.run(explorer, depth: depth, started: started, timingLog: log)
        if let settingsFile { ExplorerSettings(explorer.state, trials: explorer.analyzer.randomTrials).save(to: settingsFile) }
    }
}

/// Finds the model and texts and builds an explorer, for `explore` and `snapshot`.
enum ExplorerSetup {
    static let sampleModel = "sample-models/duo-12L"

    /// The bundled sample model: ./sample-models/duo-12L, or next to the executable's checkout.
    static func defaultModelPath() throws -> String {
        var candidates = [FileManager.default.currentDirectoryPath]
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 {
            candidates.append(dir.path)
            dir = dir.deletingLastPathComponent()
        }
        for base in candidates {
            let path = URL(fileURLWithPath: base).appendingPathComponent(sampleModel).path
            if FileManager.default.fileExists(atPath: path + "/config.json") { return path }
        }
        throw DuoError("no model given and the sample model \(sampleModel) was not found (run from the duoscope checkout)")
    }

    /// `settings`: what the options fall back to (remembered ones for `explore`, defaults for `snapshot`);
    /// `note`: a line to show on the first screen.
    static func make(
        modelPath: String?, texts: [String], options: ExplorerOptions, settings: ExplorerSettings = ExplorerSettings(),
        snapshots: String, note: String? = nil
    ) throws -> Explorer {
        let merged = try options.settings(over: settings)
        return try Explorer.open(
            modelDirectory: URL(fileURLWithPath: modelPath ?? defaultModelPath()), textFiles: texts.map { URL(fileURLWithPath: $0) },
            randomTrials: merged.trials, truncate: options.truncate, snapshotFolder: URL(fileURLWithPath: snapshots)
        ) {
            var state = try options.state(over: settings, layers: $0.numLayers)
            state.message = note
            return state
        }
    }
}
