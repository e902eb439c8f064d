import DuoEngine
import Foundation
import TestSupport
import XCTest

@testable import DuoExplorer

/// The explorer's computations against the engine, on the tiny fixture model (4 layers).
final class AnalyzerTests: XCTestCase {
    static let modelURL = FixturePaths.url("tiny-model")
    let ids = [1, 17, 42, 99, 5, 230, 64, 7, 300, 12, 150, 77]

    func model() throws -> DuoModel { try DuoModel.load(directory: Self.modelURL) }

    /// A router with fixed pseudo-random weights over small and big.
    func router(for model: DuoModel) -> RouterWeights {
        let r = RouterWeights(routes: [.small, .big], layers: model.config.numLayers, hidden: model.config.hiddenSize, budget: 0.5)
        var rng = SplitMix64(seed: 7)
        for w in r.weights { for i in 0..<(w.rows * w.columns) { w.data[i] = Float(rng.nextUnit() - 0.5) } }
        return r
    }

    func testUniformRunsEqualTheForwardPass() throws {
        let model = try model()
        let analyzer = Analyzer(model: model, routers: [])
        for route in [Route.big, .small] {
            let run = try analyzer.run(PolicyKey(route == .big ? .allBig : .allSmall, k: 0), ids: ids)
            let reference = try SequenceEvaluation.run(model: model, ids: ids, policy: UniformPolicy(route), topK: 5)
            XCTAssertEqual(run.losses.count, ids.count - 1)
            for (a, b) in zip(run.losses, reference.losses) { XCTAssertEqual(a, b, accuracy: 1e-5) }
            XCTAssertEqual(run.top.map { $0.map(\.id) }, reference.top.map { $0.map(\.id) })
            // The logit lens is computed on demand; after the last layer it is the model's own prediction.
            XCTAssertTrue(run.lens.isEmpty)
            let lens = try analyzer.lens(of: run, ids: ids)
            XCTAssertEqual(lens.count, ids.count)
            for t in 0..<ids.count { XCTAssertEqual(lens[t].last?.id, reference.top[t].first?.id) }
            XCTAssertEqual(lens[0].count, model.config.numLayers)
        }
    }

    func testOracleRunMatchesTheEngineAndStreamsPartialResults() throws {
        let model = try model()
        let analyzer = Analyzer(model: model, routers: [])
        for context in [ContextMode.causal, .fixed] {
            var partials: [Int] = []
            let run = try analyzer.run(PolicyKey(.oracle, k: 2, context: context), ids: ids, partial: { partials.append($0.completed) })
            let engineContext: OracleContext = context == .causal ? .causal : .fixed(UniformPolicy(.big))
            let choices = try Oracle.run(model: model, ids: ids, constraint: .exactlyBig(2), context: engineContext)
            XCTAssertEqual(partials, Array(1...(ids.count - 1)))
            XCTAssertEqual((0..<(ids.count - 1)).map { Array(run.routes.row($0)) }, choices.map(\.pattern))
            for (a, b) in zip(run.losses, choices.map(\.loss)) { XCTAssertEqual(a, b, accuracy: 1e-9) }
            XCTAssertTrue(run.isComplete)
            for t in 0..<ids.count { XCTAssertEqual(run.routes.row(t).filter { $0 == .big }.count, 2) }
        }
    }

    func testFixedIsTheBestSinglePatternAndRandomTheBestTrial() throws {
        let model = try model()
        let analyzer = Analyzer(model: model, routers: [], randomTrials: 5)
        let fixed = try analyzer.run(PolicyKey(.fixed, k: 2), ids: ids)
        let patterns = (0..<16).filter { $0.nonzeroBitCount == 2 }.map { FixedPatternSearch.pattern(index: $0, layers: 4) }
        XCTAssertEqual(patterns.count, 6)
        // 1e-6: the analyzer and SequenceEvaluation batch rows differently, and OpenBLAS's kernels
        // round by matrix shape (its SkylakeX small-matrix kernels about 1e-8 apart); the patterns'
        // losses themselves differ by far more.
        for p in patterns {
            let loss = try SequenceEvaluation.run(model: model, ids: ids, policy: PatternPolicy(p), topK: 0).meanLoss
            XCTAssertLessThanOrEqual(fixed.meanLoss, loss + 1e-6)
        }
        let random = try analyzer.run(PolicyKey(.random, k: 2), ids: ids)
        for seed in 0..<5 {
            let policy = RandomPolicy(mode: .exactly(2), seed: UInt64(seed), layers: 4)
            let loss = try SequenceEvaluation.run(model: model, ids: ids, policy: policy, topK: 0).meanLoss
            XCTAssertLessThanOrEqual(random.meanLoss, loss + 1e-6)
        }
    }

    func testRouterRunUsesExactKAndKeepsProbabilities() throws {
        let model = try model()
        let router = router(for: model)
        let analyzer = Analyzer(model: model, routers: [("test", router)])
        let run = try analyzer.run(PolicyKey(.router, k: 1), ids: ids)
        let reference = try RouterExactK.patterns(model: model, router: router, ids: ids, k: 1)
        XCTAssertEqual((0..<ids.count).map { Array(run.routes.row($0)) }, reference)
        let probabilities = try XCTUnwrap(run.routerProbabilities)
        XCTAssertEqual(probabilities.count, ids.count)
        for token in probabilities {
            XCTAssertEqual(token.count, 4)
            for p in token { XCTAssertEqual(Double(p.reduce(0, +)), 1, accuracy: 1e-5) }
        }
        XCTAssertThrowsError(try Analyzer(model: model, routers: []).run(PolicyKey(.router, k: 1), ids: ids))
    }

    /// A flip loss equals scoring the sequence with that one cell changed.
    func testFlipLossesEqualDirectEvaluation() throws {
        let model = try model()
        let analyzer = Analyzer(model: model, routers: [])
        let run = try analyzer.run(PolicyKey(.random, k: 2), ids: ids)
        let t = 5
        let flips = try analyzer.flipLosses(run, ids: ids, token: t)
        XCTAssertEqual(flips.count, 4)
        for layer in 0..<4 {
            var rows = (0..<ids.count).map { Array(run.routes.row($0)) }
            rows[t][layer] = rows[t][layer] == .big ? .small : .big
            let direct = try SequenceEvaluation.run(model: model, ids: ids, policy: MatrixPolicy(RouteMatrix(rows: rows)), topK: 0)
            XCTAssertEqual(flips[layer], direct.losses[t], accuracy: 1e-4)
        }
        XCTAssertEqual(try analyzer.flipLosses(run, ids: ids, token: ids.count - 1), [])
    }

    func testStoppingAndGeneration() throws {
        let model = try model()
        let analyzer = Analyzer(model: model, routers: [])
        XCTAssertThrowsError(try analyzer.run(PolicyKey(.oracle, k: 2), ids: ids, shouldContinue: { false })) {
            XCTAssertTrue($0 is OracleStopped)
        }
        XCTAssertThrowsError(try analyzer.run(PolicyKey(.fixed, k: 2), ids: ids, shouldContinue: { false })) {
            XCTAssertTrue($0 is OracleStopped)
        }

        var generated: [Int] = []
        try analyzer.generate(ids: ids, settings: GenerationSettings(length: 3), policy: UniformPolicy(.big)) { id, routes, p in
            generated.append(id)
            XCTAssertEqual(routes.count, ids.count + generated.count)
            XCTAssertGreaterThan(p, 0)
            return true
        }
        XCTAssertEqual(generated.count, 3)
        // Greedy: the first new token is all-big's top prediction after the text.
        let reference = try SequenceEvaluation.run(model: model, ids: ids, policy: UniformPolicy(.big), topK: 1)
        XCTAssertEqual(generated.first, reference.top.last?.first?.id)
        let full = Array(repeating: 1, count: model.config.maxPositions)
        XCTAssertThrowsError(
            try analyzer.generate(ids: full, settings: GenerationSettings(length: 1), policy: UniformPolicy(.big)) { _, _, _ in true })
    }

    /// Sampling: the same seed gives the same continuation, temperature 0 is greedy, and draws
    /// follow softmax(logits / T) (checked on a small logit vector).
    func testSampledGenerationIsSeededAndFollowsTheSoftmax() throws {
        let analyzer = Analyzer(model: try model(), routers: [])
        func continuation(_ settings: GenerationSettings) throws -> [Int] {
            var out: [Int] = []
            try analyzer.generate(ids: ids, settings: settings, policy: UniformPolicy(.big)) { id, _, _ in
                out.append(id)
                return true
            }
            return out
        }
        let greedy = try continuation(GenerationSettings(length: 6))
        XCTAssertEqual(try continuation(GenerationSettings(length: 6, temperature: 0, seed: 9)), greedy, "T = 0 ignores the seed")
        let hot = try continuation(GenerationSettings(length: 6, temperature: 2, seed: 1))
        XCTAssertEqual(try continuation(GenerationSettings(length: 6, temperature: 2, seed: 1)), hot, "seeded")
        let seeds = try (2..<6).map { try continuation(GenerationSettings(length: 6, temperature: 2, seed: $0)) }
        XCTAssertTrue(seeds.contains { $0 != hot }, "other seeds draw other tokens at T = 2")

        let logits: [Float] = [0, 1, 2, -1]
        let settings = GenerationSettings(temperature: 0.5)
        var rng = SplitMix64(seed: 3)
        var counts = [0, 0, 0, 0]
        let draws = 20_000
        for _ in 0..<draws { counts[logits.withUnsafeBufferPointer { settings.choose($0.baseAddress!, count: 4, using: &rng) }] += 1 }
        let weights = logits.map { Foundation.exp(Double($0) / 0.5) }
        for i in 0..<4 {
            XCTAssertEqual(Double(counts[i]) / Double(draws), weights[i] / weights.reduce(0, +), accuracy: 0.015, "token \(i)")
        }
    }
}

/// Cached runs equal freshly computed ones, and a cache hit skips the computation.
final class AnalyzerCacheTests: XCTestCase {
    func testCachedRunsEqualFreshOnes() throws {
        let model = try DuoModel.load(directory: AnalyzerTests.modelURL)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("duoscope-cache-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: directory) }
        let ids = [1, 17, 42, 99, 5, 230, 64, 7]
        let fresh = Analyzer(model: model, routers: [], randomTrials: 3)
        for key in [
            PolicyKey(.oracle, k: 2), PolicyKey(.oracle, k: 2, context: .fixed), PolicyKey(.fixed, k: 1),
            PolicyKey(.random, k: 3), PolicyKey(.allSmall, k: 0),
        ] {
            let cached = Analyzer(model: model, routers: [], randomTrials: 3, cache: ResultCache(directory: directory))
            let first = try cached.run(key, ids: ids)
            var progressCalls = 0
            let second = try cached.run(key, ids: ids, progress: { _, _ in progressCalls += 1 })
            let reference = try fresh.run(key, ids: ids)
            for run in [first, second] {
                XCTAssertEqual(run.routes, reference.routes, "\(key)")
                XCTAssertEqual(run.losses, reference.losses, "\(key)")
                XCTAssertEqual(run.top, reference.top, "\(key)")
                XCTAssertEqual(run.note, reference.note, "\(key)")
            }
            if key.kind == .oracle || key.kind == .fixed || key.kind == .random {
                XCTAssertEqual(progressCalls, 0, "\(key) came from the cache")
            }
            // Another text, another budget or another trial count is another entry.
            XCTAssertNotEqual(try cached.run(key, ids: Array(ids.dropLast())).routes.tokens, first.routes.tokens)
        }
        let moreTrials = Analyzer(model: model, routers: [], randomTrials: 4, cache: ResultCache(directory: directory))
        XCTAssertNotEqual(
            moreTrials.cacheKey(PolicyKey(.random, k: 3), ids: ids),
            Analyzer(model: model, routers: [], randomTrials: 3).cacheKey(PolicyKey(.random, k: 3), ids: ids))
    }
}

extension AnalyzerTests {
    /// The Summary's sweeps: every k from one search equals each k run on its own, and each k
    /// lands in the cache under the single run's key (and a second sweep comes from it).
    func testSweepsEqualSingleRunsAndFillTheCache() throws {
        let model = try model()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("duoscope-cache-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: directory) }
        let cached = Analyzer(model: model, routers: [], cache: ResultCache(directory: directory))
        let fresh = Analyzer(model: model, routers: [])
        for (kind, context) in [(PolicyKind.oracle, ContextMode.causal), (.oracle, .fixed), (.fixed, .causal)] {
            XCTAssertTrue(kind.sharesSearchAcrossK)
            let sweep = try cached.runEveryK(kind, context: context, ids: ids)
            XCTAssertEqual(sweep.map(\.key.k), Array(0...model.config.numLayers))
            for run in sweep {
                let single = try fresh.run(run.key, ids: ids)
                XCTAssertEqual(run.routes, single.routes, "\(run.key)")
                // The sweep and the single run batch rows differently (the packed product or BLAS,
                // by row count), which rounds about 1e-7 apart per product: same routes, losses to 1e-5.
                for (a, b) in zip(run.losses, single.losses) { XCTAssertEqual(a, b, accuracy: 1e-5, "\(run.key)") }
                var progressCalls = 0
                let again = try cached.run(run.key, ids: ids, progress: { _, _ in progressCalls += 1 })
                XCTAssertEqual(again.losses, run.losses, "\(run.key) comes from the cache")
                XCTAssertEqual(progressCalls, 0)
            }
            var progressCalls = 0
            _ = try cached.runEveryK(kind, context: context, ids: ids, progress: { _, _ in progressCalls += 1 })
            XCTAssertEqual(progressCalls, 0, "a second sweep comes from the cache")
        }
        XCTAssertEqual(ExplorerJob.sweep(.oracle, context: .fixed, layers: 4).keys.count, 5)
        XCTAssertEqual(ExplorerJob.sweep(.oracle, context: .fixed, layers: 4).id, "oracle@0...4:fixed")
        XCTAssertFalse(PolicyKind.random.sharesSearchAcrossK)
    }

    /// After a continuation, the oracle resumes from the shorter text's run: the same result as
    /// from scratch, with only the new positions searched.
    func testOracleResumesFromTheTextBeforeGeneration() throws {
        let analyzer = Analyzer(model: try model(), routers: [])
        for context in [ContextMode.causal, .fixed] {
            let key = PolicyKey(.oracle, k: 2, context: context)
            let before = try analyzer.run(key, ids: Array(ids[0..<7]))
            var searched = 0
            let resumed = try analyzer.run(
                key, ids: ids, progress: { done, _ in searched = max(searched, done) }, earlier: (Array(ids[0..<7]), before))
            let fresh = try analyzer.run(key, ids: ids)
            XCTAssertEqual(resumed.routes, fresh.routes, "\(context)")
            for (a, b) in zip(resumed.losses, fresh.losses) { XCTAssertEqual(a, b, accuracy: 1e-5) }
            XCTAssertEqual(searched, ids.count - 1 - 6, "only the \(ids.count - 7) new positions are searched")
            // An earlier run on another text is not a prefix: ignored, computed from scratch.
            let other = try analyzer.run(key, ids: [5, 6, 7, 8])
            XCTAssertEqual(try analyzer.run(key, ids: ids, earlier: ([5, 6, 7, 8], other)).routes, fresh.routes)
        }
    }
}
