import ArgumentParser
import DuoEngine
import DuoReports
import Foundation

/// `duoscope eval MODEL --file F`: perplexity vs number of big layers for every policy.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract:
            "Perplexity against the number of big layers k for every policy with a budget (oracle, routers, fixed, random "
            + "best-of-N, ...), with per-layer shares and token difficulty.",
        discussion:
            "Routers: every MODEL/routers/*.safetensors unless --router is given. With --out DIR writes eval.md, eval.csv, "
            + "eval.json and eval.svg there."
    )

    static let formats: [OutputFormat] = [.md, .csv, .json]

    @Argument(help: "Model directory.") var model: String
    @OptionGroup var input: TextOptions
    @Option(help: "A router file; repeat for several.") var router: [String] = []
    @Option(help: "Random routings per k for best-of-N and mean.") var trials = 100
    @Option(help: OracleContextOption.help) var context = "causal"
    @Flag(name: .customLong("no-fixed"), help: "Skip the exhaustive best-fixed-pattern baseline (2^L runs of the text).") var noFixed =
        false
    @Option(name: .customLong("share-k"), help: "k for per-layer shares and token difficulty (default L/2).") var shareK: Int?
    @Option(help: "Seed of the random routings.") var seed: UInt64 = 0
    @Option(help: OutputFormat.help(formats)) var format: OutputFormat = .md
    @Option(help: "Directory for eval.md, eval.csv, eval.json and eval.svg.") var out: String?
    @Option(name: .customLong("from-json"), help: "Render the reports from a saved eval.json instead of computing (no text needed).")
    var fromJSON: String?

    func validate() throws { try format.check(Self.formats, command: "eval") }

    func run() throws {
        StandardOutput.lineBuffered()
        let duo = try Loader.model(model)
        let result =
            try fromJSON.map { path -> BudgetSweep.Result in
                let url = URL(fileURLWithPath: path)
                let data = try InputFile.contents(url, what: "an eval.json file")
                struct Version: Decodable { var schema: Int? }
                guard let version = try? JSONOutput.decode(Version.self, from: data) else {
                    throw DuoError(file: url, "not an eval.json written by duoscope eval")
                }
                guard version.schema == BudgetSweep.Result.currentSchema else {
                    throw DuoError(
                        file: url,
                        "eval.json schema \(version.schema ?? 1) (this duoscope reads \(BudgetSweep.Result.currentSchema)); run eval again")
                }
                guard let saved = try? JSONOutput.decode(BudgetSweep.Result.self, from: data) else {
                    throw DuoError(file: url, "not an eval.json written by duoscope eval")
                }
                return saved
            } ?? compute(duo)
        try emit(result, model: duo)
    }

    private func compute(_ duo: DuoModel) throws -> BudgetSweep.Result {
        guard trials >= 1, trials <= 10_000 else { throw DuoError("--trials \(trials) must be in 1...10000") }
        if let shareK, !(0...duo.config.numLayers).contains(shareK) {
            throw DuoError("--share-k \(shareK) is outside 0...\(duo.config.numLayers)")
        }
        let source = try input.source()
        let ids = try source.tokens(for: duo)
        var options = BudgetSweep.Options()
        options.context =
            try OracleContextOption.parse(context, model: duo)
        options.randomTrials = trials
        options.seed = seed
        options.excluded = noFixed ? [.fixed] : []
        options.shareK = shareK
        var files = router.map { URL(fileURLWithPath: $0) }
        if files.isEmpty, let directory = duo.directory { files = ModelDirectory(directory).routerFiles }
        options.routers = try files.map { try RouterWeights.read(from: $0, config: duo.config) }
        // A sweep seen before (same weights, routers, text and options) comes from the cache.
        var routerHash = ContentHash.Hasher128()
        for router in options.routers { routerHash.add(tensors: router.named) }
        let cache = ResultCache.standard()
        let key = [
            "eval-v\(BudgetSweep.Result.currentSchema)", duo.fingerprint, "routers=" + routerHash.hex, "context=\(context)",
            "trials=\(trials)", "seed=\(seed)",
            "fixed=\(!noFixed)", "share=\(shareK.map(String.init) ?? "-")", ids.map(String.init).joined(separator: ","),
        ]
        if let hit = cache?.value(BudgetSweep.Result.self, for: key) { return hit }
        let ticker = ProgressTicker()
        defer { ticker.finish() }
        let result = try BudgetSweep.run(model: duo, ids: ids, options: options) { stage, done, total in
            ticker.report(stage, done, total)
        }
        cache?.store(result, for: key)
        return result
    }

    private func emit(_ result: BudgetSweep.Result, model duo: DuoModel) throws {
        let report = SweepReport(result: result, title: "\(duo.name): perplexity vs big layers (\(result.tokensScored) held-out tokens)")
        if let out {
            let directory = URL(fileURLWithPath: out)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try AtomicFile.write(Data(report.markdown().utf8), to: directory.appendingPathComponent("eval.md"))
            try AtomicFile.write(Data(report.csv().utf8), to: directory.appendingPathComponent("eval.csv"))
            try AtomicFile.write(Data(try report.json().utf8), to: directory.appendingPathComponent("eval.json"))
            try AtomicFile.write(Data(report.svg().utf8), to: directory.appendingPathComponent("eval.svg"))
        }
        switch format {
        case .csv: print(report.csv(), terminator: "")
        case .json: print(try report.json(), terminator: "")
        default: print(report.markdown(), terminator: "")
        }
    }
}
