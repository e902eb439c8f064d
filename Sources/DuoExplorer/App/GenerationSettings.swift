import DuoEngine
import Foundation

/// How `g` continues the text: up to `length` tokens, greedy (temperature 0) or sampled from the
/// softmax of logits / temperature with a seeded generator, so a continuation can be repeated.
public struct GenerationSettings: Codable, Equatable, Sendable {
    public var length = 32
    public var temperature = 0.0
    public var seed: UInt64 = 0

    public init(length: Int = 32, temperature: Double = 0, seed: UInt64 = 0) {
        self.length = length
        self.temperature = temperature
        self.seed = seed
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        length = try c.decodeIfPresent(Int.self, forKey: .length) ?? 32
        temperature = try c.decodeIfPresent(Double.self, forKey: .temperature) ?? 0
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? 0
    }

    /// "greedy" or "T=0.8, seed 0".
    public var sampling: String { temperature == 0 ? "greedy" : "T=\(temperature), seed \(seed)" }

    /// The token to continue with after `logits` (one row of `count` values): the most likely
    /// (ties to the lower id) at temperature 0, else a draw from softmax(logits / temperature).
    func choose(_ logits: UnsafePointer<Float>, count: Int, using rng: inout SplitMix64) -> Int {
        var best = 0
        for i in 1..<count where logits[i] > logits[best] { best = i }
        guard temperature > 0 else { return best }
        let scale = 1 / temperature
        let top = Double(logits[best])
        var weights = [Double](repeating: 0, count: count)
        var total = 0.0
        for i in 0..<count {
            weights[i] = Foundation.exp((Double(logits[i]) - top) * scale)
            total += weights[i]
        }
        var u = rng.nextUnit() * total
        for i in 0..<count {
            u -= weights[i]
            if u < 0 { return i }
        }
        return best
    }
}
