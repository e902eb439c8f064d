import ArgumentParser
import DuoEngine
import Foundation

/// The `duoscope` command line.
@main
struct Duoscope: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "duoscope",
        abstract: "Explore adaptive computation in Duo models: routed inference, oracles, routers.",
        discussion: "Run `duoscope COMMAND --help` for a command's options.",
        version: "0.1.0",
        subcommands: [
            ExploreCommand.self, SnapshotCommand.self, InfoCommand.self, RouteCommand.self, PerplexityCommand.self, OracleCommand.self,
            TrainCommand.self, TrainRouterCommand.self, EvalCommand.self, BenchCommand.self,
        ],
        defaultSubcommand: ExploreCommand.self
    )

    static func main() {
        BLASCore.ensureTunedKernels()
        main(nil)
    }
}

/// Options shared by commands that score a text.
struct TextOptions: ParsableArguments {
    @Option(name: .long, help: "The text to score.")
    var text: String?

    @Option(name: .long, help: "A UTF-8 text file to score.")
    var file: String?

    @Flag(name: .long, help: "Keep the first context-length tokens of a longer text instead of failing.")
    var truncate = false

    /// The text, read and validated (commands that can do without one simply never ask).
    func source() throws -> TextSource {
        if (text == nil) == (file == nil) { throw DuoError("give exactly one of --text or --file") }
        if let file { return try TextSource(file: URL(fileURLWithPath: file)) }
        return try TextSource(text: text ?? "")
    }
}

/// The oracle's `--context`, one grammar for `oracle` and `eval` (and the explorer's `c` key):
/// `causal` (earlier tokens keep their oracle routes), `fixed` (earlier tokens all-big, as the
/// explorer calls it; `big` is the same), or any other policy for the earlier tokens.
enum OracleContextOption {
    /// `--context`'s help in `oracle` and `eval`; `ExplorerOptions.contextHelp` says the same for the explorer.
    static let help = ArgumentHelp(
        "The oracle's context: causal (earlier tokens keep their own oracle routes), fixed (earlier tokens all-big) "
            + "or a policy for the earlier tokens (e.g. small, router@4).")

    static func parse(_ text: String, model: DuoModel) throws -> OracleContext {
        switch text.lowercased() {
        case "causal": return .causal
        case "fixed", "big", "all-big": return .fixed(UniformPolicy(.big))
        default:
            do {
                return .fixed(try PolicySpec.parse(text, config: model.config, modelDirectory: model.directory))
            } catch let error as DuoError {
                throw DuoError(
                    "--context \(TerminalSafe.escape(text)): expected causal, fixed (earlier tokens all-big) "
                        + "or a policy for the earlier tokens (\(error.problem))")
            }
        }
    }
}

enum Loader {
    /// Loads a model directory given on the command line.
    static func model(_ path: String) throws -> DuoModel {
        try DuoModel.load(directory: URL(fileURLWithPath: path))
    }
}
