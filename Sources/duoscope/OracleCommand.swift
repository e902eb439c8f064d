import ArgumentParser
import DuoEngine
import DuoReports
import Foundation

/// `duoscope oracle MODEL (--text S | --file F) (--k K | --skips S | --budget F)`: stage 2.
struct OracleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "oracle",
        abstract: "Stage 2: per-token oracle routing (lowest loss on the true next token) under a compute constraint.",
        discussion: """
            Constraints: --k K (exactly K big layers, the rest small), --skips S (big or skip, exactly S skipped), \
            --budget F (skip/small/big with FFN compute at most F of all-big; exhaustive, 3^L patterns per token). \
            --context causal (default): earlier tokens keep their own oracle routes; --context fixed: earlier \
            tokens run all-big; --context POLICY: earlier tokens run under that policy (e.g. small, router@4).
            """)

    @Argument(help: "Model directory.")
    var model: String
    @OptionGroup var input: TextOptions
    @Option(help: "Exactly K big layers per token.") var k: Int?
    @Option(help: "Big or skip, with exactly S skipped layers.") var skips: Int?
    @Option(help: "FFN compute budget as a fraction of all-big (ternary search).") var budget: Double?
    @Option(help: OracleContextOption.help) var context = "causal"
    @Option(help: OutputFormat.help(RouteCommand.formats)) var format: OutputFormat = .table
    @Option(help: "Search only a beam of this width (default: every admissible pattern; see --compare-beams for what a beam loses).")
    var beam: Int?
    @Option(
        name: .customLong("compare-beams"),
        help:
            "Instead of routing the text, measure beam search against exhaustive search for these widths (e.g. 16,64,256), context all-big."
    )
    var compareBeams: String?

    func validate() throws {
        try format.check(RouteCommand.formats, command: "oracle")
        guard [k != nil, skips != nil, budget != nil].filter({ $0 }).count == 1 else {
            throw ValidationError("give exactly one of --k, --skips or --budget")
        }
    }

    func run() throws {
        let duo = try Loader.model(model)
        let constraint: OracleConstraint = k.map { .exactlyBig($0) } ?? skips.map { .bigOrSkip(skips: $0) } ?? .budget(budget ?? 1)
        try constraint.validate(config: duo.config)
        let contextMode: OracleContext =
            try OracleContextOption.parse(context, model: duo)
        let source = try input.source()
        let ids = try source.tokenize(for: duo, truncate: input.truncate)
        let line = ProgressLine()
        let start = Date()
        if let compareBeams {
            let widths = compareBeams.split(separator: ",").compactMap { Int($0) }
            guard !widths.isEmpty, widths.allSatisfy({ $0 > 0 }) else {
                throw DuoError("--compare-beams: give positive widths, e.g. 16,64,256")
            }
            let rows = try BeamQuality.measure(model: duo, ids: ids, constraint: constraint, widths: widths) { done, total in
                line.update("comparing beams: token \(done)/\(total)  \(DurationText.short(Date().timeIntervalSince(start)))")
            }
            line.clear()
            print(try BeamComparison(rows: rows).render(format), terminator: "")
            return
        }
        let beamWidth = beam
        let choices = try Oracle.run(model: duo, ids: ids, constraint: constraint, context: contextMode, beamWidth: beamWidth) {
            done, total in
            let elapsed = Date().timeIntervalSince(start)
            line.update(
                String(
                    format: "oracle token %d/%d  %.1f tokens/s  ETA %@", done, total, Double(done) / max(elapsed, 1e-9),
                    DurationText.short(elapsed / Double(done) * Double(total - done))))
        }
        line.clear()
        let evaluation = SequenceEvaluation(model: duo, ids: ids, oracle: choices)
        let search = beamWidth.map { ", beam \($0)" } ?? ""
        let report = RouteReport(
            model: duo, policy: "oracle(\(constraint), context \(contextMode.name)\(search))", text: source.text, evaluation: evaluation)
        print(try report.render(format), terminator: "")
    }
}

/// `oracle --compare-beams`: beam search against exhaustive search, one row per search, as a
/// Markdown table (`table` and `md`), JSON (`search`, `tokens`, `found_optimum`, ...) or CSV.
struct BeamComparison {
    let rows: [BeamQuality.Row]

    private struct RowJSON: Encodable {
        let search: String
        let beamWidth: Int?
        let tokens: Int
        let foundOptimum: Double
        let meanExcessLoss: Double
        let maxExcessLoss: Double
        let secondsPerToken: Double
    }

    private func search(_ r: BeamQuality.Row) -> String { r.beamWidth.map { "beam \($0)" } ?? "exhaustive" }

    func render(_ format: OutputFormat) throws -> String {
        switch format {
        case .json:
            return try JSONOutput.string(
                rows.map {
                    RowJSON(
                        search: search($0), beamWidth: $0.beamWidth, tokens: $0.tokens, foundOptimum: $0.foundOptimum,
                        meanExcessLoss: $0.meanGap, maxExcessLoss: $0.maxGap, secondsPerToken: $0.secondsPerToken)
                })
        case .csv:
            let lines = rows.map {
                String(
                    format: "%@,%d,%.6f,%.6f,%.6f,%.6f", search($0), $0.tokens, $0.foundOptimum, $0.meanGap, $0.maxGap, $0.secondsPerToken)
            }
            return (["search,tokens,found_optimum,mean_excess_loss,max_excess_loss,seconds_per_token"] + lines).joined(separator: "\n")
                + "\n"
        default:
            var out = "| search | tokens | optimum found | mean excess loss | max excess loss | s/token |\n|---|---:|---:|---:|---:|---:|\n"
            for r in rows {
                out += String(
                    format: "| %@ | %d | %.1f%% | %.4f | %.4f | %.3f |\n", search(r), r.tokens, 100 * r.foundOptimum, r.meanGap, r.maxGap,
                    r.secondsPerToken)
            }
            return out
        }
    }
}
