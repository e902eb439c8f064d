import Foundation

/// Reads and writes `config.json` (HF Llama keys plus the optional `duo` object).
public enum ConfigFile {
    public static func read(_ url: URL) throws -> ModelConfig {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw DuoError(file: url, FileManager.default.fileExists(atPath: url.path) ? "cannot read file" : "file not found")
        }
        guard let object = ExactJSON.parseOrNil(data)?.object else {
            throw DuoError(file: url, "not valid JSON (expected an object)")
        }
        return try parse(object, source: url.path)
    }

    static func parse(_ object: ExactJSONObject, source: String) throws -> ModelConfig {
        func fail(_ problem: String) -> DuoError { DuoError(problem, file: source) }
        func present(_ value: ExactJSON?) -> ExactJSON? { value?.isNull == true ? nil : value }
        func int(_ key: String, in dict: ExactJSONObject, default fallback: Int? = nil, prefix: String = "") throws -> Int {
            guard let value = present(dict[key]) else {
                if let fallback { return fallback }
                throw fail("missing key \(prefix)\(key)")
            }
            guard let number = value.int, abs(number) < 1 << 40 else { throw fail("\(prefix)\(key) is not an integer") }
            return number
        }
        func double(_ key: String, in dict: ExactJSONObject, default fallback: Double, prefix: String = "") throws -> Double {
            guard let value = present(dict[key]) else { return fallback }
            guard let number = value.double else { throw fail("\(prefix)\(key) is not a number") }
            return number
        }
        if let act = present(object["hidden_act"]), act.string != "silu" {
            throw fail("hidden_act \(act.string ?? "?") is not supported (only silu)")
        }
        if present(object["rope_scaling"]) != nil { throw fail("rope_scaling is not supported") }
        for key in ["attention_bias", "mlp_bias"] where object[key]?.bool == true {
            throw fail("\(key) = true is not supported")
        }
        let heads = try int("num_attention_heads", in: object)
        var tie = false
        if let value = present(object["tie_word_embeddings"]) {
            guard let flag = value.bool else { throw fail("tie_word_embeddings is not a boolean") }
            tie = flag
        }
        var small: Int?
        var probabilities: RouteProbabilities?
        if let duoValue = present(object["duo"]) {
            guard let duo = duoValue.object else { throw fail("duo is not an object") }
            small = try int("small_intermediate_size", in: duo, prefix: "duo.")
            if let routes = present(duo["routes"]) {
                let names = routes.array?.compactMap(\.string) ?? []
                guard names.count == routes.array?.count, Set(names).isSubset(of: ["skip", "small", "big"]) else {
                    throw fail("duo.routes must be a list drawn from skip, small, big")
                }
            }
            if let probs = present(duo["train_route_probabilities"]) {
                guard let dict = probs.object else { throw fail("duo.train_route_probabilities is not an object") }
                let p = "duo.train_route_probabilities."
                probabilities = RouteProbabilities(skip: try double("skip", in: dict, default: 0, prefix: p),
                                                   small: try double("small", in: dict, default: 0, prefix: p),
                                                   big: try double("big", in: dict, default: 0, prefix: p))
            }
        }
        let config = ModelConfig(
            vocabSize: try int("vocab_size", in: object),
            hiddenSize: try int("hidden_size", in: object),
            intermediateSize: try int("intermediate_size", in: object),
            smallIntermediateSize: small,
            numLayers: try int("num_hidden_layers", in: object),
            numHeads: heads,
            numKVHeads: try int("num_key_value_heads", in: object, default: heads),
            headDim: present(object["head_dim"]) == nil ? nil : try int("head_dim", in: object),
            maxPositions: try int("max_position_embeddings", in: object),
            rmsNormEps: Float(try double("rms_norm_eps", in: object, default: 1e-6)),
            ropeTheta: Float(try double("rope_theta", in: object, default: 10000)),
            tieWordEmbeddings: tie,
            trainRouteProbabilities: probabilities)
        try config.validate(source: source)
        return config
    }

    /// The JSON object for `config.json`, loadable by HF transformers as LlamaForCausalLM.
    public static func jsonObject(_ config: ModelConfig, dtype: DType = .f32) -> [String: Any] {
        var object: [String: Any] = [
            "architectures": ["LlamaForCausalLM"], "model_type": "llama",
            "vocab_size": config.vocabSize, "hidden_size": config.hiddenSize,
            "intermediate_size": config.intermediateSize, "num_hidden_layers": config.numLayers,
            "num_attention_heads": config.numHeads, "num_key_value_heads": config.numKVHeads,
            "head_dim": config.headDim, "max_position_embeddings": config.maxPositions,
            // Through the shortest decimal form, so 1e-5 is written as 1e-05, not 9.99999974e-06.
            "rms_norm_eps": Double("\(config.rmsNormEps)")!, "rope_theta": Double("\(config.ropeTheta)")!,
            "tie_word_embeddings": config.tieWordEmbeddings, "hidden_act": "silu",
            "attention_bias": false, "mlp_bias": false,
            "torch_dtype": dtype == .f32 ? "float32" : (dtype == .f16 ? "float16" : "bfloat16"),
        ]
        if let small = config.smallIntermediateSize {
            var duo: [String: Any] = ["small_intermediate_size": small, "routes": ["skip", "small", "big"]]
            if let p = config.trainRouteProbabilities {
                duo["train_route_probabilities"] = ["skip": p.skip, "small": p.small, "big": p.big]
            }
            object["duo"] = duo
        }
        return object
    }
}
