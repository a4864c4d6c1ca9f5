import Foundation
import GGUF

/// `MllamaForConditionalGeneration` (Llama 3.2 Vision, LLaVA-CoT) → an `mllama` text GGUF and a
/// projector file (`general.architecture = mllama`, `mllama.vision.*` keys), in Ollama's tensor
/// layout so that Ponder reads Ollama's files and Ollama's loader knows these names:
///
/// - text: llama's tensors with the Q/K rows of self-attention layers permuted for rope; in the
///   layers of `cross_attention_layers`, `cross_attn_{q,k,v,o}_proj` (Q/K rows permuted the same
///   way, which the loader matches by permuting the per-head norms), `cross_attn_{q,k}_norm`,
///   and the raw gates `cross_attn_attn_gate`, `cross_attn_mlp_gate`; `token_embd` keeps its
///   8 extra rows; the vocabulary has `<|image|>` at id `vocab_size`;
/// - vision: `v.*` with the gates stored as used (tanh; `1 − tanh` for the position gate, whose
///   tanh also gates the tile position embedding), fc1 as `ffn_up`, and `mm.0` the projector.
public enum ConvertMllama: ConvertFamily {
    public static let architectures = ["MllamaForConditionalGeneration"]

    public static func plans(for checkpoint: HFCheckpoint) throws(ConvertError) -> [ConvertPlan] {
        let configPath = checkpoint.path("config.json")
        guard let text = checkpoint.config.textConfig else { throw ConvertError(file: configPath, kind: .missingKey("text_config")) }
        guard let vision = checkpoint.config.visionConfig else { throw ConvertError(file: configPath, kind: .missingKey("vision_config")) }
        let weights = checkpoint.weights
        // The hub layout (`language_model.model.`) or transformers 5's (`model.language_model.`).
        let hub = weights.contains("language_model.model.embed_tokens.weight")
        let textPrefix = hub ? "language_model.model." : "model.language_model."
        let visionPrefix = hub ? "vision_model." : "model.vision_model."
        let projectorPrefix = hub ? "multi_modal_projector." : "model.multi_modal_projector."

        let vocab = try text.require(text.vocabSize, "vocab_size", in: checkpoint, prefix: "text_config.")
        let d = try text.require(text.hiddenSize, "hidden_size", in: checkpoint, prefix: "text_config.")
        let crossLayers = text.crossAttentionLayers ?? []
        guard !crossLayers.isEmpty else { throw ConvertError(file: configPath, kind: .missingKey("text_config.cross_attention_layers")) }
        let embeddingRows = weights.shape(of: textPrefix + "embed_tokens.weight")?.first ?? vocab + 8
        var mapping = TextModelMapping(architecture: "mllama", config: text, keyPrefix: "text_config.", tensorPrefix: textPrefix)
        mapping.outputName = hub ? "language_model.lm_head.weight" : "lm_head.weight"
        mapping.crossAttentionLayers = crossLayers
        mapping.embeddingRows = embeddingRows
        let imageToken = checkpoint.config.imageTokenIndex ?? checkpoint.config.imageTokenId ?? vocab
        mapping.tokenizerSize = max(vocab, imageToken + 1)
        var textPlan = try mapping.plan(checkpoint)
        textPlan.set("mllama.attention.cross_attention_layers", .array(.int32(crossLayers.map { Int32($0) })))
        return [textPlan, try visionPlan(checkpoint, vision, prefix: visionPrefix, projector: projectorPrefix, textWidth: d)]
    }

    static func visionPlan(_ checkpoint: HFCheckpoint, _ vision: HFConfig, prefix p: String, projector: String,
                           textWidth: Int) throws(ConvertError) -> ConvertPlan {
        func need(_ value: Int?, _ key: String) throws(ConvertError) -> Int {
            try vision.require(value, key, in: checkpoint, prefix: "vision_config.")
        }
        let d = try need(vision.hiddenSize, "hidden_size")
        let ff = try need(vision.intermediateSize, "intermediate_size")
        let layers = try need(vision.numHiddenLayers, "num_hidden_layers")
        let globalLayers = try need(vision.numGlobalLayers, "num_global_layers")
        let heads = try need(vision.attentionHeads ?? vision.numAttentionHeads, "attention_heads")
        let imageSize = try need(vision.imageSize, "image_size")
        let patch = try need(vision.patchSize, "patch_size")
        let tiles = try need(vision.maxNumTiles, "max_num_tiles")
        let channels = vision.numChannels ?? 3
        let intermediate = vision.intermediateLayersIndices ?? []
        let tokens = (imageSize / patch) * (imageSize / patch) + 1
        let ratios = MllamaVisionConfiguration.aspectRatios(maxTiles: tiles).count + 1
        let outputWidth = d * (intermediate.count + 1)

        var plan = ConvertPlan(role: .projector, metadata: GeneralMetadata.leading(architecture: "mllama", type: "mmproj", checkpoint: checkpoint))
        let k = "mllama.vision."
        plan.set(k + "block_count", .uint32(UInt32(layers)))
        plan.set(k + "global.block_count", .uint32(UInt32(globalLayers)))
        plan.set(k + "embedding_length", .uint32(UInt32(d)))
        plan.set(k + "feed_forward_length", .uint32(UInt32(ff)))
        plan.set(k + "attention.head_count", .uint32(UInt32(heads)))
        plan.set(k + "attention.layer_norm_epsilon", .float32(Float(vision.normEps ?? 1e-5)))
        plan.set(k + "image_size", .uint32(UInt32(imageSize)))
        plan.set(k + "patch_size", .uint32(UInt32(patch)))
        plan.set(k + "max_num_tiles", .uint32(UInt32(tiles)))
        plan.set(k + "num_channels", .uint32(UInt32(channels)))
        plan.set(k + "intermediate_layers_indices", .array(.int32(intermediate.map { Int32($0) })))
        plan.set(k + "projection_dim", .uint32(UInt32(textWidth)))
        if let mean = try? checkpoint.preprocessorFloats("image_mean") { plan.set(k + "image_mean", .array(.float32(mean))) }
        if let std = try? checkpoint.preprocessorFloats("image_std") { plan.set(k + "image_std", .array(.float32(std))) }

        func map(_ gguf: String, _ hf: String, _ shape: [Int], rule: TensorEncoding.Rule = .standard) throws(ConvertError) {
            plan.tensors.append(try .mapped(gguf, from: hf, expected: shape, in: checkpoint, rule: rule))
        }
        func gate(_ gguf: String, _ hf: String, _ function: (Float) -> Float) throws(ConvertError) {
            plan.tensors.append(ConvertTensor(name: gguf, dimensions: [1], source: .values([function(try scalar(hf, checkpoint))])))
        }
        try map("v.patch_embd.weight", p + "patch_embedding.weight", [d, channels, patch, patch], rule: .f16OrF32)
        try map("v.class_embd", p + "class_embedding", [d])
        let g = p + "gated_positional_embedding."
        try map("v.position_embd.weight", g + "embedding", [tokens, d])
        try gate("v.position_embd.gate", g + "gate") { 1 - tanh($0) }
        try map("v.tile_position_embd.weight", g + "tile_embedding.weight", [ratios, tiles * tokens * d])
        try gate("v.tile_position_embd.gate", g + "gate") { tanh($0) }
        for side in ["pre", "post"] {
            let hf = p + "\(side)_tile_positional_embedding."
            try map("v.\(side)_tile_position_embd.weight", hf + "embedding.weight", [ratios, tiles * d])
            try gate("v.\(side)_tile_position_embd.gate", hf + "gate") { tanh($0) }
        }
        for (side, hf) in [("pre", "layernorm_pre"), ("post", "layernorm_post")] {
            try map("v.\(side)_ln.weight", p + hf + ".weight", [d])
            try map("v.\(side)_ln.bias", p + hf + ".bias", [d])
        }
        for (kind, gguf, count) in [("transformer", "v.blk.", layers), ("global_transformer", "v.global.blk.", globalLayers)] {
            for layer in 0..<count {
                let hf = "\(p)\(kind).layers.\(layer).", gg = "\(gguf)\(layer)."
                for (name, source) in [("attn_norm", "input_layernorm"), ("ffn_norm", "post_attention_layernorm")] {
                    try map(gg + name + ".weight", hf + source + ".weight", [d])
                    try map(gg + name + ".bias", hf + source + ".bias", [d])
                }
                for (name, source) in [("attn_q", "q_proj"), ("attn_k", "k_proj"), ("attn_v", "v_proj"), ("attn_output", "o_proj")] {
                    try map(gg + name + ".weight", hf + "self_attn." + source + ".weight", [d, d])
                }
                try map(gg + "ffn_up.weight", hf + "mlp.fc1.weight", [ff, d])
                try map(gg + "ffn_up.bias", hf + "mlp.fc1.bias", [ff])
                try map(gg + "ffn_down.weight", hf + "mlp.fc2.weight", [d, ff])
                try map(gg + "ffn_down.bias", hf + "mlp.fc2.bias", [d])
                if kind == "global_transformer" {
                    try gate(gg + "attn_gate", hf + "gate_attn") { tanh($0) }
                    try gate(gg + "ffn_gate", hf + "gate_ffn") { tanh($0) }
                }
            }
        }
        try map("mm.0.weight", projector + "weight", [textWidth, outputWidth])
        try map("mm.0.bias", projector + "bias", [textWidth])
        return plan
    }

    /// The one value of a checkpoint tensor (a gate).
    static func scalar(_ name: String, _ checkpoint: HFCheckpoint) throws(ConvertError) -> Float {
        let (file, tensor) = try checkpoint.weights.tensor(name)
        guard tensor.elementCount == 1 else {
            throw ConvertError(file: file.path, kind: .wrongShape(tensor: name, expected: [1], found: tensor.shape))
        }
        let bytes = file.data(for: tensor)
        let value: Float
        switch tensor.dataType {
        case .f32: value = bytes.loadUnaligned(as: Float.self)
        case .f16: value = Float(Float16(bitPattern: bytes.loadUnaligned(as: UInt16.self)))
        case .bf16: value = Float(bitPattern: UInt32(bytes.loadUnaligned(as: UInt16.self)) << 16)
        default:
            throw ConvertError(file: file.path, kind: .invalidValue(key: name, value: tensor.dataType.rawValue,
                                                                    reason: "a gate must be BF16, F16 or F32"))
        }
        guard value.isFinite else {
            throw ConvertError(file: file.path, kind: .invalidValue(key: name, value: "\(value)", reason: "a gate must be finite"))
        }
        return value
    }
}
