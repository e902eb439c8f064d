import TestSupport
import XCTest

@testable import DuoEngine

/// The oracle's tree search against brute force: every pattern run separately through the
/// ordinary forward pass.
final class OracleTests: XCTestCase {
    private let ids = [12, 77, 5, 140, 33, 9, 251, 64]

    /// Loss of `pattern` for position `t` when positions before it are routed by `prefix` rows.
    private func bruteForceLoss(_ model: DuoModel, prefix: [[Route]], t: Int, pattern: [Route]) throws -> Double {
        let session = InferenceSession(model: model)
        if t > 0 { _ = try session.forwardHidden(Array(ids[0..<t]), policy: MatrixPolicy(RouteMatrix(rows: prefix))) }
        let logits = try session.forward([ids[t]], policy: PatternPolicy(pattern))
        return Ops.logSumExp(logits.data, count: model.config.vocabSize) - Double(logits.data[ids[t + 1]])
    }

    private func allPatterns(_ routes: [Route], layers: Int) -> [[Route]] {
        (0..<layers).reduce([[]]) { partial, _ in partial.flatMap { p in routes.map { p + [$0] } } }
    }

    func testTreeLeavesEqualBruteForceForEveryConstraint() throws {
        let model = try Fixtures.model("tiny-model")
        let L = model.config.numLayers
        let context = Array(repeating: Array(repeating: Route.big, count: L), count: ids.count)
        let session = InferenceSession(model: model)
        _ = try session.forwardHidden(ids, policy: UniformPolicy(.big))
        let tree = OracleTree(model: model)
        let constraints: [OracleConstraint] = [.anyBigSmall, .exactlyBig(2), .bigOrSkip(skips: 1), .budget(1), .budget(0.3)]
        for t in [0, 3, 6] {
            for constraint in constraints {
                let leaves = tree.search(token: ids[t], target: ids[t + 1], cache: session.cache, contextLength: t, constraint: constraint)
                let expected = allPatterns(constraint.routes, layers: L).filter { pattern in
                    let big = pattern.filter { $0 == .big }.count
                    let skip = pattern.filter { $0 == .skip }.count
                    return constraint.admits(
                        big: big, skip: skip, ffnFLOPs: model.cost.ffn(pattern: pattern), remaining: 0, cost: model.cost)
                }
                XCTAssertEqual(Set(leaves.map(\.pattern)), Set(expected), "\(constraint) at \(t)")
                XCTAssertEqual(leaves.count, expected.count)
                for leaf in leaves {
                    let want = try bruteForceLoss(model, prefix: Array(context[0..<t]), t: t, pattern: leaf.pattern)
                    XCTAssertEqual(leaf.loss, want, accuracy: 1e-4, "\(constraint) \(leaf.pattern) at \(t)")
                }
            }
        }
        // Ternary with a full budget enumerates all 3^L patterns.
        let all = tree.search(token: ids[2], target: ids[3], cache: session.cache, contextLength: 2, constraint: .budget(1))
        XCTAssertEqual(all.count, 81)
    }

    /// The bounded LM head (`Scoring.bestPerBigCount`) on the sample model, whose vocabulary of
    /// 4096 is large enough for the shortlist bound to run: the winners and their losses are
    /// those of scoring every leaf, and most leaves never get the full LM head.
    func testBoundedScoringKeepsTheWinnersOfEveryLeaf() throws {
        let model = try DuoModel.load(
            directory: TestSupport.FixturePaths.repository.appendingPathComponent("sample-models/duo-12L"), requireTokenizer: false)
        let text = (0..<40).map { ($0 * 7919 + 13) % model.config.vocabSize }
        let session = InferenceSession(model: model)
        _ = try session.forwardHidden(text, policy: UniformPolicy(.big))
        let tree = OracleTree(model: model)
        var exact = 0
        var leaves = 0
        for t in [3, 17, 38] {
            for constraint in [OracleConstraint.anyBigSmall, .exactlyBig(4), .bigOrSkip(skips: 6)] {
                let all = tree.search(token: text[t], target: text[t + 1], cache: session.cache, contextLength: t, constraint: constraint)
                let winners = tree.search(
                    token: text[t], target: text[t + 1], cache: session.cache, contextLength: t, constraint: constraint,
                    scoring: .bestPerBigCount)
                exact += tree.leavesScoredExactly
                leaves += tree.leavesScored
                let expected = Dictionary(grouping: all.enumerated(), by: { $0.element.bigCount }).values
                    .map { group in
                        group.min { $0.element.loss < $1.element.loss || ($0.element.loss == $1.element.loss && $0.offset < $1.offset) }!
                    }
                    .sorted { $0.offset < $1.offset }.map(\.element)
                XCTAssertEqual(winners.map(\.pattern), expected.map(\.pattern), "\(constraint) at \(t)")
                for (a, b) in zip(winners, expected) { XCTAssertEqual(a.loss, b.loss, accuracy: 1e-6) }
            }
        }
        XCTAssertLessThan(exact * 2, leaves, "the bound should spare most leaves the full LM head")
    }

    /// The shortlist behind the LM-head bound: the `size` highest of the rows' maxima (ties at
    /// the cut to the lower ids), and a target outside them takes the place of a lowest one.
    func testShortlistHoldsTheHighestLogitsAndTheTarget() {
        var rng = SplitMix64(seed: 5)
        for (vocab, size) in [(50, 10), (300, 256), (64, 63), (4096, 256)] {
            let logits = Tensor(shape: [3, vocab])
            // Whole numbers: many ties, at the cut too.
            for i in 0..<logits.count { logits.data[i] = Float(Int(rng.nextUnit() * 20)) }
            let top = (0..<vocab).map { j in (0..<3).map { logits.row($0)[j] }.max()! }
            let ranked = (0..<vocab).sorted { top[$0] > top[$1] || (top[$0] == top[$1] && $0 < $1) }
            let expected = Array(ranked.prefix(size)).sorted()
            XCTAssertEqual(OracleTree.shortlist(logits, size: size, including: expected[0]), expected, "\(vocab)")
            let outside = ranked[size]
            let with = OracleTree.shortlist(logits, size: size, including: outside)
            XCTAssertEqual(with.count, size)
            XCTAssertTrue(with.contains(outside))
            let dropped = Set(expected).subtracting(with)
            XCTAssertEqual(dropped.count, 1)
            XCTAssertEqual(top[dropped.first!], top[ranked[size - 1]])
        }
    }

    func testConstraintsAreRespected() throws {
        let model = try Fixtures.model("tiny-model")
        for k in 0...4 {
            for choice in try Oracle.run(model: model, ids: ids, constraint: .exactlyBig(k), context: .causal) {
                XCTAssertEqual(choice.pattern.filter { $0 == .big }.count, k)
                XCTAssertFalse(choice.pattern.contains(.skip))
            }
        }
        for choice in try Oracle.run(model: model, ids: ids, constraint: .bigOrSkip(skips: 3), context: .fixed(UniformPolicy(.big))) {
            XCTAssertEqual(choice.pattern.filter { $0 == .skip }.count, 3)
            XCTAssertFalse(choice.pattern.contains(.small))
        }
        for choice in try Oracle.run(model: model, ids: ids, constraint: .budget(0.4), context: .causal) {
            XCTAssertLessThanOrEqual(model.cost.ffnFraction(pattern: choice.pattern), 0.4 + 1e-12)
        }
    }

    func testCausalModeEqualsTheOrdinaryForwardPassOfTheChosenRoutes() throws {
        let model = try Fixtures.model("tiny-model")
        let choices = try Oracle.run(model: model, ids: ids, constraint: .exactlyBig(2), context: .causal)
        var rows = choices.map(\.pattern)
        rows.append(Array(repeating: .small, count: model.config.numLayers))
        let evaluation = try SequenceEvaluation.run(model: model, ids: ids, policy: MatrixPolicy(RouteMatrix(rows: rows)))
        for (choice, loss) in zip(choices, evaluation.losses) {
            XCTAssertEqual(choice.loss, loss, accuracy: 1e-4)
        }
        // And each choice is the best of its own tree: no other admissible pattern does better.
        for t in [1, 4] {
            for pattern in allPatterns([.small, .big], layers: 4) where pattern.filter({ $0 == .big }).count == 2 {
                let loss = try bruteForceLoss(model, prefix: Array(rows[0..<t]), t: t, pattern: pattern)
                XCTAssertGreaterThanOrEqual(loss, choices[t].loss - 1e-4)
            }
        }
    }

    /// The keys and values `tree`'s last search (at position t of `text`, over an all-big context)
    /// appends for `leaf` are those of the token's forward pass under the leaf's pattern.
    private func assertKeysAndValuesOfLeaf(
        _ leaf: OracleTree.Leaf, of tree: OracleTree, equalTheForwardPassAt t: Int, of text: [Int], model: DuoModel,
        accuracy: Float
    ) throws {
        let c = model.config
        let fromTree = InferenceSession(model: model)
        _ = try fromTree.forwardHidden(Array(text[0..<t]), policy: UniformPolicy(.big))
        tree.appendKeysAndValues(of: leaf.pattern, to: fromTree.cache)
        let forward = InferenceSession(model: model)
        _ = try forward.forwardHidden(Array(text[0..<t]), policy: UniformPolicy(.big))
        _ = try forward.forwardHidden([text[t]], policy: PatternPolicy(leaf.pattern))
        XCTAssertEqual(fromTree.position, t + 1)
        for l in 0..<c.numLayers {
            for (a, b) in [(fromTree.cache.keys[l], forward.cache.keys[l]), (fromTree.cache.values[l], forward.cache.values[l])] {
                for i in 0..<c.kvWidth { XCTAssertEqual(a.row(t)[i], b.row(t)[i], accuracy: accuracy, "layer \(l) \(i)") }
            }
        }
    }

    /// The keys and values a search leaves for a leaf are those of the token's forward pass under
    /// that leaf's pattern, for subtrees grown side by side and for a beam (one tree).
    func testKeysAndValuesOfALeafEqualTheForwardPassOfItsPattern() throws {
        let model = try Fixtures.model("tiny-model")
        let t = 3
        let context = InferenceSession(model: model)
        _ = try context.forwardHidden(Array(ids[0..<t]), policy: UniformPolicy(.big))
        let tree = OracleTree(model: model)
        for beamWidth in [nil, 3] {
            let leaves = tree.search(
                token: ids[t], target: ids[t + 1], cache: context.cache, contextLength: t, constraint: .anyBigSmall,
                beamWidth: beamWidth)
            for leaf in [leaves.first!, leaves[leaves.count / 2], leaves.last!] {
                try assertKeysAndValuesOfLeaf(leaf, of: tree, equalTheForwardPassAt: t, of: ids, model: model, accuracy: 1e-5)
            }
        }
    }

    /// On the sample model's twelve layers the tree is grown as one tree at the top and dealt to
    /// the cores below: its leaves are those of one tree grown whole on one core (inside a job),
    /// in the same tree order (which breaks ties), and a leaf's keys and values, taken from the
    /// share that grew it, are those of the token's forward pass under its pattern.
    func testTreeDealtToTheCoresEqualsOneTreeGrownWhole() throws {
        let model = try DuoModel.load(
            directory: TestSupport.FixturePaths.repository.appendingPathComponent("sample-models/duo-12L"), requireTokenizer: false)
        let c = model.config
        let text = (0..<12).map { ($0 * 7919 + 13) % c.vocabSize }
        let t = 9
        let context = InferenceSession(model: model)
        _ = try context.forwardHidden(Array(text[0..<t]), policy: UniformPolicy(.big))
        let tree = OracleTree(model: model)
        for constraint in [OracleConstraint.exactlyBig(4), .bigOrSkip(skips: 5)] {
            let dealt = tree.search(token: text[t], target: text[t + 1], cache: context.cache, contextLength: t, constraint: constraint)
            var whole: [OracleTree.Leaf] = []
            Parallel.forEachJob(2) { job in
                guard job == 0 else { return }
                whole = OracleTree(model: model).search(
                    token: text[t], target: text[t + 1], cache: context.cache, contextLength: t, constraint: constraint)
            }
            XCTAssertEqual(dealt.map(\.pattern), whole.map(\.pattern), "\(constraint)")
            for (a, b) in zip(dealt, whole) { XCTAssertEqual(a.loss, b.loss, accuracy: 1e-5) }
            for leaf in [dealt.first!, dealt[dealt.count / 3], dealt.last!] {
                try assertKeysAndValuesOfLeaf(leaf, of: tree, equalTheForwardPassAt: t, of: text, model: model, accuracy: 1e-4)
            }
        }
    }

    func testEveryKMatchesSeparateRunsAndFixedContextSharesOneTree() throws {
        let model = try Fixtures.model("tiny-model")
        let fixed = OracleContext.fixed(UniformPolicy(.big))
        let all = try Oracle.everyK(model: model, ids: ids, context: fixed)
        XCTAssertEqual(all.count, 5)
        for k in 0...4 {
            let single = try Oracle.run(model: model, ids: ids, constraint: .exactlyBig(k), context: fixed)
            XCTAssertEqual(all[k].map(\.pattern), single.map(\.pattern))
            for (a, b) in zip(all[k], single) { XCTAssertEqual(a.loss, b.loss, accuracy: 1e-5) }
        }
        let causal = try Oracle.everyK(model: model, ids: ids, context: .causal)
        let causal3 = try Oracle.run(model: model, ids: ids, constraint: .exactlyBig(3), context: .causal)
        XCTAssertEqual(causal[3].map(\.pattern), causal3.map(\.pattern))
    }

    func testBeamSearchIsBoundedByExhaustiveSearch() throws {
        let model = try Fixtures.model("tiny-model")
        let session = InferenceSession(model: model)
        _ = try session.forwardHidden(ids, policy: UniformPolicy(.big))
        let tree = OracleTree(model: model)
        for t in [1, 5] {
            let all = tree.search(token: ids[t], target: ids[t + 1], cache: session.cache, contextLength: t, constraint: .budget(0.5))
            let best = all.map(\.loss).min()!
            let wide = tree.search(
                token: ids[t], target: ids[t + 1], cache: session.cache, contextLength: t, constraint: .budget(0.5), beamWidth: 1000)
            XCTAssertEqual(Set(wide.map(\.pattern)), Set(all.map(\.pattern)), "a beam wider than the tree is exhaustive")
            for width in [1, 2, 5] {
                let beam = tree.search(
                    token: ids[t], target: ids[t + 1], cache: session.cache, contextLength: t, constraint: .budget(0.5), beamWidth: width)
                XCTAssertLessThanOrEqual(beam.count, width * 3)
                XCTAssertGreaterThanOrEqual(beam.map(\.loss).min()!, best - 1e-5)
                XCTAssertTrue(beam.allSatisfy { model.cost.ffnFraction(pattern: $0.pattern) <= 0.5 + 1e-12 })
                let byPattern = Dictionary(uniqueKeysWithValues: all.map { ($0.pattern, $0.loss) })
                for leaf in beam { XCTAssertEqual(leaf.loss, byPattern[leaf.pattern]!, accuracy: 1e-5) }
            }
        }
        let rows = try BeamQuality.measure(model: model, ids: Array(ids.prefix(5)), constraint: .budget(0.5), widths: [2, 1000])
        XCTAssertEqual(rows.map(\.beamWidth), [nil, 2, 1000])
        XCTAssertEqual(rows[2].foundOptimum, 1)
        XCTAssertEqual(rows[2].maxGap, 0, accuracy: 1e-5)
    }

    func testBadConstraintsAreErrors() throws {
        let model = try Fixtures.model("tiny-model")
        XCTAssertThrowsError(try Oracle.run(model: model, ids: ids, constraint: .exactlyBig(5), context: .causal)) {
            XCTAssertTrue("\($0)".contains("outside 0...4"), "\($0)")
        }
        XCTAssertThrowsError(try Oracle.run(model: model, ids: ids, constraint: .budget(1.5), context: .causal))
        XCTAssertThrowsError(try Oracle.run(model: model, ids: ids, constraint: .bigOrSkip(skips: -1), context: .causal))
        let llama = try Fixtures.model("tiny-model-bf16-llama")
        XCTAssertThrowsError(try Oracle.run(model: llama, ids: ids, constraint: .exactlyBig(1), context: .causal))
        XCTAssertNoThrow(try Oracle.run(model: llama, ids: ids, constraint: .bigOrSkip(skips: 2), context: .causal))
    }

    /// A text that grew: the choices for its old positions are kept and only the new ones are
    /// searched, giving exactly what a search of the whole text gives.
    func testResumingFromAPrefixEqualsTheWholeSearch() throws {
        let model = try Fixtures.model()
        for context in [OracleContext.causal, .fixed(UniformPolicy(.big))] {
            let whole = try Oracle.run(model: model, ids: ids, constraint: .exactlyBig(2), context: context)
            let short = try Oracle.run(model: model, ids: Array(ids[0..<5]), constraint: .exactlyBig(2), context: context)
            XCTAssertEqual(short, Array(whole[0..<4]), "a token's choice does not depend on later tokens (\(context.name))")
            var searched: [Int] = []
            var reports: [(Int, Int)] = []
            let resumed = try Oracle.run(
                model: model, ids: ids, constraint: .exactlyBig(2), context: context, prefix: short,
                progress: { reports.append(($0, $1)) },
                onChoice: { choice in
                    searched.append(choice.position)
                    return true
                })
            XCTAssertEqual(resumed.map(\.pattern), whole.map(\.pattern), context.name)
            for (a, b) in zip(resumed, whole) { XCTAssertEqual(a.loss, b.loss, accuracy: 1e-5, context.name) }
            XCTAssertEqual(searched, Array(4..<(ids.count - 1)), "only the new positions are searched")
            XCTAssertEqual(reports.last.map { [$0.0, $0.1] }, [3, 3])
        }
        let wrong = try Oracle.run(model: model, ids: [1, 2, 3], constraint: .exactlyBig(1), context: .causal)
        XCTAssertThrowsError(try Oracle.run(model: model, ids: ids, constraint: .exactlyBig(1), context: .causal, prefix: wrong))
    }
}
