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
    /// Biases of the q, k and v projections (Qwen2); nil when the family has none.
    public let qkvBias: QKVBias?
    public let postNorm: Tensor
    public let big: FFNWeights
    public let small: FFNWeights?

    public init(
        inputNorm: Tensor, q: Tensor, k: Tensor, v: Tensor, o: Tensor, qkvBias: QKVBias? = nil,
        postNorm: Tensor, big: FFNWeights, small: FFNWeights?
    ) {
        self.inputNorm = inputNorm
        self.q = q
        self.k = k
        self.v = v
        self.o = o
        self.qkvBias = qkvBias
        self.postNorm = postNorm
        self.big = big
        self.small = small
    }

    public func ffn(_ route: Route) -> FFNWeights? {
        switch route {
        case .skip: return nil
        case .small: return small
        case .big: return big
        }
    }
}

/// The biases of the q, k and v projections, [qWidth], [kvWidth], [kvWidth].
public struct QKVBias: Sendable {
    public let q: Tensor
    public let k: Tensor
    public let v: Tensor

    public init(q: Tensor, k: Tensor, v: Tensor) {
        self.q = q
        self.k = k
        self.v = v
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
            ]
            if c.family.hasQKVBias {
                list += [
                    (p + "self_attn.q_proj.bias", [c.qWidth]),
                    (p + "self_attn.k_proj.bias", [c.kvWidth]),
                    (p + "self_attn.v_proj.bias", [c.kvWidth]),
                ]
            }
            list += [
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

    /// Whether a tensor the config does not call for can be left unread without changing the
    /// model: rotary `inv_freq` buffers, which older transformers saved and recomputes from the config.
    public static func isIgnorable(_ name: String) -> Bool {
        if name == "model.rotary_emb.inv_freq" { return true }
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 6 && parts[0] == "model" && parts[1] == "layers" && Int(parts[2]) != nil
            && parts[3] == "self_attn" && parts[4] == "rotary_emb" && parts[5] == "inv_freq"
    }

    /// Why an unexpected tensor cannot be ignored, in the terms of config.json.
    private static func refusal(_ name: String, _ c: ModelConfig) -> String {
        if name.contains(".mlp_small."), !c.isDuo {
            return "a small-FFN tensor, but config.json has no duo section"
        }
        if name.hasSuffix(".bias") {
            return "a bias that \(c.family.architecture) does not have (attention_bias / mlp_bias are not supported)"
        }
        return "config.json does not call for it and duoscope would ignore it"
    }

    /// Loads and shape-checks every tensor the config calls for, and refuses a checkpoint with any
    /// other tensor (but the ignorable ones): a tensor duoscope would not use means a model it
    /// would run differently from transformers.
    public init(checkpoint: Checkpoint, config c: ModelConfig) throws {
        let shapes = Self.expectedShapes(c)
        let expected = Set(shapes.map(\.0))
        let tiedHead = c.tieWordEmbeddings && checkpoint.entry("lm_head.weight") != nil
        for name in checkpoint.tensorNames where !expected.contains(name) && !Self.isIgnorable(name) {
            if name == "lm_head.weight" && c.tieWordEmbeddings { continue }  // checked against the embedding below
            throw DuoError(
                file: checkpoint.file(of: name) ?? checkpoint.url,
                "unexpected tensor \(name): \(Self.refusal(name, c))")
        }
        var tensors: [String: Tensor] = [:]
        for (name, shape) in shapes {
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
                qkvBias: c.family.hasQKVBias
                    ? QKVBias(q: t(p + "self_attn.q_proj.bias"), k: t(p + "self_attn.k_proj.bias"), v: t(p + "self_attn.v_proj.bias"))
                    : nil,
                postNorm: t(p + "post_attention_layernorm.weight"),
                big: ffn(p + "mlp."), small: c.isDuo ? ffn(p + "mlp_small.") : nil)
        }
        finalNorm = t("model.norm.weight")
        lmHead = c.tieWordEmbeddings ? embedding : t("lm_head.weight")
        if tiedHead {
            // transformers ties the head to the embedding and ignores the stored one; refuse a
            // stored head that differs rather than run a model its own file contradicts.
            let url = checkpoint.file(of: "lm_head.weight") ?? checkpoint.url
            let stored = try checkpoint.tensor("lm_head.weight")
            guard stored.shape == embedding.shape, stored.buffer.elementsEqual(embedding.buffer) else {
                throw DuoError(file: url, "lm_head.weight differs from model.embed_tokens.weight, but config.json sets tie_word_embeddings")
            }
        }
    }

    /// Every distinct tensor with its HF name, in the order of `expectedShapes` (a tied LM head
    /// appears once, as the embedding).
    public func named(_ c: ModelConfig) -> [(String, Tensor)] {
        var list: [(String, Tensor)] = [("model.embed_tokens.weight", embedding)]
        for (i, l) in layers.enumerated() {
            let p = "model.layers.\(i)."
            list += [
                (p + "input_layernorm.weight", l.inputNorm), (p + "self_attn.q_proj.weight", l.q),
                (p + "self_attn.k_proj.weight", l.k), (p + "self_attn.v_proj.weight", l.v),
                (p + "self_attn.o_proj.weight", l.o),
            ]
            if let b = l.qkvBias {
                list += [(p + "self_attn.q_proj.bias", b.q), (p + "self_attn.k_proj.bias", b.k), (p + "self_attn.v_proj.bias", b.v)]
            }
            list += [
                (p + "post_attention_layernorm.weight", l.postNorm),
                (p + "mlp.gate_proj.weight", l.big.gate), (p + "mlp.up_proj.weight", l.big.up),
                (p + "mlp.down_proj.weight", l.big.down),
            ]
            if let s = l.small {
                list += [
                    (p + "mlp_small.gate_proj.weight", s.gate), (p + "mlp_small.up_proj.weight", s.up),
                    (p + "mlp_small.down_proj.weight", s.down),
                ]
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
                LayerWeights(
                    inputNorm: z(l.inputNorm), q: z(l.q), k: z(l.k), v: z(l.v), o: z(l.o),
                    qkvBias: l.qkvBias.map { QKVBias(q: z($0.q), k: z($0.k), v: z($0.v)) }, postNorm: z(l.postNorm),
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
