/// The `llama` family: Llama 2 and 3.x, SmolLM2, Mistral-style grouped-query attention.
///
/// Block (shared with qwen2, see `TransformerTextModel+Block.swift`):
///
///     n  = rmsnorm(x) · attn_norm
///     x += Wo · attention(rope(Wq·n), rope(Wk·n), Wv·n)
///     h  = rmsnorm(x) · ffn_norm
///     x += Wdown · (silu(Wgate·h) ⊙ Wup·h)
///
/// What is particular to llama:
/// - rope rotates adjacent pairs (x[2i], x[2i+1]) — the GGUF converter permuted the rows of
///   Wq and Wk so that this matches the Hugging Face "rotate half" layout;
/// - Llama 3.x files may carry `rope_freqs.weight` (`ropeDimensionCount / 2` floats) whose
///   entries divide each pair's rotation frequency (Llama 3's long-context frequency scaling);
/// - q/k/v biases are not expected, but are used when present.
enum LlamaFamily {
    static let ropeStyle = RopeStyle.adjacentPairs
    static let requiresAttentionBiases = false
    static let ropeFrequencyFactorsTensor = "rope_freqs.weight"
}

extension TextArchitecture {
    /// How this family pairs rope dimensions.
    public var ropeStyle: RopeStyle {
        switch self {
        case .llama: LlamaFamily.ropeStyle
        case .qwen2: Qwen2Family.ropeStyle
        case .mllama: MllamaFamily.ropeStyle
        case .gemma3: Gemma3Family.ropeStyle
        case .qwen2vl, .qwen3vl: Qwen2VLFamily.ropeStyle
        }
    }

    /// Whether every block must carry `attn_q.bias`, `attn_k.bias` and `attn_v.bias`.
    public var requiresAttentionBiases: Bool {
        switch self {
        case .llama: LlamaFamily.requiresAttentionBiases
        case .qwen2: Qwen2Family.requiresAttentionBiases
        case .qwen2vl: Qwen2VLFamily.requiresAttentionBiases
        case .mllama, .gemma3, .qwen3vl: false
        }
    }

    /// Whether every self-attention layer must carry `attn_q_norm` and `attn_k_norm`.
    var requiresHeadNorms: Bool { self == .gemma3 || self == .qwen3vl }

    /// The indices of the layers that cross-attend to the image (none outside mllama).
    func crossAttentionLayers(_ reader: MetadataReader<TextModelError>, blockCount: Int) throws(TextModelError) -> [Int] {
        switch self {
        case .llama, .qwen2, .gemma3, .qwen2vl, .qwen3vl: []
        case .mllama: try MllamaFamily.crossAttentionLayers(reader, blockCount: blockCount)
        }
    }
}
