import GGUF

/// `LlavaForConditionalGeneration` (LLaVA-1.5) → a `llama` text GGUF and a projector file of
/// type `mlp`: a CLIP tower (class token, pre-norm, quick GELU) and two linear layers with GELU
/// between (`mm.0`, `mm.2`).
///
/// llama.cpp's current converter no longer writes LLaVA-1.5 projectors (its `LlavaVisionModel`
/// takes Pixtral only); its legacy `convert_image_encoder_to_gguf.py` does. The file follows
/// that script's semantics with the current names: `vision_feature_layer` becomes
/// `clip.vision.feature_layer` (non-negative, in HF's hidden-state numbering), the layers
/// past the deepest feature layer are dropped and `block_count` says how many remain, and
/// there is no post-norm. Tensor names are the current ones (`ffn_up` = `fc1`, not the legacy
/// swap) and types follow llama.cpp's `MmprojModel`.
public enum ConvertLlava: ConvertFamily {
    public static let architectures = ["LlavaForConditionalGeneration"]

    public static func plans(for checkpoint: HFCheckpoint) throws(ConvertError) -> [ConvertPlan] {
        let configPath = checkpoint.path("config.json")
        guard let text = checkpoint.config.textConfig else {
            throw ConvertError(file: configPath, kind: .missingKey("text_config"))
        }
        guard let vision = checkpoint.config.visionConfig else {
            throw ConvertError(file: configPath, kind: .missingKey("vision_config"))
        }
        let weights = checkpoint.weights
        // transformers ≥ 4.52 saves `model.language_model.…`; older checkpoints `language_model.model.…`.
        let textPrefix = ["model.language_model.", "language_model.model."]
            .first { weights.contains($0 + "embed_tokens.weight") } ?? "model.language_model."
        let output = ["lm_head.weight", "language_model.lm_head.weight"].first { weights.contains($0) } ?? "lm_head.weight"
        let textPlan = try TextModelMapping(architecture: "llama", config: text, keyPrefix: "text_config.",
                                            tensorPrefix: textPrefix, outputName: output).plan(checkpoint)

        let towerPrefix = ["model.vision_tower.", "vision_tower.", "model.vision_tower.vision_model.", "vision_tower.vision_model."]
            .first { weights.contains($0 + "embeddings.patch_embedding.weight") } ?? "model.vision_tower."
        let layers = try vision.require(vision.numHiddenLayers, "num_hidden_layers", in: checkpoint, prefix: "vision_config.")
        // HF numbers hidden states from 0 (the embeddings); -2 is the penultimate layer's output.
        let selected = (checkpoint.config.visionFeatureLayer ?? .one(-2)).all.map { $0 >= 0 ? $0 : layers + $0 + 1 }
        guard let deepest = selected.max(), selected.allSatisfy({ (0...layers).contains($0) }) else {
            throw ConvertError(file: configPath, kind: .invalidValue(
                key: "vision_feature_layer", value: "\(selected)", reason: "it must select hidden states 0...\(layers)"))
        }
        let textWidth = try text.require(text.hiddenSize, "hidden_size", in: checkpoint, prefix: "text_config.")
        let width = try vision.require(vision.hiddenSize, "hidden_size", in: checkpoint, prefix: "vision_config.")
        let tower = VisionTowerMapping(config: vision, tensorPrefix: towerPrefix, textEmbeddingLength: textWidth,
                                       layerCount: deepest)
        var projector = try tower.plan(checkpoint)
        projector.set("clip.vision.block_count", .uint32(UInt32(deepest)))
        projector.set("clip.projector_type", .string("mlp"))
        projector.set("clip.vision.attention.layer_norm_epsilon", .float32(Float(vision.layerNormEps ?? 1e-5)))
        projector.set("clip.vision.feature_layer", .array(.int32(selected.map(Int32.init))))
        switch vision.hiddenAct {
        case "gelu", "gelu_pytorch_tanh": projector.set("clip.use_gelu", .bool(true))
        case "silu": projector.set("clip.use_silu", .bool(true))
        case nil, "quick_gelu": break   // the default: x·σ(1.702x)
        case let other?:
            throw ConvertError(file: configPath, kind: .invalidValue(key: "vision_config.hidden_act", value: other,
                                                                     reason: "the projector runs quick_gelu, gelu or silu"))
        }
        if checkpoint.config.visionFeatureSelectStrategy == "full" {
            throw ConvertError(file: configPath, kind: .invalidValue(
                key: "vision_feature_select_strategy", value: "full", reason: "Ponder's mlp projector drops the class token ('default')"))
        }
        let mm = ["model.multi_modal_projector.", "multi_modal_projector."]
            .first { weights.contains($0 + "linear_1.weight") } ?? "model.multi_modal_projector."
        let features = width * selected.count
        for (gguf, hf, shape) in [("mm.0", "linear_1", [textWidth, features]), ("mm.2", "linear_2", [textWidth, textWidth])] {
            projector.tensors.append(try .mapped(gguf + ".weight", from: mm + hf + ".weight", expected: shape, in: checkpoint))
            projector.tensors.append(try .mapped(gguf + ".bias", from: mm + hf + ".bias", expected: [textWidth], in: checkpoint))
        }
        return [textPlan, projector]
    }
}
