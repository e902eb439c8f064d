import DuoEngine
import Foundation

@testable import DuoExplorer

/// A deterministic analysis built without a model (seeded pseudo-random routes and losses),
/// so view snapshots are identical on every machine. Includes a token whose text holds an
/// escape sequence, a tab and a newline.
enum SyntheticAnalysis {
    static let layers = 12
    static let words = [
        "The", " quick", " brown", " fox", " jumps", " over", " the", " lazy", " dog", ".", "\n",
        "\u{1B}[31m", "It", " was", " a", " bright", " cold", " day", " in", " April", ",", " and",
        " the", " clocks", "\t", " were", " striking", " thirteen", ".", "\n",
    ]

    static func document(repeating times: Int = 1) -> ExplorerDocument {
        let raw = Array((0..<times).map { _ in words }.joined())
        return ExplorerDocument(label: "synthetic.txt", ids: Array(0..<raw.count), rawTokenTexts: raw, revision: 0)
    }

    static func snapshot(document doc: ExplorerDocument = document(), k: Int = 4, context: ContextMode = .causal) -> AnalysisSnapshot {
        var a = AnalysisSnapshot(document: doc, modelName: "synthetic-12L", layers: layers)
        let vocabulary = words
        a.vocabulary = { id in vocabulary[id % vocabulary.count] }
        for kind in PolicyKind.allCases {
            for budget in kind.usesBudget ? Array(0...layers) : [k] {
                let key = PolicyKey(kind, k: budget, context: context)
                // Seeded by the policy's name, so a policy added to the catalogue leaves the others' runs alone.
                let name = kind.rawValue.utf8.reduce(UInt64(0)) { $0 &* 31 &+ UInt64($1) }
                a.runs[key] = run(key, tokens: doc.count, seed: name &* 131 &+ UInt64(budget))
            }
        }
        let primary = PolicyKey(.oracle, k: k, context: context)
        var rng = SplitMix64(seed: 99)
        for t in 0..<doc.count - 1 {
            a.flips[FlipKey(policy: primary, token: t)] = (0..<layers).map { _ in a.runs[primary]!.losses[t] + rng.nextUnit() * 2 - 0.5 }
        }
        return a
    }

    /// Routes with exactly k big per token (all-big / all-small uniform), losses that fall
    /// with k, top-5 and lens predictions, and router probabilities for the router.
    static func run(_ key: PolicyKey, tokens n: Int, seed: UInt64) -> PolicyRun {
        var rng = SplitMix64(seed: seed)
        let L = layers
        let rows: [[Route]] = (0..<n).map { _ in
            switch key.kind {
            case .allBig: return Array(repeating: .big, count: L)
            case .allSmall: return Array(repeating: .small, count: L)
            default:
                var pattern = Array(repeating: Route.small, count: L)
                var order = Array(0..<L)
                for i in stride(from: L - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
                for l in order.prefix(key.k) { pattern[l] = .big }
                return pattern
            }
        }
        let bigs = key.kind == .allBig ? L : key.kind == .allSmall ? 0 : key.k
        let bonus = key.kind == .oracle ? 1.2 : 0
        var losses: [Double] = []
        for t in 0..<(n - 1) {
            let wave: Double = 3 * sin(Double(t) * 1.7) * sin(Double(t) * 0.3)
            let saving: Double = Double(bigs) * 0.08 + bonus
            losses.append(max(0.05, 3.5 + wave - saving + rng.nextUnit() * 0.3))
        }
        let top = (0..<n).map { t in (0..<5).map { i in TokenProbability(id: (t + i + 1) % words.count, probability: 0.4 / Double(i + 1)) }
        }
        let lens = (0..<n).map { t in
            (0..<L).map { l in TokenProbability(id: (t + l / 4 + 1) % words.count, probability: 0.05 + 0.03 * Double(l)) }
        }
        let cost = Double(bigs) / Double(L) * 0.9375 + 0.0625
        var result = PolicyRun(
            key: key, routes: RouteMatrix(rows: rows), completed: n, losses: losses, top: top, lens: lens,
            ffnFractions: Array(repeating: cost, count: n), note: "synthetic \(key)")
        if key.kind == .router {
            result.routerRoutes = [.small, .big]
            result.routerProbabilities = rows.map { row in
                row.map { (route: Route) -> [Float] in route == .big ? [0.2, 0.8] : [0.7, 0.3] }
            }
        }
        return result
    }
}
