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

    @Flag(help: "Print JSON instead of a table.")
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

    func run() throws {
        if only == [.explorer] { return try explorerLatency() }
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
        let parts = Set(only.isEmpty ? Part.allCases : only)
        let policies: [RoutingPolicy] =
            c.isDuo
            ? [UniformPolicy(.big), try PolicySpec.parse("random", config: c), UniformPolicy(.small)]
            : [UniformPolicy(.big), try PolicySpec.parse("random", config: c)]
        for policy in policies where parts.contains(.prefill) {
            figures.append(try EngineBenchmark.prefill(model: duo, tokens: n, policy: policy, minimumSeconds: seconds))
        }
        for policy in policies.prefix(2) where parts.contains(.decode) {
            figures.append(try EngineBenchmark.decode(model: duo, tokens: n, policy: policy, minimumSeconds: seconds))
        }
        if parts.contains(.oracle) && c.isDuo && c.numLayers <= 16 {
            figures.append(try EngineBenchmark.oracleTree(model: duo, position: n / 2, minimumSeconds: seconds))
            figures.append(try EngineBenchmark.oracleNaive(model: duo, position: n / 2, minimumSeconds: seconds))
        }
        if parts.contains(.train) && trainBatch > 0 {
            figures.append(TrainingBenchmark.measure(config: c, batch: trainBatch, length: n, minimumSeconds: max(seconds, 3)))
        }
        let blas = BLASCore.info
        if json {
            print(try JSONOutput.string(BenchReport(blas: blas, sgemmPeakGflops: peak, figures: figures)), terminator: "")
            return
        }
        defer {
            if parts.contains(.explorer), model != nil {
                print("")
                try? explorerLatency()
            }
        }
        print(
            "model: \(model.map(TerminalSafe.escape) ?? "random weights, sample-model shape")  layers \(c.numLayers)  "
                + "hidden \(c.hiddenSize)  context \(n)"
        )
        print("BLAS: \(blas.summary)")
        print("BLAS threads: \(Parallel.blasThreads)  cores: \(ProcessInfo.processInfo.activeProcessorCount)")
        if blas.genericFallback {
            print("WARNING: the sgemm peak below is the generic kernels' own, not the machine's: percentages overstate efficiency")
        }
        print("")
        func pad(_ s: String, _ w: Int) -> String { s + String(repeating: " ", count: max(0, w - s.count)) }
        print(pad("measurement", 56) + pad("tokens/s", 12) + pad("GFLOP/s", 10) + "of sgemm peak")
        for f in figures {
            let rate = f.tokensPerSecond.map { String(format: $0 < 100 ? "%.2f" : "%.0f", $0) } ?? "-"
            print(
                pad(f.name, 56) + pad(rate, 12) + pad(String(format: "%.1f", f.gflops), 10)
                    + String(format: "%.0f%%", 100 * f.gflops / peak))
        }
    }

    /// `bench --json`: the BLAS, the sgemm peak the percentages refer to, and every figure, written
    /// by `JSONOutput` (snake_case keys: `sgemm_peak_gflops`, `tokens_per_second`, ...). Schema 1
    /// wrote them in camelCase (`sgemmPeakGFLOPs`, `tokensPerSecond`).
    struct BenchReport: Encodable {
        let schema = "duoscope.bench/2"
        let blas: BLASCore.Info
        let sgemmPeakGflops: Double
        let figures: [EngineBenchmark.Figure]
    }

    /// First-frame time and key-to-redraw latency of the explorer on a model and text.
    func explorerLatency() throws {
        guard let model else { throw DuoError("the explorer benchmark needs a MODEL with a tokenizer") }
        let modelURL = URL(fileURLWithPath: model)
        let textURL =
            text.map { URL(fileURLWithPath: $0) } ?? modelURL.deletingLastPathComponent().appendingPathComponent("texts/quotes.txt")
        let r = try ExplorerBenchmark.run(model: modelURL, text: textURL)
        if json {
            print(try JSONOutput.string(r), terminator: "")
            return
        }
        print("explorer: \(TerminalSafe.escape(textURL.lastPathComponent)), \(r.tokens) tokens, \(r.width)x\(r.height) cells")
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
