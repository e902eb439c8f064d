import ArgumentParser
import DuoEngine
import DuoReports
import Foundation

/// `duoscope perplexity MODEL --file F --policy P...`: held-out perplexity of a long text.
struct PerplexityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "perplexity",
        abstract: "Perplexity of a text of any length under one or more policies (context-sized windows).",
        discussion:
            "Documents are separated by blank lines and joined by <|endoftext|>, as in training. Policies as in `duoscope route` "
            + "(a policy at a budget, e.g. oracle@4, is chosen per window).")

    static let formats: [OutputFormat] = [.table, .json, .csv, .md]

    @Argument(help: "Model directory.")
    var model: String

    @Option(name: .long, help: "A UTF-8 text file.")
    var file: String

    @Option(name: .long, help: "A policy; repeat for several (default: big, small, random).")
    var policy: [String] = []

    @Option(help: OutputFormat.help(formats))
    var format: OutputFormat = .table

    /// The format and the policies' grammar, before anything is loaded (the model checks the rest).
    func validate() throws {
        try format.check(Self.formats, command: "perplexity")
        for text in policy { _ = try PolicyChoice.parse(text) }
    }

    func run() throws {
        let duo = try Loader.model(model)
        let source = try TextSource(file: URL(fileURLWithPath: file))
        let specs = policy.isEmpty ? (duo.config.isDuo ? ["big", "small", "random"] : ["big", "random"]) : policy
        let choices = try specs.map(PolicyChoice.parse)
        let rules = try choices.map { try $0.rule.map { try PolicySpec.parse($0, config: duo.config, modelDirectory: duo.directory) } }
        let evaluator = choices.contains { $0.key != nil } ? try PolicyEvaluator.forModel(duo) : nil
        let ids = try source.tokens(for: duo)
        let line = ProgressLine()
        var results: [CorpusPerplexity.Result] = []
        for (i, (choice, rule)) in zip(choices, rules).enumerated() {
            let start = Date()
            func report(_ step: String, _ done: Int, _ total: Int) {
                let elapsed = Date().timeIntervalSince(start)
                line.update(
                    String(
                        format: "policy %d/%d %@: %@ %d/%d  %.1f/s  ETA %@", i + 1, choices.count, TerminalSafe.escape(choice.description),
                        step, done, total, Double(done) / max(elapsed, 1e-9),
                        DurationText.short(elapsed / Double(max(done, 1)) * Double(total - done))))
            }
            if let rule {
                results += try CorpusPerplexity.run(model: duo, ids: ids, policies: [rule]) { report("window", $0, $1) }
            } else if let evaluator, let key = choice.key {
                let control = EvaluationControl(progress: { report("step", $0, $1) })
                let outcome = try evaluator.evaluate(key, windows: evaluator.windows(ids), control: control)
                results.append(CorpusPerplexity.result(outcome, policy: key.description, model: duo))
            }
        }
        line.clear()
        switch format {
        case .json:
            struct Row: Encodable {
                let policy: String
                let tokens: Int
                let meanLoss: Double
                let perplexity: Double
                let ffnFraction: Double
            }
            let rows = results.map {
                Row(policy: $0.policy, tokens: $0.tokens, meanLoss: $0.meanLoss, perplexity: $0.perplexity, ffnFraction: $0.ffnFraction)
            }
            print(try JSONOutput.string(rows), terminator: "")
        case .csv:
            print("policy,tokens,mean_loss,perplexity,ffn_fraction")
            for r in results {
                print(CSVText.field(r.policy) + String(format: ",%d,%.6f,%.6f,%.6f", r.tokens, r.meanLoss, r.perplexity, r.ffnFraction))
            }
        case .md:
            print("| policy | tokens scored | mean loss (nats) | perplexity | FFN compute |")
            print("|---|---:|---:|---:|---:|")
            for r in results {
                print(
                    "| \(MarkdownText.cell(r.policy)) "
                        + String(format: "| %d | %.4f | %.2f | %.1f%% |", r.tokens, r.meanLoss, r.perplexity, 100 * r.ffnFraction))
            }
        default:
            let scored = results.first?.tokens ?? 0
            print(
                "\(TerminalSafe.escape(duo.name)): \(ids.count) tokens of \(TerminalSafe.escape(source.label)) (\(scored) scored) "
                    + "in windows of \(duo.config.maxPositions)"
            )
            for r in results {
                let policy = TerminalSafe.escape(r.policy)
                let name = policy.count >= 36 ? policy : policy + String(repeating: " ", count: 36 - policy.count)
                print(
                    name
                        + String(
                            format: "  loss %.4f  perplexity %8.2f  FFN compute %5.1f%%", r.meanLoss, r.perplexity, 100 * r.ffnFraction))
            }
        }
    }
}
