/// `config.json` of a Hugging Face checkpoint: the fields the converters read. A vision-language
/// model nests its text and vision settings under `text_config` and `vision_config`, which
/// have the same shape.
public final class HFConfig: Decodable, Sendable {
    public let architectures: [String]?
    public let modelType: String?
    public let nameOrPath: String?

    // Transformer shape.
    public let hiddenSize: Int?
    public let intermediateSize: Int?
    public let numHiddenLayers: Int?
    public let numAttentionHeads: Int?
    public let numKeyValueHeads: Int?
    public let headDim: Int?
    public let maxPositionEmbeddings: Int?
    public let vocabSize: Int?
    public let rmsNormEps: Double?
    public let layerNormEps: Double?
    public let tieWordEmbeddings: Bool?
    public let hiddenAct: String?

    // RoPE: older checkpoints (`rope_theta`, `rope_scaling`), transformers 5 (`rope_parameters`).
    public let ropeTheta: Double?
    public let ropeScaling: RopeParameters?
    public let ropeParameters: RopeParameters?

    public let bosTokenId: TokenIDs?
    public let eosTokenId: TokenIDs?
    public let padTokenId: TokenIDs?

    // Vision.
    public let imageSize: Int?
    public let patchSize: Int?
    public let numChannels: Int?
    public let scaleFactor: Int?
    public let imageTokenId: Int?
    public let imageTokenIndex: Int?
    public let visionFeatureLayer: TokenIDs?
    public let visionFeatureSelectStrategy: String?
    public let projectorHiddenAct: String?

    // mllama (Llama 3.2 Vision).
    public let crossAttentionLayers: [Int]?
    public let numGlobalLayers: Int?
    public let intermediateLayersIndices: [Int]?
    public let maxNumTiles: Int?
    public let attentionHeads: Int?
    public let normEps: Double?
    public let visionOutputDim: Int?

    public let textConfig: HFConfig?
    public let visionConfig: HFConfig?

    enum CodingKeys: String, CodingKey {
        case architectures, modelType = "model_type", nameOrPath = "_name_or_path"
        case hiddenSize = "hidden_size", intermediateSize = "intermediate_size", numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads", numKeyValueHeads = "num_key_value_heads", headDim = "head_dim"
        case maxPositionEmbeddings = "max_position_embeddings", vocabSize = "vocab_size", rmsNormEps = "rms_norm_eps"
        case layerNormEps = "layer_norm_eps", tieWordEmbeddings = "tie_word_embeddings", hiddenAct = "hidden_act"
        case ropeTheta = "rope_theta", ropeScaling = "rope_scaling", ropeParameters = "rope_parameters"
        case bosTokenId = "bos_token_id", eosTokenId = "eos_token_id", padTokenId = "pad_token_id"
        case imageSize = "image_size", patchSize = "patch_size", numChannels = "num_channels", scaleFactor = "scale_factor"
        case imageTokenId = "image_token_id", imageTokenIndex = "image_token_index"
        case visionFeatureLayer = "vision_feature_layer", visionFeatureSelectStrategy = "vision_feature_select_strategy"
        case projectorHiddenAct = "projector_hidden_act"
        case crossAttentionLayers = "cross_attention_layers", numGlobalLayers = "num_global_layers"
        case intermediateLayersIndices = "intermediate_layers_indices", maxNumTiles = "max_num_tiles"
        case attentionHeads = "attention_heads", normEps = "norm_eps", visionOutputDim = "vision_output_dim"
        case textConfig = "text_config", visionConfig = "vision_config"
    }

    /// The RoPE settings whichever way they are spelt: `rope_parameters`, else `rope_scaling`
    /// with `rope_theta` folded in.
    public var rope: RopeParameters {
        if let ropeParameters { return ropeParameters }
        var merged = ropeScaling ?? RopeParameters()
        if merged.ropeTheta == nil { merged.ropeTheta = ropeTheta }
        return merged
    }
}

/// `rope_scaling` / `rope_parameters`.
public struct RopeParameters: Decodable, Sendable, Equatable {
    public var ropeType: String?
    public var ropeTheta: Double?
    public var factor: Double?
    public var lowFreqFactor: Double?
    public var highFreqFactor: Double?
    public var originalMaxPositionEmbeddings: Int?

    enum CodingKeys: String, CodingKey {
        case ropeType = "rope_type", legacyType = "type", ropeTheta = "rope_theta", factor
        case lowFreqFactor = "low_freq_factor", highFreqFactor = "high_freq_factor"
        case originalMaxPositionEmbeddings = "original_max_position_embeddings"
    }

    public init() {}

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        ropeType = try c.decodeIfPresent(String.self, forKey: .ropeType) ?? c.decodeIfPresent(String.self, forKey: .legacyType)
        ropeTheta = try c.decodeIfPresent(Double.self, forKey: .ropeTheta)
        factor = try c.decodeIfPresent(Double.self, forKey: .factor)
        lowFreqFactor = try c.decodeIfPresent(Double.self, forKey: .lowFreqFactor)
        highFreqFactor = try c.decodeIfPresent(Double.self, forKey: .highFreqFactor)
        originalMaxPositionEmbeddings = try c.decodeIfPresent(Int.self, forKey: .originalMaxPositionEmbeddings)
    }
}

/// A token id field that may be a number, a list of numbers or null.
public enum TokenIDs: Decodable, Sendable, Equatable {
    case one(Int)
    case many([Int])

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let value = try? c.decode(Int.self) { self = .one(value); return }
        self = .many(try c.decode([Int].self))
    }

    /// The id when there is exactly one number (llama.cpp ignores lists).
    public var single: Int? {
        if case .one(let value) = self { return value }
        return nil
    }

    public var all: [Int] {
        switch self {
        case .one(let value): return [value]
        case .many(let values): return values
        }
    }
}
