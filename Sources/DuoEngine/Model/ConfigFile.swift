import Foundation

/// Reads and writes `config.json`: the keys HF transformers writes for Llama, Mistral and Qwen2
/// causal LMs, in both the transformers 4 layout (`rope_theta`, `rope_scaling`) and the
/// transformers 5 one (`rope_parameters`), plus duoscope's optional `duo` object. A key that
/// would change the maths in a way duoscope does not implement is refused, naming the key.
public enum ConfigFile {
    public static func read(_ url: URL) throws -> ModelConfig {
        let data = try InputFile.contents(url, limit: 1 << 24)
        guard let object = ExactJSON.parseOrNil(data)?.object else {
            throw DuoError(file: url, "not valid JSON (expected an object)")
        }
        return try parse(object, source: url.path)
    }

    static func parse(_ object: ExactJSONObject, source: String) throws -> ModelConfig {
        let keys = ConfigKeys(object: object, source: source)
        let family = try keys.family()
        try keys.refuseUnsupported(family)
        let heads = try keys.int("num_attention_heads")
        let layers = try keys.int("num_hidden_layers")
        // Checked before anything is built per layer (the sliding-window layers below).
        guard (1...(1 << 10)).contains(layers) else {
            throw DuoError(
                layers <= 0
                    ? "num_hidden_layers must be positive, got \(layers)"
                    : "num_hidden_layers \(layers) is implausibly large (the limit is \(1 << 10))", file: source)
        }
        let maxPositions = try keys.int("max_position_embeddings")
        let (theta, scaling) = try keys.rope(maxPositions: maxPositions)
        let (window, windowLayers) = try keys.slidingWindow(family, layers: layers)
        let (small, probabilities) = try keys.duo()
        let config = ModelConfig(
            vocabSize: try keys.int("vocab_size"),
            hiddenSize: try keys.int("hidden_size"),
            intermediateSize: try keys.int("intermediate_size"),
            smallIntermediateSize: small,
            numLayers: layers,
            numHeads: heads,
            numKVHeads: try keys.int("num_key_value_heads", default: heads),
            headDim: keys.present("head_dim") == nil ? nil : try keys.int("head_dim"),
            maxPositions: maxPositions,
            rmsNormEps: Float(try keys.double("rms_norm_eps", default: 1e-6)),
            ropeTheta: Float(theta),
            ropeScaling: scaling,
            tieWordEmbeddings: try keys.bool("tie_word_embeddings", default: false),
            trainRouteProbabilities: probabilities,
            family: family,
            slidingWindow: window,
            slidingWindowLayers: windowLayers)
        try config.validate(source: source)
        return config
    }

    /// The JSON object for `config.json`, loadable by HF transformers 4 and 5 as the family's causal LM:
    /// RoPE is written in both layouts (they agree, so each version reads the same model).
    public static func jsonObject(_ config: ModelConfig, dtype: DType = .f32) -> [String: Any] {
        // Through the shortest decimal form, so 1e-5 is written as 1e-05, not 9.99999974e-06.
        let theta = Double("\(config.ropeTheta)")!
        var rope: [String: Any] = ["rope_type": config.ropeScaling.typeName]
        switch config.ropeScaling {
        case .none: break
        case .linear(let factor): rope["factor"] = factor
        case .llama3(let factor, let low, let high, let original):
            rope.merge([
                "factor": factor, "low_freq_factor": low, "high_freq_factor": high,
                "original_max_position_embeddings": original,
            ]) { a, _ in a }
        }
        var object: [String: Any] = [
            "architectures": [config.family.architecture], "model_type": config.family.rawValue,
            "vocab_size": config.vocabSize, "hidden_size": config.hiddenSize,
            "intermediate_size": config.intermediateSize, "num_hidden_layers": config.numLayers,
            "num_attention_heads": config.numHeads, "num_key_value_heads": config.numKVHeads,
            "head_dim": config.headDim, "max_position_embeddings": config.maxPositions,
            "rms_norm_eps": Double("\(config.rmsNormEps)")!,
            "rope_theta": theta,
            "rope_parameters": rope.merging(["rope_theta": theta]) { a, _ in a },
            "tie_word_embeddings": config.tieWordEmbeddings, "hidden_act": "silu",
            "torch_dtype": dtype == .f32 ? "float32" : (dtype == .f16 ? "float16" : "bfloat16"),
        ]
        if config.ropeScaling != .none { object["rope_scaling"] = rope }
        switch config.family {
        case .llama:
            object["attention_bias"] = false
            object["mlp_bias"] = false
        case .mistral:
            object["sliding_window"] = config.slidingWindow ?? NSNull()
        case .qwen2:
            object["use_sliding_window"] = config.slidingWindow != nil
            object["sliding_window"] = config.slidingWindow ?? NSNull()
            let windowed = (0..<config.numLayers).map { config.attentionWindow(layer: $0) != nil }
            object["layer_types"] = windowed.map { $0 ? "sliding_attention" : "full_attention" }
            // transformers 4 knows only max_window_layers: the window on every layer from it on.
            let first = windowed.firstIndex(of: true) ?? config.numLayers
            if windowed[first...].allSatisfy({ $0 }) { object["max_window_layers"] = first }
        }
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

/// Typed access to the members of config.json, each problem a one-line error naming the file and key.
private struct ConfigKeys {
    let object: ExactJSONObject
    let source: String

    func fail(_ problem: String) -> DuoError { DuoError(problem, file: source) }

    func present(_ key: String, in dict: ExactJSONObject? = nil) -> ExactJSON? {
        let value = (dict ?? object)[key]
        return value?.isNull == true ? nil : value
    }

    func int(_ key: String, in dict: ExactJSONObject? = nil, default fallback: Int? = nil, prefix: String = "") throws -> Int {
        guard let value = present(key, in: dict) else {
            if let fallback { return fallback }
            throw fail("missing key \(prefix)\(key)")
        }
        guard let number = value.int, abs(number) < 1 << 40 else { throw fail("\(prefix)\(key) is not an integer") }
        return number
    }

    func double(_ key: String, in dict: ExactJSONObject? = nil, default fallback: Double, prefix: String = "") throws -> Double {
        guard let value = present(key, in: dict) else { return fallback }
        guard let number = value.double, number.isFinite else { throw fail("\(prefix)\(key) is not a number") }
        return number
    }

    func bool(_ key: String, default fallback: Bool) throws -> Bool {
        guard let value = present(key) else { return fallback }
        guard let flag = value.bool else { throw fail("\(key) is not a boolean") }
        return flag
    }

    func string(_ key: String, in dict: ExactJSONObject? = nil, prefix: String = "") throws -> String? {
        guard let value = present(key, in: dict) else { return nil }
        guard let text = value.string else { throw fail("\(prefix)\(key) is not a string") }
        return text
    }

    /// The family `model_type` names (`architectures`, when present, must agree); a config with
    /// neither is a Llama one.
    func family() throws -> ModelFamily {
        let supported = ModelFamily.allCases.map(\.rawValue).joined(separator: ", ")
        var architectures: [String]?
        if let value = present("architectures") {
            guard let list = value.array?.compactMap(\.string), list.count == value.array?.count else {
                throw fail("architectures is not a list of strings")
            }
            architectures = list
        }
        let family: ModelFamily
        if let type = try string("model_type") {
            guard let known = ModelFamily(rawValue: type) else {
                throw fail("model_type \"\(TerminalSafe.escape(type))\" is not supported (supported: \(supported))")
            }
            family = known
        } else if let first = architectures?.first {
            guard let known = ModelFamily.allCases.first(where: { $0.architecture == first }) else {
                throw fail(
                    "architectures \"\(TerminalSafe.escape(first))\" is not supported (no model_type; supported: "
                        + ModelFamily.allCases.map(\.architecture).joined(separator: ", ") + ")")
            }
            family = known
        } else {
            family = .llama
        }
        if let other = architectures?.first(where: { $0 != family.architecture }) {
            throw fail(
                "architectures \"\(TerminalSafe.escape(other))\" is not supported for model_type \(family.rawValue) "
                    + "(expected \(family.architecture))")
        }
        return family
    }

    /// Refuses every key whose value changes the maths in a way duoscope does not implement.
    func refuseUnsupported(_ family: ModelFamily) throws {
        if let act = present("hidden_act"), act.string != "silu" {
            throw fail("hidden_act \(act.string.map { "\"\(TerminalSafe.escape($0))\"" } ?? "?") is not supported (only silu)")
        }
        // Qwen2's q/k/v biases come with the family; transformers ignores attention_bias there.
        let biasKeys = family == .qwen2 ? ["mlp_bias"] : ["attention_bias", "mlp_bias"]
        for key in biasKeys where present(key)?.bool == true {
            throw fail("\(key) = true is not supported (projections with biases)")
        }
        if let factor = present("partial_rotary_factor"), factor.double != 1 {
            throw fail("partial_rotary_factor \(factor.double.map { "\($0)" } ?? "?") is not supported (RoPE on the whole head only)")
        }
        if present("quantization_config") != nil {
            throw fail("quantization_config is not supported (quantized checkpoints cannot be run)")
        }
    }

    // MARK: RoPE

    /// theta and scaling from `rope_parameters` (transformers 5) or `rope_theta` + `rope_scaling`
    /// (transformers 4); when both layouts are present they must describe the same RoPE.
    func rope(maxPositions: Int) throws -> (Double, RoPEScaling) {
        let topTheta = try present("rope_theta").map { _ in try double("rope_theta", default: 0) }
        var v5: (Double, RoPEScaling)?
        if let value = present("rope_parameters") {
            guard let dict = value.object else { throw fail("rope_parameters is not an object") }
            v5 = try rope(dict, path: "rope_parameters", theta: topTheta, maxPositions: maxPositions)
            if let topTheta, topTheta != v5!.0 {
                throw fail("rope_theta (\(topTheta)) and rope_parameters.rope_theta (\(v5!.0)) disagree")
            }
        }
        var v4: (Double, RoPEScaling)?
        if let value = present("rope_scaling") {
            guard let dict = value.object else { throw fail("rope_scaling is not an object") }
            v4 = try rope(dict, path: "rope_scaling", theta: topTheta, maxPositions: maxPositions)
        }
        if let v4, let v5, v4.0 != v5.0 || v4.1 != v5.1 {
            throw fail("rope_scaling and rope_parameters describe different RoPE (\(v4.1.typeName) vs \(v5.1.typeName))")
        }
        return v5 ?? v4 ?? (topTheta ?? 10000, .none)
    }

    /// One RoPE dictionary, as transformers' `standardize_rope_params` reads it.
    private func rope(_ dict: ExactJSONObject, path: String, theta fallbackTheta: Double?, maxPositions: Int) throws -> (
        Double, RoPEScaling
    ) {
        let prefix = path + "."
        if dict.keys.contains(where: { dict[$0]?.object != nil }) {
            throw fail("\(path) per layer type is not supported (one RoPE for every layer only)")
        }
        let typeKey = present("rope_type", in: dict) == nil && present("type", in: dict) != nil ? "type" : "rope_type"
        let type = try string(typeKey, in: dict, prefix: prefix) ?? "default"
        let theta = try double("rope_theta", in: dict, default: fallbackTheta ?? 10000, prefix: prefix)
        var known: Set<String> = ["rope_type", "type", "rope_theta", "partial_rotary_factor"]
        let scaling: RoPEScaling
        switch type {
        case "default":
            scaling = .none
        case "linear":
            known.insert("factor")
            scaling = .linear(factor: try required("factor", dict, prefix))
        case "llama3":
            known.formUnion(["factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"])
            let original = try int(
                "original_max_position_embeddings", in: dict,
                default: try int("original_max_position_embeddings", default: maxPositions), prefix: prefix)
            scaling = .llama3(
                factor: try required("factor", dict, prefix), lowFreqFactor: try required("low_freq_factor", dict, prefix),
                highFreqFactor: try required("high_freq_factor", dict, prefix), originalMaxPositions: original)
        default:
            throw fail("\(prefix)\(typeKey) \"\(TerminalSafe.escape(type))\" is not supported (supported: default, linear, llama3)")
        }
        if let factor = present("partial_rotary_factor", in: dict), factor.double != 1 {
            throw fail("\(prefix)partial_rotary_factor is not supported (RoPE on the whole head only)")
        }
        if let extra = dict.keys.first(where: { !known.contains($0) && present($0, in: dict) != nil }) {
            throw fail("\(prefix)\(TerminalSafe.escape(extra)) is not supported for rope_type \(type)")
        }
        return (theta, scaling)
    }

    private func required(_ key: String, _ dict: ExactJSONObject, _ prefix: String) throws -> Double {
        guard present(key, in: dict) != nil else { throw fail("missing key \(prefix)\(key)") }
        return try double(key, in: dict, default: 0, prefix: prefix)
    }

    // MARK: Attention window

    /// The sliding window and the layers it applies to (nil: all), as transformers reads them:
    /// Mistral's `sliding_window` on every layer; Qwen2's only with `use_sliding_window`, on the
    /// layers `layer_types` marks "sliding_attention" (or from `max_window_layers` on). Llama has none.
    func slidingWindow(_ family: ModelFamily, layers: Int) throws -> (Int?, [Int]?) {
        switch family {
        case .llama:
            return (nil, nil)
        case .mistral:
            return (present("sliding_window") == nil ? nil : try int("sliding_window"), nil)
        case .qwen2:
            guard try bool("use_sliding_window", default: false), present("sliding_window") != nil else { return (nil, nil) }
            let window = try int("sliding_window")
            if let value = present("layer_types") {
                guard let types = value.array?.compactMap(\.string), types.count == value.array?.count, types.count == layers else {
                    throw fail("layer_types is not a list of \(layers) strings (one per layer)")
                }
                if let other = types.first(where: { $0 != "full_attention" && $0 != "sliding_attention" }) {
                    throw fail("layer_types entry \"\(TerminalSafe.escape(other))\" is not supported (full_attention, sliding_attention)")
                }
                return (window, types.indices.filter { types[$0] == "sliding_attention" })
            }
            let first = try int("max_window_layers", default: 28)
            return (window, (0..<layers).filter { $0 >= first })
        }
    }

    // MARK: Duo

    func duo() throws -> (Int?, RouteProbabilities?) {
        guard let duoValue = present("duo") else { return (nil, nil) }
        guard let duo = duoValue.object else { throw fail("duo is not an object") }
        let small = try int("small_intermediate_size", in: duo, prefix: "duo.")
        if let routes = present("routes", in: duo) {
            let names = routes.array?.compactMap(\.string) ?? []
            guard names.count == routes.array?.count, Set(names).isSubset(of: ["skip", "small", "big"]) else {
                throw fail("duo.routes must be a list drawn from skip, small, big")
            }
        }
        guard let probs = present("train_route_probabilities", in: duo) else { return (small, nil) }
        guard let dict = probs.object else { throw fail("duo.train_route_probabilities is not an object") }
        let p = "duo.train_route_probabilities."
        return (
            small,
            RouteProbabilities(
                skip: try double("skip", in: dict, default: 0, prefix: p),
                small: try double("small", in: dict, default: 0, prefix: p),
                big: try double("big", in: dict, default: 0, prefix: p))
        )
    }
}
