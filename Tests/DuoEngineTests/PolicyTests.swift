import XCTest

@testable import DuoEngine

final class PolicyTests: XCTestCase {
    private let duo = ModelConfig(
        vocabSize: 10, hiddenSize: 8, intermediateSize: 32, smallIntermediateSize: 2,
        numLayers: 12, numHeads: 2, numKVHeads: 1, maxPositions: 16)
    private var llama: ModelConfig {
        var c = duo
        c.smallIntermediateSize = nil
        return c
    }

    private func patterns(_ spec: String, config: ModelConfig, tokens: Int = 200) throws -> [[Route]] {
        let policy = try PolicySpec.parse(spec, config: config)
        let dummy = [Float](repeating: 0, count: tokens * 8)
        var rows = Array(repeating: [Route](), count: tokens)
        for layer in 0..<config.numLayers {
            let r = dummy.withUnsafeBufferPointer {
                policy.routes(layer: layer, positions: 0..<tokens, ffnInput: $0.baseAddress!, width: 8)
            }
            for t in 0..<tokens { rows[t].append(r[t]) }
        }
        return rows
    }

    func testExactKRandomHasExactlyKBigLayersAndVaries() throws {
        for k in 0...12 {
            let rows = try patterns("random:\(k),7", config: duo)
            XCTAssertTrue(rows.allSatisfy { $0.filter { $0 == .big }.count == k && $0.filter { $0 == .small }.count == 12 - k })
            let distinct = [1, 12, 66, 220, 495, 792, 924, 792, 495, 220, 66, 12, 1][k]
            XCTAssertGreaterThanOrEqual(Set(rows).count, min(distinct, 60), "k=\(k) should vary per token")
        }
        let llamaRows = try patterns("random:3", config: llama)
        XCTAssertTrue(llamaRows.allSatisfy { $0.filter { $0 == .big }.count == 3 && $0.filter { $0 == .skip }.count == 9 })
    }

    func testRandomIsSeededAndBatchIndependent() throws {
        let a = try patterns("random:0.3,42", config: duo)
        let b = try patterns("random:0.3,42", config: duo)
        let c = try patterns("random:0.3,43", config: duo)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, c)
        let policy = try XCTUnwrap(try PolicySpec.parse("random:0.3,42", config: duo) as? RandomPolicy)
        XCTAssertEqual(policy.pattern(position: 57), a[57])
    }

    func testProbabilitiesAreRespected() throws {
        let rows = try patterns("random:skip=0.2,small=0.3,big=0.5,seed=1", config: duo, tokens: 2000).flatMap { $0 }
        let n = Double(rows.count)
        XCTAssertEqual(Double(rows.filter { $0 == .skip }.count) / n, 0.2, accuracy: 0.02)
        XCTAssertEqual(Double(rows.filter { $0 == .small }.count) / n, 0.3, accuracy: 0.02)
        XCTAssertEqual(Double(rows.filter { $0 == .big }.count) / n, 0.5, accuracy: 0.02)
    }

    func testPatternsAndUniformPolicies() throws {
        XCTAssertEqual(
            try patterns("pattern:BBBBSSSSKKKK", config: duo, tokens: 3)[2],
            Array(repeating: Route.big, count: 4) + Array(repeating: .small, count: 4) + Array(repeating: .skip, count: 4))
        XCTAssertEqual(try patterns("small", config: duo, tokens: 2)[1], Array(repeating: .small, count: 12))
        XCTAssertEqual(try PolicySpec.parse("big", config: duo).name, "all-big")
    }

    func testBadSpecsAreClearErrors() {
        for spec in [
            "random:13", "random:-1", "random:1.5", "pattern:BBB", "pattern:BBBBBBBBBBBX", "fast",
            "random:skip=0.5,small=0.2", "random:0.5,seed=x", "random:tiny=1",
        ] {
            XCTAssertThrowsError(try PolicySpec.parse(spec, config: duo), spec) { error in
                XCTAssertTrue("\(error)".hasPrefix("policy \"\(spec)\":"), "\(error)")
            }
        }
        XCTAssertThrowsError(try PolicySpec.parse("small", config: llama))
        XCTAssertThrowsError(try PolicySpec.parse("pattern:SSSSSSSSSSSS", config: llama))
    }

    func testComputeAccounting() {
        let cost = ComputeCost(duo)
        XCTAssertEqual(cost.bigFFN, 6 * 8 * 32)
        XCTAssertEqual(cost.smallFFN, 6 * 8 * 2)
        XCTAssertEqual(cost.ffnFraction(pattern: Array(repeating: Route.big, count: 12)), 1)
        XCTAssertEqual(cost.ffnFraction(pattern: Array(repeating: Route.skip, count: 12)), 0)
        XCTAssertEqual(cost.ffnFraction(pattern: Array(repeating: Route.small, count: 12)), 1.0 / 16, accuracy: 1e-12)
        XCTAssertEqual(cost.ffnFraction(pattern: [.big] + Array(repeating: Route.skip, count: 11)), 1.0 / 12, accuracy: 1e-12)
    }
}
