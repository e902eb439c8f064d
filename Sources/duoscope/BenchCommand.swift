import ArgumentParser
import DuoEngine
import DuoExplorer
import DuoReports
import DuoTraining
import Foundation

/// `duoscope bench [MODEL]`: sgemm peak, prefill and decode throughput.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure prefill and decode throughput beside the machine's sgemm peak.",
        discussion:
            "Without MODEL, a randomly initialised model of the sample model's shape is used (12 layers, hidden 192, 6 heads, 2 "
            + "key/value heads, big FFN 768, small 48, vocab 4096, context 256, tied LM head)."
    )

    @Argument(help: "Model directory (optional).")
    var model: String?

    @Option(help: "Minimum seconds per measurement.")
    var seconds = 1.0

    static let formats: [OutputFormat] = [.table, .json]

    @Option(help: OutputFormat.help(formats))
    var format: OutputFormat?

    @Flag(help: "The same as --format json.")
    var json = false

    @Option(name: .customLong("train-batch"), help: "Sequences per step when timing full training steps.")
    var trainBatch = 8

    enum Part: String, CaseIterable, ExpressibleByArgument { case prefill, decode, oracle, train, explorer }

    @Option(
        help: ArgumentHelp(
            "Measure only these parts (repeatable): prefill, decode, oracle, train, explorer. The sgemm peak is always measured "
                + "(except for explorer alone).")
    )
    var only: [Part] = []

    @Option(help: "Text for the explorer latency measurement (default: the model's sample quotes.txt).")
    var text: String?

    static let sampleShape = ModelConfig(
        vocabSize: 4096, hiddenSize: 192, intermediateSize: 768, smallIntermediateSize: 48,
        numLayers: 12, numHeads: 6, numKVHeads: 2, maxPositions: 256, tieWordEmbeddings: true)

    func validate() throws {
        try format?.check(Self.formats, command: "bench")
        if json, let format, format != .json { throw DuoError("--json is --format json; give one format") }
    }

    /// The engine's figures and the sgemm peak their percentages refer to.
    private struct Engine {
        var config: ModelConfig
        var peak: Double
        var figures: [EngineBenchmark.Figure]
        /// Read bandwidth over a working set the size of the model's weights (when decode is measured).
        var bandwidth: Double?
    }

    func run() throws {
        let format = json ? .json : format ?? .table
        let parts = Set(only.isEmpty ? Part.allCases : only)
        let engine = only == [.explorer] ? nil : try measureEngine(parts)
        if let engine, format == .table { printTable(engine) }
        // The explorer is measured when asked for alone, and beside the rest when there is a model.
        var explorer: (result: ExplorerBenchmark.Result, text: String)?
        if only == [.explorer] {
            explorer = try explorerLatency()
        } else if parts.contains(.explorer), model != nil {
            explorer = try? explorerLatency()
        }
        if let explorer, format == .table {
            if engine != nil { print("") }
            printExplorer(explorer.result, text: explorer.text)
        }
        if format == .json {
            let report = BenchReport(
                blas: BLASCore.info, sgemmPeakGflops: engine?.peak, readBandwidthGbs: engine?.bandwidth, figures: engine?.figures ?? [],
                explorer: explorer?.result)
            print(try JSONOutput.string(report), terminator: "")
        }
    }

    private func measureEngine(_ parts: Set<Part>) throws -> Engine {
        let duo: DuoModel
        if let model {
            duo = try Loader.model(model)
        } else {
            duo = DuoModel(config: Self.sampleShape, weights: RandomInit.weights(Self.sampleShape, seed: 1), tokenizer: nil)
        }
        let c = duo.config
        var figures: [EngineBenchmark.Figure] = []
        for size in [256, 512, 1024] { figures.append(EngineBenchmark.sgemmPeak(size: size, minimumSeconds: seconds)) }
        let peak = figures.map(\.gflops).max() ?? 1
        let n = c.maxPositions
        let policies: [RoutingPolicy] =
            c.isDuo
            ? [UniformPolicy(.big), try PolicySpec.parse("random", config: c), UniformPolicy(.small)]
            : [UniformPolicy(.big), try PolicySpec.parse("random", config: c)]
        for policy in policies where parts.contains(.prefill) {
            figures.append(try EngineBenchmark.prefill(model: duo, tokens: n, policy: policy, minimumSeconds: seconds))
        }
        var bandwidth: Double?
        if parts.contains(.decode) {
            bandwidth = EngineBenchmark.readBandwidth(bytes: 4 * duo.parameterCounts.total, minimumSeconds: seconds)
            for policy in policies.prefix(2) {
                figures.append(try EngineBenchmark.decode(model: duo, tokens: n, policy: policy, minimumSeconds: seconds))
            }
        }
        if parts.contains(.oracle) && c.isDuo && c.numLayers <= 16 {
            figures.append(try EngineBenchmark.oracleTree(model: duo, position: n / 2, minimumSeconds: seconds))
            figures.append(
                try EngineBenchmark.oracleTree(model: duo, position: n / 2, scoring: .bestPerBigCount, minimumSeconds: seconds))
            figures.append(try EngineBenchmark.oracleNaive(model: duo, position: n / 2, minimumSeconds: seconds))
        }
        if parts.contains(.train) && trainBatch > 0 {
            figures.append(TrainingBenchmark.measure(config: c, batch: trainBatch, length: n, minimumSeconds: max(seconds, 3)))
        }
        return Engine(config: c, peak: peak, figures: figures, bandwidth: bandwidth)
    }

    private func printTable(_ engine: Engine) {
        let c = engine.config
        let blas = BLASCore.info
        print(
            "model: \(model.map(TerminalSafe.escape) ?? "random weights, sample-model shape")  layers \(c.numLayers)  "
                + "hidden \(c.hiddenSize)  context \(c.maxPositions)")
        print("BLAS: \(blas.summary)")
        print("BLAS threads: \(Parallel.blasThreads)  cores: \(ProcessInfo.processInfo.activeProcessorCount)")
        if blas.kernelsBelowCPU {
            print("WARNING: the sgemm peak below is that of kernels below this CPU, not the machine's: percentages overstate efficiency")
        }
        print("")
        func pad(_ s: String, _ w: Int) -> String { s + String(repeating: " ", count: max(0, w - s.count)) }
        print(pad("measurement", 56) + pad("tokens/s", 12) + pad("GFLOP/s", 10) + "of sgemm peak")
        for f in engine.figures {
            let rate = f.tokensPerSecond.map { String(format: $0 < 100 ? "%.2f" : "%.0f", $0) } ?? "-"
            var line =
                pad(f.name, 56) + pad(rate, 12) + pad(String(format: "%.1f", f.gflops), 10)
                + String(format: "%.0f%%", 100 * f.gflops / engine.peak)
            if let bytes = f.bytesPerToken, let bandwidth = engine.bandwidth, let rate = f.tokensPerSecond {
                let bound = bandwidth * 1e9 / bytes
                line += String(
                    format: "   %.1f MB/token: %.0f%% of the bandwidth bound, %.0f tok/s", bytes / 1e6, 100 * rate / bound, bound)
            }
            print(line)
        }
        if let bandwidth = engine.bandwidth {
            print(String(format: "read bandwidth over a working set of the model's weights, all cores: %.1f GB/s", bandwidth))
        }
    }

    /// `bench --format json`, written by `JSONOutput` (snake_case keys): the BLAS, the sgemm peak
    /// the percentages refer to, the read bandwidth decoding is bounded by (with `bytes_per_token`
    /// on each decode figure), every figure, and the explorer's latencies when measured.
    /// Schema 2; schema 1 wrote camelCase keys (`sgemmPeakGFLOPs`, `tokensPerSecond`, ...), and
    /// `--only explorer` printed the explorer's figures alone, without a schema.
    struct BenchReport: Encodable {
        let schema = "duoscope.bench/2"
        let blas: BLASCore.Info
        let sgemmPeakGflops: Double?
        let readBandwidthGbs: Double?
        let figures: [EngineBenchmark.Figure]
        let explorer: ExplorerBenchmark.Result?
    }

    /// First-frame time and key-to-redraw latency of the explorer on a model and text (and the text's file name).
    func explorerLatency() throws -> (result: ExplorerBenchmark.Result, text: String) {
        guard let model else { throw DuoError("the explorer benchmark needs a MODEL with a tokenizer") }
        let modelURL = URL(fileURLWithPath: model)
        let textURL =
            text.map { URL(fileURLWithPath: $0) } ?? modelURL.deletingLastPathComponent().appendingPathComponent("texts/quotes.txt")
        return (try ExplorerBenchmark.run(model: modelURL, text: textURL), textURL.lastPathComponent)
    }

    private func printExplorer(_ r: ExplorerBenchmark.Result, text: String) {
        print("explorer: \(TerminalSafe.escape(text)), \(r.tokens) tokens, \(r.width)x\(r.height) cells")
        print(String(format: "first frame (load model, tokenize, draw): %.3f s", r.firstFrameSeconds))
        print(String(format: "all results for the first screen, computed in the background: %.1f s", r.computeSeconds))
        print(String(format: "then everything the Summary view adds (every policy at k = 0...L): %.1f s", r.summarySeconds))
        print(String(format: "both again after a restart, from the result cache: %.2f s", r.cachedSeconds))
        print("key to finished redraw (handle key, draw grid, encode for the terminal):")
        for k in r.keys {
            print(
                "  " + k.name.padding(toLength: 26, withPad: " ", startingAt: 0)
                    + String(format: "mean %6.2f ms   p99 %6.2f ms", k.meanMilliseconds, k.p99Milliseconds))
        }
    }
}
