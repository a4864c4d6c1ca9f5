/// The `mllama` family: Llama 3.2 Vision (HF `MllamaForConditionalGeneration`), the model
/// LLaVA-CoT fine-tunes.
///
/// The text stack is llama's (see `Llama.swift`) with cross-attention layers at the indices
/// in `mllama.attention.cross_attention_layers` (8 of 40 in the 11B). A cross-attention layer:
///
///     n  = rmsnorm(x) · attn_norm
///     q  = rmsnorm_head(Wq·n) · q_norm               (no rope)
///     k  = rmsnorm_head(Wk·v) · k_norm, vv = Wv·v    (v: the projected vision states)
///     x += tanh(attn_gate) · Wo · attention(q, k, vv)   masked to the image in view
///     h  = rmsnorm(x) · ffn_norm
///     x += tanh(mlp_gate) · row_mask · Wdown·(silu(Wgate·h) ⊙ Wup·h)
///
/// - A row with no image in view (text before the image token) keeps its attention output,
///   which with every key masked is the plain average of all vision values; only its MLP output
///   is zeroed (HF's `full_text_row_masked_out_mask`).
/// - A sequence without any image skips the cross-attention layers entirely.
/// - The token embedding table has 8 more rows than the output; the image token `<|image|>` is
///   the first of them (id = the output's row count).
/// - The vision K/V of each cross-attention layer is computed once, when the image token is
///   fed, and kept with the sequence (forks share it): `MllamaCrossAttention.swift`.
///
/// The vision encoder and its preprocessing are in `Mllama+Vision.swift` and
/// `Mllama+Preprocessing.swift`.
enum MllamaFamily {
    static let ropeStyle = RopeStyle.adjacentPairs
    static let crossAttentionLayersKey = "attention.cross_attention_layers"

    /// Tensor names of cross-attention layer `layer` (Ollama's layout).
    enum CrossAttentionTensor: String, CaseIterable {
        case query = "cross_attn_q_proj"
        case key = "cross_attn_k_proj"
        case value = "cross_attn_v_proj"
        case output = "cross_attn_o_proj"
        case queryNorm = "cross_attn_q_norm"
        case keyNorm = "cross_attn_k_norm"
        case attentionGate = "cross_attn_attn_gate"
        case mlpGate = "cross_attn_mlp_gate"

        /// The gates are stored without the `.weight` suffix (as Ollama writes them).
        func name(layer: Int) -> String {
            self == .attentionGate || self == .mlpGate ? "blk.\(layer).\(rawValue)" : "blk.\(layer).\(rawValue).weight"
        }
    }

    /// A head's values reordered as the converter reorders Q/K rows for llama's rope: the
    /// element at `a·half + b` moves to `2b + a`.
    static func ropePermuted(_ head: [Float]) -> [Float] {
        let half = head.count / 2
        var out = head
        for a in 0..<2 { for b in 0..<half { out[2 * b + a] = head[a * half + b] } }
        return out
    }

    static func crossAttentionLayers(_ reader: MetadataReader<TextModelError>, blockCount: Int) throws(TextModelError) -> [Int] {
        guard let layers = try reader.indices(crossAttentionLayersKey, below: blockCount) else {
            throw reader.missing(crossAttentionLayersKey)
        }
        return layers
    }
}
