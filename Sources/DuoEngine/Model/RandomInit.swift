/// Random weights for a config: normal(0, std) matrices and biases, and unit norm gains. Used for
/// benchmarks on a model of any size and as the trainer's initialisation.
public enum RandomInit {
    /// `residualScale` multiplies the std of the projections that write into the residual stream
    /// (o_proj and the FFN down projections), as in GPT-2's 1/sqrt(2 L).
    public static func weights(_ c: ModelConfig, seed: UInt64, std: Float = 0.02, residualScale: Float = 1) -> ModelWeights {
        var rng = SplitMix64(seed: seed)
        func matrix(_ rows: Int, _ columns: Int, scale: Float = 1) -> Tensor {
            let t = Tensor(shape: [rows, columns])
            for i in 0..<t.count { t.data[i] = std * scale * gaussian(&rng) }
            return t
        }
        func vector(_ n: Int) -> Tensor {
            let t = Tensor(shape: [n])
            for i in 0..<n { t.data[i] = std * gaussian(&rng) }
            return t
        }
        func ones(_ n: Int) -> Tensor {
            let t = Tensor(shape: [n])
            t.data.update(repeating: 1, count: n)
            return t
        }
        func ffn(_ inner: Int) -> FFNWeights {
            FFNWeights(
                gate: matrix(inner, c.hiddenSize), up: matrix(inner, c.hiddenSize), down: matrix(c.hiddenSize, inner, scale: residualScale))
        }
        let embedding = matrix(c.vocabSize, c.hiddenSize)
        let layers = (0..<c.numLayers).map { _ in
            LayerWeights(
                inputNorm: ones(c.hiddenSize), q: matrix(c.qWidth, c.hiddenSize), k: matrix(c.kvWidth, c.hiddenSize),
                v: matrix(c.kvWidth, c.hiddenSize), o: matrix(c.hiddenSize, c.qWidth, scale: residualScale),
                qkvBias: c.family.hasQKVBias ? QKVBias(q: vector(c.qWidth), k: vector(c.kvWidth), v: vector(c.kvWidth)) : nil,
                postNorm: ones(c.hiddenSize),
                big: ffn(c.intermediateSize), small: c.smallIntermediateSize.map(ffn))
        }
        return ModelWeights(
            embedding: embedding, layers: layers, finalNorm: ones(c.hiddenSize),
            lmHead: c.tieWordEmbeddings ? embedding : matrix(c.vocabSize, c.hiddenSize))
    }

    /// A standard normal draw (Box-Muller).
    static func gaussian(_ rng: inout SplitMix64) -> Float {
        let u1 = max(rng.nextUnit(), 1e-300)
        let u2 = rng.nextUnit()
        return Float((-2 * _log(u1)).squareRoot() * _cos(2 * Double.pi * u2))
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
@inline(__always) private func _log(_ x: Double) -> Double { log(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { cos(x) }
