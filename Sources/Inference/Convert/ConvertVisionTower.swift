import GGUF

/// A CLIP or SigLIP vision tower (`vision_model.embeddings`, `encoder.layers.N`, norms) mapped to
/// the `v.*` tensors and `clip.vision.*` keys of a projector file, as llama.cpp's
/// `MmprojModel` writes them. The families add their projector's tensors and keys.
struct VisionTowerMapping {
    /// `vision_config`.
    var config: HFConfig
    /// Prefix of the tower's tensors, e.g. `model.vision_model.`.
    var tensorPrefix: String
    /// The text model's embedding length (`clip.vision.projection_dim`).
    var textEmbeddingLength: Int
    /// How many encoder layers to write (LLaVA drops the unused last ones); nil writes all.
    var layerCount: Int?
    /// The type rule of the embeddings (idefics3 keeps them F32).
    var embeddingRule: TensorEncoding.Rule = .f16OrF32

    func plan(_ checkpoint: HFCheckpoint) throws(ConvertError) -> ConvertPlan {
        func need(_ value: Int?, _ key: String) throws(ConvertError) -> Int {
            try config.require(value, key, in: checkpoint, prefix: "vision_config.")
        }
        let d = try need(config.hiddenSize, "hidden_size")
        let ff = try need(config.intermediateSize, "intermediate_size")
        let layers = try need(config.numHiddenLayers, "num_hidden_layers")
        let heads = try need(config.numAttentionHeads, "num_attention_heads")
        let imageSize = try need(config.imageSize, "image_size")
        let patch = try need(config.patchSize, "patch_size")
        let channels = config.numChannels ?? 3

        var plan = ConvertPlan(role: .projector, metadata: GeneralMetadata.leading(architecture: "clip", type: "mmproj", checkpoint: checkpoint))
        plan.set("clip.has_vision_encoder", .bool(true))
        plan.set("clip.vision.projection_dim", .uint32(UInt32(textEmbeddingLength)))
        plan.set("clip.vision.image_size", .uint32(UInt32(imageSize)))
        plan.set("clip.vision.patch_size", .uint32(UInt32(patch)))
        plan.set("clip.vision.embedding_length", .uint32(UInt32(d)))
        plan.set("clip.vision.feed_forward_length", .uint32(UInt32(ff)))
        plan.set("clip.vision.block_count", .uint32(UInt32(layers)))
        plan.set("clip.vision.attention.head_count", .uint32(UInt32(heads)))
        plan.set("clip.vision.image_mean", .array(.float32(try checkpoint.preprocessorFloats("image_mean"))))
        plan.set("clip.vision.image_std", .array(.float32(try checkpoint.preprocessorFloats("image_std"))))

        let p = tensorPrefix
        func map(_ gguf: String, _ hf: String, _ shape: [Int], rule: TensorEncoding.Rule = .standard) throws(ConvertError) {
            plan.tensors.append(try .mapped(gguf, from: hf, expected: shape, in: checkpoint, rule: rule))
        }
        let side = imageSize / patch
        let hasClass = checkpoint.weights.contains(p + "embeddings.class_embedding")
        if hasClass { try map("v.class_embd", p + "embeddings.class_embedding", [d], rule: embeddingRule == .alwaysF32 ? .alwaysF32 : .standard) }
        try map("v.patch_embd.weight", p + "embeddings.patch_embedding.weight", [d, channels, patch, patch], rule: embeddingRule)
        if checkpoint.weights.contains(p + "embeddings.patch_embedding.bias") {
            try map("v.patch_embd.bias", p + "embeddings.patch_embedding.bias", [d], rule: embeddingRule == .alwaysF32 ? .alwaysF32 : .standard)
        }
        try map("v.position_embd.weight", p + "embeddings.position_embedding.weight", [side * side + (hasClass ? 1 : 0), d],
                rule: embeddingRule == .alwaysF32 ? .alwaysF32 : .standard)
        for norm in ["pre_layrnorm", "pre_layernorm"] where checkpoint.weights.contains(p + norm + ".weight") {
            try map("v.pre_ln.weight", p + norm + ".weight", [d])
            try map("v.pre_ln.bias", p + norm + ".bias", [d])
        }
        for layer in 0..<(layerCount ?? layers) {
            let hf = "\(p)encoder.layers.\(layer).", gg = "v.blk.\(layer)."
            for (name, source) in [("ln1", "layer_norm1"), ("ln2", "layer_norm2")] {
                try map(gg + name + ".weight", hf + source + ".weight", [d])
                try map(gg + name + ".bias", hf + source + ".bias", [d])
            }
            for (name, source) in [("attn_q", "q_proj"), ("attn_k", "k_proj"), ("attn_v", "v_proj"), ("attn_out", "out_proj")] {
                try map(gg + name + ".weight", hf + "self_attn." + source + ".weight", [d, d])
                try map(gg + name + ".bias", hf + "self_attn." + source + ".bias", [d])
            }
            try map(gg + "ffn_up.weight", hf + "mlp.fc1.weight", [ff, d])
            try map(gg + "ffn_up.bias", hf + "mlp.fc1.bias", [ff])
            try map(gg + "ffn_down.weight", hf + "mlp.fc2.weight", [d, ff])
            try map(gg + "ffn_down.bias", hf + "mlp.fc2.bias", [d])
        }
        if layerCount == nil, checkpoint.weights.contains(p + "post_layernorm.weight") {
            try map("v.post_ln.weight", p + "post_layernorm.weight", [d])
            try map("v.post_ln.bias", p + "post_layernorm.bias", [d])
        }
        return plan
    }
}
