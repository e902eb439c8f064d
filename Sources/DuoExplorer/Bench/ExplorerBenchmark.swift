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
        /// Time to compute everything the Routes view shows (oracle, router, baselines), for scale.
        public var computeSeconds: Double
        public var width: Int
        public var height: Int
        public var tokens: Int
        public var keys: [Latency]
    }

    public static func run(model modelURL: URL, text textURL: URL, width: Int = 160, height: Int = 48, repetitions: Int = 200,
                           randomTrials: Int = 100) throws -> Result {
        let start = Date()
        let explorer = try Explorer.open(modelDirectory: modelURL, textFiles: [textURL], randomTrials: randomTrials)
        _ = ANSIRenderer.render(explorer.frame(width: width, height: height, color: true), depth: .palette256)
        let firstFrame = Date().timeIntervalSince(start)

        let computeStart = Date()
        explorer.computeSynchronously()
        let compute = Date().timeIntervalSince(computeStart)

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
            keys.append(Latency(name: name, meanMilliseconds: samples.reduce(0, +) / Double(samples.count),
                                p99Milliseconds: samples[min(samples.count - 1, Int(Double(samples.count) * 0.99))], samples: samples.count))
        }
        explorer.stop()
        return Result(firstFrameSeconds: firstFrame, computeSeconds: compute, width: width, height: height, tokens: explorer.document.count, keys: keys)
    }
}
