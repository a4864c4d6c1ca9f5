/// The `qwen2` family: Qwen2 and Qwen2.5 text models.
///
/// The block is llama's (see `Llama.swift`) with two differences:
/// - rope rotates the two halves of the rotated dimensions against each other,
///   (x[i], x[i + n_rot/2]) — ggml's NEOX mode — because the converter kept the Hugging Face
///   row order;
/// - Wq, Wk and Wv carry biases (`blk.N.attn_q.bias`, …), added before rope.
/// An optional `output.bias` is added to the logits.
enum Qwen2Family {
    static let ropeStyle = RopeStyle.halves
    static let requiresAttentionBiases = true
}
