import ArgumentParser
import DuoEngine
import DuoReports

/// `duoscope info MODEL`: architecture, parameters, FLOPs per route, tokenizer.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info", abstract: "Describe a model: architecture, parameter counts, FLOPs per route, tokenizer.")

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json }

    @Argument(help: "Model directory (config.json, model.safetensors, tokenizer.json).")
    var model: String

    @Option(help: "Output format: text or json.")
    var format: Format = .text

    func run() throws {
        let summary = ModelSummary(model: try Loader.model(model))
        print(format == .json ? try summary.json() : summary.text(), terminator: "")
    }
}
