import DuoEngine
import Foundation

/// Measures what a user feels in the explorer, without a terminal: the time from nothing to
/// the first frame (load the model, tokenize the text, draw), and the time from a key to the
/// finished redraw (handle the key, draw the grid, encode it as terminal output) in every view
/// once all results are in.
public enum ExplorerBenchmark {
    public struct Latency: Sendable, Codable {
        public var name: String
        public var meanMilliseconds: Double
        public var p99Milliseconds: Double
        public var samples: Int
    }

    public struct Result: Sendable, Codable {
        /// Load model + routers + text, build the explorer, draw the first frame.
        public var firstFrameSeconds: Double
        /// Time to compute everything the Routes view shows (oracle, router, baselines), without the cache.
        public var computeSeconds: Double
        /// Then the time to compute what the Summary view adds (every policy at every k), without the cache.
        public var summarySeconds: Double
        /// The same two after a restart, with every result in the cache.
        public var cachedSeconds: Double
        public var width: Int
        public var height: Int
        public var tokens: Int
        public var keys: [Latency]
    }

    /// `cache`: where results persist for the cached measurement (emptied first; a temporary folder by default).
    public static func run(
        model modelURL: URL, text textURL: URL, width: Int = 160, height: Int = 48, repetitions: Int = 200,
        randomTrials: Int = 100, summary: Bool = true
    ) throws -> Result {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("duoscope-bench-cache-\(getpid())")
        try? FileManager.default.removeItem(at: folder)
        defer { try? FileManager.default.removeItem(at: folder) }
        let cache = ResultCache(directory: folder)
        let start = Date()
        let explorer = try Explorer.open(modelDirectory: modelURL, textFiles: [textURL], randomTrials: randomTrials, cache: cache)
        _ = ANSIRenderer.render(explorer.frame(width: width, height: height, color: true), depth: .palette256)
        let firstFrame = Date().timeIntervalSince(start)

        let computeStart = Date()
        explorer.computeSynchronously()
        let compute = Date().timeIntervalSince(computeStart)
        var summarySeconds = 0.0
        var cachedSeconds = 0.0
        if summary {
            let summaryStart = Date()
            _ = explorer.handle(.character("5"))
            explorer.computeSynchronously()
            summarySeconds = Date().timeIntervalSince(summaryStart)
            let again = try Explorer.open(modelDirectory: modelURL, textFiles: [textURL], randomTrials: randomTrials, cache: cache)
            let cachedStart = Date()
            again.computeSynchronously()
            _ = again.handle(.character("5"))
            again.computeSynchronously()
            cachedSeconds = Date().timeIntervalSince(cachedStart)
            again.stop()
            _ = explorer.handle(.character("1"))
        }

        let script: [(String, [KeyPress])] = [
            ("routes: move token", [.character("1"), .right]),
            ("routes: move layer", [.character("1"), .down]),
            ("compare: move token", [.character("2"), .right]),
            ("difficulty: move token", [.character("3"), .right]),
            ("layers: move layer", [.character("4"), .down]),
            ("summary: move layer", [.character("5"), .down]),
            ("switch view", [.tab]),
            ("toggle oracle/router", [.character(" ")]),
        ]
        var keys: [Latency] = []
        for (name, presses) in script {
            var samples: [Double] = []
            for i in 0..<repetitions {
                for press in presses.dropLast() { _ = explorer.handle(press) }
                let t0 = Date()
                _ = explorer.handle(presses.last!)
                _ = ANSIRenderer.render(explorer.frame(width: width, height: height, color: true), depth: .palette256)
                samples.append(Date().timeIntervalSince(t0) * 1000)
                if i % 20 == 19 { _ = explorer.handle(.home) }
            }
            samples.sort()
            keys.append(
                Latency(
                    name: name, meanMilliseconds: samples.reduce(0, +) / Double(samples.count),
                    p99Milliseconds: samples[min(samples.count - 1, Int(Double(samples.count) * 0.99))], samples: samples.count))
        }
        explorer.stop()
        return Result(
            firstFrameSeconds: firstFrame, computeSeconds: compute, summarySeconds: summarySeconds, cachedSeconds: cachedSeconds,
            width: width, height: height, tokens: explorer.document.count, keys: keys)
    }
}
