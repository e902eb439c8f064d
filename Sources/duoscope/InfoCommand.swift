import ArgumentParser
import DuoEngine
import DuoReports

/// `duoscope info MODEL`: architecture, parameters, FLOPs per route, tokenizer.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info", abstract: "Describe a model: architecture, parameter counts, FLOPs per route, tokenizer.")

    static let formats: [OutputFormat] = [.table, .json]

    @Argument(help: "Model directory (config.json, model.safetensors, tokenizer.json).")
    var model: String

    @Option(help: OutputFormat.help(formats, notes: [.table: "the description as text"]))
    var format: OutputFormat = .table

    func validate() throws { try format.check(Self.formats, command: "info") }

    func run() throws {
        let summary = ModelSummary(model: try Loader.model(model))
        print(format == .json ? try summary.json() : summary.text(), terminator: "")
    }
}
