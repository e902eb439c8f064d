import ArgumentParser
import DuoEngine
import DuoTraining
import Foundation

/// `duoscope bench [MODEL]`: sgemm peak, prefill and decode throughput.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure prefill and decode throughput beside the machine's sgemm peak.",
        discussion: "Without MODEL, a randomly initialised model of the sample model's shape is used (12 layers, hidden 192, 6 heads, 2 key/value heads, big FFN 768, small 48, vocab 4096, context 256, tied LM head).")

    @Argument(help: "Model directory (optional).")
    var model: String?

    @Option(help: "Minimum seconds per measurement.")
    var seconds = 1.0

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    @Option(name: .customLong("train-batch"), help: "Sequences per step when timing full training steps.")
    var trainBatch = 8

    enum Part: String, CaseIterable, ExpressibleByArgument { case prefill, decode, oracle, train }

    @Option(help: "Measure only these parts (repeatable): prefill, decode, oracle, train. The sgemm peak is always measured.")
    var only: [Part] = []

    static let sampleShape = ModelConfig(vocabSize: 4096, hiddenSize: 192, intermediateSize: 768, smallIntermediateSize: 48,
                                         numLayers: 12, numHeads: 6, numKVHeads: 2, maxPositions: 256, tieWordEmbeddings: true)

    func run() throws {
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
        let policies: [RoutingPolicy] = c.isDuo
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
        if json {
            print(try JSONOutput.string(figures), terminator: "")
            return
        }
        print("model: \(model ?? "random weights, sample-model shape")  layers \(c.numLayers)  hidden \(c.hiddenSize)  context \(n)")
        print("BLAS threads: \(ProcessInfo.processInfo.environment["OPENBLAS_NUM_THREADS"] ?? "default")  cores: \(ProcessInfo.processInfo.activeProcessorCount)")
        print("")
        func pad(_ s: String, _ w: Int) -> String { s + String(repeating: " ", count: max(0, w - s.count)) }
        print(pad("measurement", 56) + pad("tokens/s", 12) + pad("GFLOP/s", 10) + "of sgemm peak")
        for f in figures {
            let rate = f.tokensPerSecond.map { String(format: $0 < 100 ? "%.2f" : "%.0f", $0) } ?? "-"
            print(pad(f.name, 56) + pad(rate, 12) + pad(String(format: "%.1f", f.gflops), 10) + String(format: "%.0f%%", 100 * f.gflops / peak))
        }
    }
}
