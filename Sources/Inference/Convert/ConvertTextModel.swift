import Foundation
import GGUF

/// The decoder-only text model shared by the llama-like families (llama, qwen2, and the text
/// halves of SmolVLM and LLaVA): tensor names, shapes, rope permutation, `rope_freqs`, and
/// the `{arch}.*` metadata llama.cpp's `TextModel.set_gguf_parameters` writes.
struct TextModelMapping {
    /// `general.architecture`: `llama` or `qwen2`.
    var architecture: String
    /// The text settings: `config.json` itself, or its `text_config`.
    var config: HFConfig
    /// How errors name a config key (`text_config.` for nested configs).
    var keyPrefix = ""
    /// Prefix of the decoder's tensors: `model.`, `model.text_model.`, `model.language_model.`.
    var tensorPrefix = "model."
    /// The output projection, when the checkpoint has one.
    var outputName = "lm_head.weight"
    /// llama: Q and K rows permuted for ggml's adjacent-pair rope; qwen2 uses NEOX rope, no permutation.
    var permutesQueryKey = true
    /// llama.cpp's `LlamaModel` adds `{arch}.vocab_size`, `rope.dimension_count`, `rope_freqs` and
    /// the tokenizer's `add_space_prefix`.
    var isLlamaModel = true
    /// mllama: the layers that cross-attend to the image (their tensors are `cross_attn_*`).
    var crossAttentionLayers: [Int] = []
    /// Rows of the token embedding when it has more than the vocabulary (mllama: + 8).
    var embeddingRows: Int?
    /// Tokens of the GGUF vocabulary when it has more than `vocab_size` (mllama's `<|image|>`).
    var tokenizerSize: Int?

    func plan(_ checkpoint: HFCheckpoint) throws(ConvertError) -> ConvertPlan {
        func need(_ value: Int?, _ key: String) throws(ConvertError) -> Int {
            try config.require(value, key, in: checkpoint, prefix: keyPrefix)
        }
        let d = try need(config.hiddenSize, "hidden_size")
        let ff = try need(config.intermediateSize, "intermediate_size")
        let layers = try need(config.numHiddenLayers, "num_hidden_layers")
        let heads = try need(config.numAttentionHeads, "num_attention_heads")
        let kvHeads = try need(config.numKeyValueHeads ?? heads, "num_key_value_heads")
        let headDim = try need(config.headDim ?? d / heads, "head_dim")
        let embedName = tensorPrefix + "embed_tokens.weight"
        guard let embedShape = checkpoint.weights.shape(of: embedName) else {
            throw ConvertError(file: checkpoint.folder, kind: .missingTensor(embedName))
        }
        let vocab = try need(config.vocabSize ?? embedShape.first, "vocab_size")
        let rope = config.rope

        var plan = ConvertPlan(role: .text, metadata: GeneralMetadata.leading(architecture: architecture, type: "model", checkpoint: checkpoint))
        let a = architecture
        plan.set("\(a).block_count", .uint32(UInt32(layers)))
        if let context = config.maxPositionEmbeddings { plan.set("\(a).context_length", .uint32(UInt32(context))) }
        plan.set("\(a).embedding_length", .uint32(UInt32(d)))
        plan.set("\(a).feed_forward_length", .uint32(UInt32(ff)))
        plan.set("\(a).attention.head_count", .uint32(UInt32(heads)))
        plan.set("\(a).attention.head_count_kv", .uint32(UInt32(kvHeads)))
        switch rope.ropeType?.lowercased() {
        case "linear":
            if let factor = rope.factor {
                plan.set("\(a).rope.scaling.type", .string("linear"))
                plan.set("\(a).rope.scaling.factor", .float32(Float(factor)))
            }
        case "yarn":
            if let factor = rope.factor {
                plan.set("\(a).rope.scaling.type", .string("yarn"))
                plan.set("\(a).rope.scaling.factor", .float32(Float(factor)))
                if let original = rope.originalMaxPositionEmbeddings {
                    plan.set("\(a).rope.scaling.original_context_length", .uint32(UInt32(original)))
                }
            }
        default:
            break
        }
        if let theta = rope.ropeTheta { plan.set("\(a).rope.freq_base", .float32(Float(theta))) }
        if let epsilon = config.rmsNormEps { plan.set("\(a).attention.layer_norm_rms_epsilon", .float32(Float(epsilon))) }
        if let explicit = config.headDim {
            plan.set("\(a).attention.key_length", .uint32(UInt32(explicit)))
            plan.set("\(a).attention.value_length", .uint32(UInt32(explicit)))
        }
        if isLlamaModel {
            plan.set("\(a).vocab_size", .uint32(UInt32(vocab)))
            plan.set("\(a).rope.dimension_count", .uint32(UInt32(headDim)))
        }
        var tokenizer = TokenizerConversion(checkpoint: checkpoint, vocabularySize: tokenizerSize ?? vocab)
        tokenizer.writesSpacePrefix = isLlamaModel
        for entry in try tokenizer.metadata() { plan.set(entry.key, entry.value) }

        // Tensors.
        if isLlamaModel, rope.ropeType?.lowercased() == "llama3" {
            plan.tensors.append(ConvertTensor(name: "rope_freqs.weight", dimensions: [headDim / 2],
                                              source: .values(Self.llama3RopeFactors(rope, dimension: headDim))))
        }
        func map(_ gguf: String, _ hf: String, _ shape: [Int], _ transform: RowTransform = .identity) throws(ConvertError) {
            plan.tensors.append(try .mapped(gguf, from: hf, expected: shape, in: checkpoint, transform: transform))
        }
        try map("token_embd.weight", embedName, [embeddingRows ?? vocab, d])
        if checkpoint.weights.contains(outputName) { try map("output.weight", outputName, [vocab, d]) }
        let q = heads * headDim, kv = kvHeads * headDim
        for layer in 0..<layers {
            let hf = "\(tensorPrefix)layers.\(layer).", gg = "blk.\(layer)."
            let queryRows: RowTransform = permutesQueryKey ? .ropePermutation(heads: heads) : .identity
            let keyRows: RowTransform = permutesQueryKey ? .ropePermutation(heads: kvHeads) : .identity
            try map(gg + "attn_norm.weight", hf + "input_layernorm.weight", [d])
            if crossAttentionLayers.contains(layer) {
                // Q/K rows permuted as for rope (Ollama's layout); the loader permutes the norms to match.
                let c = hf + "cross_attn."
                try map(gg + "cross_attn_q_proj.weight", c + "q_proj.weight", [q, d], .ropePermutation(heads: heads))
                try map(gg + "cross_attn_k_proj.weight", c + "k_proj.weight", [kv, d], .ropePermutation(heads: kvHeads))
                try map(gg + "cross_attn_v_proj.weight", c + "v_proj.weight", [kv, d])
                try map(gg + "cross_attn_o_proj.weight", c + "o_proj.weight", [d, q])
                try map(gg + "cross_attn_q_norm.weight", c + "q_norm.weight", [headDim])
                try map(gg + "cross_attn_k_norm.weight", c + "k_norm.weight", [headDim])
                try map(gg + "cross_attn_attn_gate", hf + "cross_attn_attn_gate", [1])
                try map(gg + "cross_attn_mlp_gate", hf + "cross_attn_mlp_gate", [1])
                try map(gg + "ffn_norm.weight", hf + "post_attention_layernorm.weight", [d])
                try map(gg + "ffn_gate.weight", hf + "mlp.gate_proj.weight", [ff, d])
                try map(gg + "ffn_up.weight", hf + "mlp.up_proj.weight", [ff, d])
                try map(gg + "ffn_down.weight", hf + "mlp.down_proj.weight", [d, ff])
                continue
            }
            try map(gg + "attn_q.weight", hf + "self_attn.q_proj.weight", [q, d], queryRows)
            try map(gg + "attn_k.weight", hf + "self_attn.k_proj.weight", [kv, d], keyRows)
            try map(gg + "attn_v.weight", hf + "self_attn.v_proj.weight", [kv, d])
            try map(gg + "attn_output.weight", hf + "self_attn.o_proj.weight", [d, q])
            for (name, rows, transform) in [("q", q, queryRows), ("k", kv, keyRows), ("v", kv, RowTransform.identity)]
            where checkpoint.weights.contains(hf + "self_attn.\(name)_proj.bias") {
                try map(gg + "attn_\(name).bias", hf + "self_attn.\(name)_proj.bias", [rows], transform)
            }
            try map(gg + "ffn_norm.weight", hf + "post_attention_layernorm.weight", [d])
            try map(gg + "ffn_gate.weight", hf + "mlp.gate_proj.weight", [ff, d])
            try map(gg + "ffn_up.weight", hf + "mlp.up_proj.weight", [ff, d])
            try map(gg + "ffn_down.weight", hf + "mlp.down_proj.weight", [d, ff])
        }
        try map("output_norm.weight", tensorPrefix + "norm.weight", [d])
        return plan
    }

    /// Llama 3's per-frequency rope divisors, computed in f32 as llama.cpp's
    /// `LlamaModel.generate_extra_tensors` computes them with torch.
    static func llama3RopeFactors(_ rope: RopeParameters, dimension: Int) -> [Float] {
        let base = Float(rope.ropeTheta ?? 10000)
        let factor = Float(rope.factor ?? 8)
        let low = rope.lowFreqFactor ?? 1, high = rope.highFreqFactor ?? 4
        let original = Double(rope.originalMaxPositionEmbeddings ?? 8192)
        let lowWavelength = Float(original / low), highWavelength = Float(original / high)
        return stride(from: 0, to: dimension, by: 2).map { index -> Float in
            let frequency = 1 / Foundation.pow(base, Float(index) / Float(dimension))
            let wavelength = Float(2 * Double.pi) / frequency
            if wavelength < highWavelength { return 1 }
            if wavelength > lowWavelength { return factor }
            let smooth = (Float(original) / wavelength - Float(low)) / Float(high - low)
            return 1 / ((1 - smooth) / factor + smooth)
        }
    }
}
