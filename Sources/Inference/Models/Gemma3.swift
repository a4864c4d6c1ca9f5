import GGUF

/// The `gemma3` family: Gemma 3 text models (1B–27B; the 4B and up carry a SigLIP vision
/// tower in a `gemma3` projector file).
///
/// Block (norm weights are stored with Gemma's `1 +` already added by the converter, so every
/// RMSNorm is the plain `x / rms(x) · w`):
///
///     n  = rmsnorm(x) · attn_norm
///     q  = rmsnorm_head(Wq·n) · attn_q_norm,  k = rmsnorm_head(Wk·n) · attn_k_norm
///     x += rmsnorm(Wo · attention(rope(q)·scale, rope(k), Wv·n)) · post_attention_norm
///     h  = rmsnorm(x) · ffn_norm
///     x += rmsnorm(Wdown · (gelu_tanh(Wgate·h) ⊙ Wup·h)) · post_ffw_norm
///
/// What is particular to gemma3:
/// - token embeddings are multiplied by √embedding_length (token rows only: image rows are
///   used as the projector gives them);
/// - rope rotates halves (NEOX), as the converter kept HF's row order;
/// - layers alternate between sliding-window and global attention: layer `i` slides when
///   `i % pattern < pattern − 1` (`attention.sliding_window_pattern`, default 6, as
///   llama.cpp), over the last `attention.sliding_window` positions;
/// - sliding layers rope with `rope.freq_base_swa` (Ollama: `rope.local.freq_base`; default
///   10 000) and no scaling; global
///   layers with `rope.freq_base` and the file's linear scaling;
/// - queries are scaled by 1/√key_length (1/√(embedding_length / head_count) in the 62-layer
///   27B, whose `query_pre_attn_scalar` is that, as llama.cpp hard-codes it);
/// - the soft tokens of an image attend to each other both ways inside their span (HF's
///   token-type block mask, llama.cpp's non-causal image batch); every other row is causal;
/// - `final_logit_softcapping`, when the file has it: logits = c · tanh(logits / c).
enum Gemma3Family {
    static let ropeStyle = RopeStyle.halves
    static let defaultSlidingWindowPattern = 6
    static let defaultSlidingRopeBase: Float = 10000

    /// Sets the gemma3 parts of `c` from the file's keys.
    static func configure(_ c: inout TextModelConfiguration, _ reader: MetadataReader<TextModelError>) throws(TextModelError) {
        c.embeddingScale = Float(c.embeddingLength).squareRoot()
        c.feedForwardActivation = .geluTanh
        c.usesPostNorms = true
        c.imageSpansAttendBothWays = true
        let queryScalar = c.blockCount == 62 ? c.embeddingLength / c.headCount : c.headDimension
        c.attentionScale = 1 / Float(queryScalar).squareRoot()
        if let cap = try reader.optionalFloat("final_logit_softcapping"), cap > 0 { c.finalLogitSoftcap = cap }

        guard let window = try reader.optionalInt("attention.sliding_window"), window > 0 else { return }
        let sliding = try slidingLayers(reader, blockCount: c.blockCount)
        // llama.cpp's converter writes `rope.freq_base_swa`, Ollama's `rope.local.freq_base`.
        var stored = try reader.optionalFloat("rope.freq_base_swa")
        if stored == nil { stored = try reader.optionalFloat("rope.local.freq_base") }
        let base = stored ?? defaultSlidingRopeBase
        guard base > 0, base.isFinite else { throw reader.invalid("rope.freq_base_swa", base, "it must be positive") }
        c.extraRopeSets.append(RopeSet(base: base, scale: 1))
        for layer in 0..<c.blockCount where sliding[layer] {
            c.layerAttention[layer] = LayerAttention(slidingWindow: window, ropeSet: c.extraRopeSets.count)
        }
    }

    /// Which layers slide: `attention.sliding_window_pattern` as a period (layer `i` slides
    /// when `i % n < n − 1`; absent: 6; 0: every layer, as llama.cpp reads it) or as one flag
    /// per layer.
    static func slidingLayers(_ reader: MetadataReader<TextModelError>, blockCount: Int) throws(TextModelError) -> [Bool] {
        let key = "attention.sliding_window_pattern"
        if case .array(let array)? = reader.file.value(forKey: reader.key(key)) {
            let flags: [Bool]
            if case .bool(let values) = array {
                flags = values
            } else if let integers = array.integers {
                flags = integers.map { $0 != 0 }
            } else {
                throw reader.invalid(key, "an array of \(array.elementType)", "it must hold one flag per layer")
            }
            guard flags.count >= blockCount else {
                throw reader.invalid(key, "\(flags.count) flags", "it must hold one flag per layer (\(blockCount))")
            }
            return Array(flags.prefix(blockCount))
        }
        let period = try reader.optionalInt(key) ?? defaultSlidingWindowPattern
        guard period >= 0 else { throw reader.invalid(key, period, "it must not be negative") }
        return (0..<blockCount).map { period == 0 || $0 % period < period - 1 }
    }
}
