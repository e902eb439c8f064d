import Foundation

/// One FFN module (SwiGLU): `down(silu(gate(x)) * up(x))`; weights in nn.Linear layout [out, in].
public struct FFNWeights: Sendable {
    public let gate: Tensor
    public let up: Tensor
    public let down: Tensor
    public var inner: Int { gate.rows }
}

/// The weights of one transformer layer, with the small FFN beside the big one for Duo models.
public struct LayerWeights: Sendable {
    public let inputNorm: Tensor
    public let q: Tensor
    public let k: Tensor
    public let v: Tensor
    public let o: Tensor
    public let postNorm: Tensor
    public let big: FFNWeights
    public let small: FFNWeights?

    public func ffn(_ route: Route) -> FFNWeights? {
        switch route {
        case .skip: return nil
        case .small: return small
        case .big: return big
        }
    }
}

/// All weights of a model, converted to Float32.
public struct ModelWeights: Sendable {
    public let embedding: Tensor
    public let layers: [LayerWeights]
    public let finalNorm: Tensor
    /// The LM head; the embedding itself when tied.
    public let lmHead: Tensor

    /// HF tensor names and expected shapes for a config.
    public static func expectedShapes(_ c: ModelConfig) -> [(String, [Int])] {
        var list: [(String, [Int])] = [("model.embed_tokens.weight", [c.vocabSize, c.hiddenSize])]
        for i in 0..<c.numLayers {
            let p = "model.layers.\(i)."
            list += [
                (p + "input_layernorm.weight", [c.hiddenSize]),
                (p + "self_attn.q_proj.weight", [c.qWidth, c.hiddenSize]),
                (p + "self_attn.k_proj.weight", [c.kvWidth, c.hiddenSize]),
                (p + "self_attn.v_proj.weight", [c.kvWidth, c.hiddenSize]),
                (p + "self_attn.o_proj.weight", [c.hiddenSize, c.qWidth]),
                (p + "post_attention_layernorm.weight", [c.hiddenSize]),
                (p + "mlp.gate_proj.weight", [c.intermediateSize, c.hiddenSize]),
                (p + "mlp.up_proj.weight", [c.intermediateSize, c.hiddenSize]),
                (p + "mlp.down_proj.weight", [c.hiddenSize, c.intermediateSize]),
            ]
            if let s = c.smallIntermediateSize {
                list += [
                    (p + "mlp_small.gate_proj.weight", [s, c.hiddenSize]),
                    (p + "mlp_small.up_proj.weight", [s, c.hiddenSize]),
                    (p + "mlp_small.down_proj.weight", [c.hiddenSize, s]),
                ]
            }
        }
        list.append(("model.norm.weight", [c.hiddenSize]))
        if !c.tieWordEmbeddings { list.append(("lm_head.weight", [c.vocabSize, c.hiddenSize])) }
        return list
    }

    /// Loads and shape-checks every tensor the config calls for.
    public init(checkpoint: Checkpoint, config c: ModelConfig) throws {
        var tensors: [String: Tensor] = [:]
        for (name, shape) in Self.expectedShapes(c) {
            guard let entry = checkpoint.entry(name) else {
                throw DuoError(file: checkpoint.url, "missing tensor \(name) (config.json calls for it)")
            }
            guard entry.shape == shape else {
                throw DuoError(file: checkpoint.url, "tensor \(name) has shape \(entry.shape) but config.json implies \(shape)")
            }
            tensors[name] = try checkpoint.tensor(name)
        }
        func t(_ name: String) -> Tensor { tensors[name]! }
        func ffn(_ prefix: String) -> FFNWeights {
            FFNWeights(gate: t(prefix + "gate_proj.weight"), up: t(prefix + "up_proj.weight"), down: t(prefix + "down_proj.weight"))
        }
        embedding = t("model.embed_tokens.weight")
        layers = (0..<c.numLayers).map { i in
            let p = "model.layers.\(i)."
            return LayerWeights(
                inputNorm: t(p + "input_layernorm.weight"),
                q: t(p + "self_attn.q_proj.weight"), k: t(p + "self_attn.k_proj.weight"),
                v: t(p + "self_attn.v_proj.weight"), o: t(p + "self_attn.o_proj.weight"),
                postNorm: t(p + "post_attention_layernorm.weight"),
                big: ffn(p + "mlp."), small: c.isDuo ? ffn(p + "mlp_small.") : nil)
        }
        finalNorm = t("model.norm.weight")
        lmHead = c.tieWordEmbeddings ? embedding : t("lm_head.weight")
    }

    /// Every distinct tensor with its HF name, in the order of `expectedShapes` (a tied LM head
    /// appears once, as the embedding).
    public func named(_ c: ModelConfig) -> [(String, Tensor)] {
        var list: [(String, Tensor)] = [("model.embed_tokens.weight", embedding)]
        for (i, l) in layers.enumerated() {
            let p = "model.layers.\(i)."
            list += [(p + "input_layernorm.weight", l.inputNorm), (p + "self_attn.q_proj.weight", l.q),
                     (p + "self_attn.k_proj.weight", l.k), (p + "self_attn.v_proj.weight", l.v),
                     (p + "self_attn.o_proj.weight", l.o), (p + "post_attention_layernorm.weight", l.postNorm),
                     (p + "mlp.gate_proj.weight", l.big.gate), (p + "mlp.up_proj.weight", l.big.up),
                     (p + "mlp.down_proj.weight", l.big.down)]
            if let s = l.small {
                list += [(p + "mlp_small.gate_proj.weight", s.gate), (p + "mlp_small.up_proj.weight", s.up),
                         (p + "mlp_small.down_proj.weight", s.down)]
            }
        }
        list.append(("model.norm.weight", finalNorm))
        if !c.tieWordEmbeddings { list.append(("lm_head.weight", lmHead)) }
        return list
    }

    /// Zero-filled tensors of the same shapes (and the same tying), e.g. for gradients.
    public func zerosLike(_ c: ModelConfig) -> ModelWeights {
        func z(_ t: Tensor) -> Tensor { Tensor(shape: t.shape) }
        func zf(_ f: FFNWeights) -> FFNWeights { FFNWeights(gate: z(f.gate), up: z(f.up), down: z(f.down)) }
        let e = z(embedding)
        return ModelWeights(
            embedding: e,
            layers: layers.map { l in
                LayerWeights(inputNorm: z(l.inputNorm), q: z(l.q), k: z(l.k), v: z(l.v), o: z(l.o), postNorm: z(l.postNorm),
                             big: zf(l.big), small: l.small.map(zf))
            },
            finalNorm: z(finalNorm), lmHead: c.tieWordEmbeddings ? e : z(lmHead))
    }

    public init(embedding: Tensor, layers: [LayerWeights], finalNorm: Tensor, lmHead: Tensor) {
        self.embedding = embedding
        self.layers = layers
        self.finalNorm = finalNorm
        self.lmHead = lmHead
    }
}
