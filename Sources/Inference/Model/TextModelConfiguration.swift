import GGUF

/// The shape and hyper-parameters of a text model, read from GGUF metadata (`{arch}.*` keys).
/// A plain value: no weights, no state.
public struct TextModelConfiguration: Sendable, Equatable {
    public var architecture: TextArchitecture
    public var embeddingLength: Int
    public var blockCount: Int
    public var feedForwardLength: Int
    public var headCount: Int
    public var keyValueHeadCount: Int
    public var headDimension: Int
    /// Dimensions of each head that rope rotates (the rest pass through).
    public var ropeDimensionCount: Int
    public var ropeFrequencyBase: Float
    /// 1 / `rope.scaling.factor` for linear scaling, else 1.
    public var ropeFrequencyScale: Float
    public var rmsNormEpsilon: Float
    public var vocabularySize: Int
    /// Rows of `token_embd.weight`: valid input token ids. At least `vocabularySize` (mllama's
    /// table has 8 more rows than its output, the image token among them).
    public var embeddingRowCount: Int
    /// What each layer is; `blockCount` entries.
    public var layerKinds: [TextLayerKind]
    /// Per layer: its attention window and rope set (`blockCount` entries).
    public var layerAttention: [LayerAttention]
    /// Rope sets besides the file's main one (set 0: `ropeFrequencyBase`, `ropeFrequencyScale`).
    public var extraRopeSets: [RopeSet] = []
    /// Multiplies the embeddings of token inputs (gemma3: √embeddingLength), not image rows.
    public var embeddingScale: Float = 1
    /// Multiplies q·k (default 1/√headDimension).
    public var attentionScale: Float
    /// The gate's activation in the MLP.
    public var feedForwardActivation: FeedForwardActivation = .silu
    /// Whether each block RMS-normalises its attention and MLP outputs before the residual
    /// add (`post_attention_norm`, `post_ffw_norm`: gemma3).
    public var usesPostNorms = false
    /// Whether the rows of one image's span see each other both ways (gemma3).
    public var imageSpansAttendBothWays = false
    /// logits = c · tanh(logits / c) when set.
    public var finalLogitSoftcap: Float?
    /// M-RoPE (qwen2vl): the rotated pairs rotated by the temporal, height and width position
    /// (`rope.dimension_sections`); nil: 1-D rope.
    public var ropeSections: [Int]?
    /// Whether the M-RoPE sections interleave pair by pair (qwen3vl) instead of running one
    /// after the other (qwen2vl).
    public var interleavedRopeSections = false
    /// Text layers after which an image's deepstack features are added (qwen3vl).
    public var deepstackLayerCount = 0
    /// `{arch}.context_length`: what the model was trained for.
    public var trainedContextLength: Int
    /// The most positions per sequence this run allows.
    public var contextLength: Int

    public init(architecture: TextArchitecture, embeddingLength: Int, blockCount: Int, feedForwardLength: Int,
                headCount: Int, keyValueHeadCount: Int, headDimension: Int, ropeDimensionCount: Int,
                ropeFrequencyBase: Float = 10000, ropeFrequencyScale: Float = 1, rmsNormEpsilon: Float = 1e-5,
                vocabularySize: Int, embeddingRowCount: Int? = nil, crossAttentionLayers: [Int] = [],
                trainedContextLength: Int, contextLength: Int) {
        self.architecture = architecture
        self.embeddingLength = embeddingLength
        self.blockCount = blockCount
        self.feedForwardLength = feedForwardLength
        self.headCount = headCount
        self.keyValueHeadCount = keyValueHeadCount
        self.headDimension = headDimension
        self.ropeDimensionCount = ropeDimensionCount
        self.ropeFrequencyBase = ropeFrequencyBase
        self.ropeFrequencyScale = ropeFrequencyScale
        self.rmsNormEpsilon = rmsNormEpsilon
        self.vocabularySize = vocabularySize
        self.embeddingRowCount = max(embeddingRowCount ?? vocabularySize, vocabularySize)
        self.layerKinds = (0..<blockCount).map { crossAttentionLayers.contains($0) ? .crossAttention : .selfAttention }
        self.layerAttention = Array(repeating: LayerAttention(), count: blockCount)
        self.attentionScale = 1 / Float(headDimension).squareRoot()
        self.trainedContextLength = trainedContextLength
        self.contextLength = contextLength
    }

    /// Width of all query heads: `headCount × headDimension`.
    public var queryWidth: Int { headCount * headDimension }
    /// Width of all key (or value) heads: `keyValueHeadCount × headDimension`.
    public var keyValueWidth: Int { keyValueHeadCount * headDimension }
    /// Query heads per key/value head (GQA); query head h reads kv head h / groupSize.
    public var groupSize: Int { headCount / keyValueHeadCount }
    public var ropeStyle: RopeStyle { architecture.ropeStyle }
    /// Indices of the cross-attention layers.
    public var crossAttentionLayers: [Int] { layerKinds.indices.filter { layerKinds[$0] == .crossAttention } }
    /// The KV cache layer of each text layer: self-attention layers in order, nil for the others.
    public var cacheLayers: [Int?] {
        var next = 0
        return layerKinds.map { kind in
            guard kind == .selfAttention else { return nil }
            defer { next += 1 }
            return next
        }
    }
    /// Rope set `index` (0: the file's main base and scale).
    public func ropeSet(_ index: Int) -> RopeSet {
        index == 0 ? RopeSet(base: ropeFrequencyBase, scale: ropeFrequencyScale) : extraRopeSets[index - 1]
    }
    /// Layers that keep keys and values in the KV cache.
    public var cachedLayerCount: Int { layerKinds.filter { $0 == .selfAttention }.count }

    /// Reads the configuration of `file`. `contextLength` overrides the per-sequence limit
    /// (nil: the trained length capped at `TextModelOptions.defaultContextLimit`).
    /// `vocabularySize` comes from `token_embd.weight`'s shape.
    public init(file: GGUFFile, contextLength: Int? = nil) throws(TextModelError) {
        let name = file.architecture
        guard let name, let architecture = TextArchitecture(fileArchitecture: name) else {
            throw TextModelError(file: file.path, kind: .unsupportedArchitecture(name))
        }
        let reader = MetadataReader(textModel: file, prefix: name)
        let embeddingLength = try reader.positive("embedding_length")
        let headCount = try reader.positive("attention.head_count")
        let keyValueHeadCount = try reader.positive("attention.head_count_kv", default: headCount)
        guard headCount % keyValueHeadCount == 0 else {
            throw reader.invalid("attention.head_count_kv", keyValueHeadCount,
                                 "it must divide attention.head_count (\(headCount))")
        }
        if try reader.optionalInt("attention.key_length") == nil, embeddingLength % headCount != 0 {
            throw reader.invalid("attention.head_count", headCount, "it must divide embedding_length (\(embeddingLength))")
        }
        let headDimension = try reader.positive("attention.key_length", default: embeddingLength / headCount)
        let valueLength = try reader.positive("attention.value_length", default: headDimension)
        guard valueLength == headDimension else {
            throw reader.invalid("attention.value_length", valueLength, "it must equal attention.key_length (\(headDimension))")
        }
        let ropeDimensionCount = try reader.positive("rope.dimension_count", default: headDimension)
        guard ropeDimensionCount <= headDimension, ropeDimensionCount % 2 == 0 else {
            throw reader.invalid("rope.dimension_count", ropeDimensionCount,
                                 "it must be even and at most the head dimension (\(headDimension))")
        }
        let scalingType = try reader.optionalString("rope.scaling.type") ?? "none"
        guard scalingType == "none" || scalingType == "linear" else {
            throw reader.invalid("rope.scaling.type", scalingType, "only 'none' and 'linear' rope scaling are supported")
        }
        var scaleFactor = try reader.optionalFloat("rope.scaling.factor") ?? 0
        if scaleFactor == 0 { scaleFactor = try reader.optionalFloat("rope.scale_linear") ?? 0 }
        let trained = try reader.positive("context_length")
        if let contextLength, contextLength <= 0 {
            throw TextModelError(file: file.path, kind: .invalidValue(
                key: "context length", value: "\(contextLength)", reason: "it must be positive"))
        }
        guard let embeddings = file.tensor(named: "token_embd.weight") else {
            throw TextModelError(file: file.path, kind: .missingTensor("token_embd.weight"))
        }
        guard embeddings.dimensions.count == 2, embeddings.dimensions[0] == embeddingLength else {
            throw TextModelError(file: file.path, kind: .wrongShape(
                tensor: "token_embd.weight", expected: [embeddingLength, -1], found: embeddings.dimensions))
        }
        // The output's rows are the vocabulary; the embedding table may hold more (mllama).
        var vocabularySize = embeddings.dimensions[1]
        if let output = file.tensor(named: "output.weight"), output.dimensions.count == 2,
           output.dimensions[1] > 0, output.dimensions[1] <= vocabularySize {
            vocabularySize = output.dimensions[1]
        }
        let blockCount = try reader.positive("block_count")
        let crossAttentionLayers = try architecture.crossAttentionLayers(reader, blockCount: blockCount)
        self.init(architecture: architecture, embeddingLength: embeddingLength,
                  blockCount: blockCount,
                  feedForwardLength: try reader.positive("feed_forward_length"),
                  headCount: headCount, keyValueHeadCount: keyValueHeadCount, headDimension: headDimension,
                  ropeDimensionCount: ropeDimensionCount,
                  ropeFrequencyBase: try reader.optionalFloat("rope.freq_base") ?? 10000,
                  ropeFrequencyScale: scaleFactor == 0 ? 1 : 1 / scaleFactor,
                  rmsNormEpsilon: try reader.requiredFloat("attention.layer_norm_rms_epsilon"),
                  vocabularySize: vocabularySize, embeddingRowCount: embeddings.dimensions[1],
                  crossAttentionLayers: crossAttentionLayers, trainedContextLength: trained,
                  contextLength: contextLength ?? min(trained, TextModelOptions.defaultContextLimit))
        if architecture == .gemma3 { try Gemma3Family.configure(&self, reader) }
        if architecture == .qwen2vl || architecture == .qwen3vl {
            ropeSections = try Qwen2VLFamily.sections(reader, pairs: ropeDimensionCount / 2)
        }
        if architecture == .qwen3vl {
            interleavedRopeSections = true
            deepstackLayerCount = try reader.optionalInt("n_deepstack_layers") ?? 0
            guard (0...blockCount).contains(deepstackLayerCount) else {
                throw reader.invalid("n_deepstack_layers", deepstackLayerCount, "it must be in 0...\(blockCount)")
            }
        }
    }
}

/// A rope frequency base and linear position scale.
public struct RopeSet: Sendable, Equatable {
    public var base: Float
    public var scale: Float

    public init(base: Float, scale: Float) {
        self.base = base
        self.scale = scale
    }
}

/// How one self-attention layer attends: over every earlier position, or a sliding window of
/// the last `slidingWindow` positions; with which rope set.
public struct LayerAttention: Sendable, Equatable {
    public var slidingWindow: Int?
    public var ropeSet: Int

    public init(slidingWindow: Int? = nil, ropeSet: Int = 0) {
        self.slidingWindow = slidingWindow
        self.ropeSet = ropeSet
    }
}

/// The activation of the MLP's gate: `act(Wgate·h) ⊙ Wup·h`.
public enum FeedForwardActivation: Sendable, Equatable {
    /// x·σ(x) (llama, qwen2).
    case silu
    /// GELU, tanh form (gemma's `gelu_pytorch_tanh`).
    case geluTanh
}
