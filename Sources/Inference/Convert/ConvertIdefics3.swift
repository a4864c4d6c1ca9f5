import GGUF

/// `Idefics3ForConditionalGeneration` (SmolVLM) → a `llama` text GGUF (the decoder under
/// `model.text_model.`) and a projector file of type `idefics3`: a SigLIP tower whose embeddings
/// stay F32, GELU (tanh), post-norm, and one linear layer after the pixel shuffle
/// (`mm.model.fc.weight`).
public enum ConvertIdefics3: ConvertFamily {
    public static let architectures = ["Idefics3ForConditionalGeneration", "SmolVLMForConditionalGeneration"]

    public static func plans(for checkpoint: HFCheckpoint) throws(ConvertError) -> [ConvertPlan] {
        let configPath = checkpoint.path("config.json")
        guard let text = checkpoint.config.textConfig else {
            throw ConvertError(file: configPath, kind: .missingKey("text_config"))
        }
        guard let vision = checkpoint.config.visionConfig else {
            throw ConvertError(file: configPath, kind: .missingKey("vision_config"))
        }
        let textPlan = try TextModelMapping(architecture: "llama", config: text, keyPrefix: "text_config.",
                                            tensorPrefix: "model.text_model.").plan(checkpoint)
        let textWidth = try text.require(text.hiddenSize, "hidden_size", in: checkpoint, prefix: "text_config.")
        let tower = VisionTowerMapping(config: vision, tensorPrefix: "model.vision_model.",
                                       textEmbeddingLength: textWidth, embeddingRule: .alwaysF32)
        var projector = try tower.plan(checkpoint)
        let scale = checkpoint.config.scaleFactor ?? 2
        let width = try vision.require(vision.hiddenSize, "hidden_size", in: checkpoint, prefix: "vision_config.")
        projector.set("clip.projector_type", .string("idefics3"))
        projector.set("clip.vision.attention.layer_norm_epsilon", .float32(Float(vision.layerNormEps ?? 1e-5)))
        projector.set("clip.vision.projector.scale_factor", .uint32(UInt32(scale)))
        projector.set("clip.use_gelu", .bool(true))
        let imageSize = vision.imageSize ?? 0
        projector.set("clip.vision.preproc_image_size", .uint32(UInt32(checkpoint.preprocessorInt("size", "longest_edge") ?? imageSize)))
        projector.tensors.append(try .mapped("mm.model.fc.weight", from: "model.connector.modality_projection.proj.weight",
                                             expected: [textWidth, width * scale * scale], in: checkpoint))
        return [textPlan, projector]
    }
}
