/// The architecture families duoscope runs (config.json `model_type`). They share the Llama
/// block; what differs is spelled out here and nowhere else.
public enum ModelFamily: String, Sendable, Equatable, Codable, CaseIterable {
    /// `LlamaForCausalLM`: the Llama block (Duo models are Llama models with a small FFN beside the big one).
    case llama
    /// `MistralForCausalLM`: Llama with sliding-window attention on every layer (`sliding_window`).
    case mistral
    /// `Qwen2ForCausalLM`: Llama with biases on the q, k and v projections, and optional
    /// sliding-window attention on the layers `layer_types` marks.
    case qwen2

    /// The `architectures` entry transformers writes for the causal LM of this family.
    public var architecture: String {
        switch self {
        case .llama: return "LlamaForCausalLM"
        case .mistral: return "MistralForCausalLM"
        case .qwen2: return "Qwen2ForCausalLM"
        }
    }

    /// Whether the q, k and v projections carry a bias.
    public var hasQKVBias: Bool { self == .qwen2 }
}
