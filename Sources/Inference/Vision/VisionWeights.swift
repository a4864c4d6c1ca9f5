import GGUF

/// The weights of a ViT vision encoder and its projector: matrices as `WeightMatrix` views
/// into the mmapped file, vectors dequantized to `[Float]`. Immutable; keeps the file alive.
public struct VisionWeights: Sendable {
    public struct LayerNorm: Sendable {
        public let weight: [Float]
        public let bias: [Float]?
    }

    public struct Block: Sendable {
        public let norm1, norm2: LayerNorm
        public let query, key, value, output: WeightMatrix
        public let queryBias, keyBias, valueBias, outputBias: [Float]?
        /// `ffn_up` `[feedForwardLength × embeddingLength]` and `ffn_down`
        /// `[embeddingLength × feedForwardLength]`, swapped back for legacy LLaVA files.
        public let up, down: WeightMatrix
        public let upBias, downBias: [Float]?
        /// Gates of the attention and MLP outputs (mllama's global layers store tanh(g); 1 elsewhere).
        public var attentionGate: Float = 1
        public var feedForwardGate: Float = 1
    }

    public let file: GGUFFile
    /// `v.patch_embd.weight`, GGUF dims `{p, p, 3, embd}`, viewed as `[embd × 3p²]` rows laid
    /// out channel, then kernel row, then kernel column.
    public let patchEmbedding: WeightMatrix
    public let patchBias: [Float]?
    /// `v.class_embd` `[embd]`, when the encoder has a class token.
    public let classEmbedding: [Float]?
    /// `v.position_embd.weight` `[positions × embd]`.
    public let positionEmbedding: [Float]
    public let preNorm, postNorm: LayerNorm?
    public let blocks: [Block]
    public let projector: any VisionProjector

    public init(file: GGUFFile, configuration c: VisionConfiguration) throws(VisionError) {
        let loader = TensorLoader(vision: file)
        let d = c.embeddingLength, ff = c.feedForwardLength, p = c.patchSize
        self.file = file
        let patch = try loader.tensor("v.patch_embd.weight", dimensions: [p, p, 3, d])
        patchEmbedding = WeightMatrix(name: patch.name, type: patch.type, rows: d, columns: 3 * p * p,
                                      data: file.data(for: patch))
        patchBias = try loader.optionalVector("v.patch_embd.bias", length: d)
        classEmbedding = try loader.optionalVector("v.class_embd", length: d)
        let positions = c.patchCount + (classEmbedding == nil ? 0 : 1)
        positionEmbedding = try loader.values("v.position_embd.weight", dimensions: [d, positions])
        func norm(_ prefix: String, required: Bool) throws(VisionError) -> LayerNorm? {
            if !required && file.tensor(named: prefix + ".weight") == nil { return nil }
            return LayerNorm(weight: try loader.vector(prefix + ".weight", length: d),
                             bias: try loader.optionalVector(prefix + ".bias", length: d))
        }
        preNorm = try norm("v.pre_ln", required: false)
        postNorm = try norm("v.post_ln", required: false)
        var blocks: [Block] = []
        for index in 0..<c.blockCount {
            let prefix = "v.blk.\(index)."
            // Legacy LLaVA converters stored ffn_up and ffn_down under each other's names;
            // their shapes tell them apart.
            let upInfo = file.tensor(named: prefix + "ffn_up.weight")
            let swapped = upInfo?.dimensions == [ff, d] && ff != d
            let upName = prefix + (swapped ? "ffn_down" : "ffn_up"), downName = prefix + (swapped ? "ffn_up" : "ffn_down")
            blocks.append(Block(
                norm1: try norm(prefix + "ln1", required: true)!,
                norm2: try norm(prefix + "ln2", required: true)!,
                query: try loader.matrix(prefix + "attn_q.weight", rows: d, columns: d),
                key: try loader.matrix(prefix + "attn_k.weight", rows: d, columns: d),
                value: try loader.matrix(prefix + "attn_v.weight", rows: d, columns: d),
                output: try loader.matrix(prefix + "attn_out.weight", rows: d, columns: d),
                queryBias: try loader.optionalVector(prefix + "attn_q.bias", length: d),
                keyBias: try loader.optionalVector(prefix + "attn_k.bias", length: d),
                valueBias: try loader.optionalVector(prefix + "attn_v.bias", length: d),
                outputBias: try loader.optionalVector(prefix + "attn_out.bias", length: d),
                up: try loader.matrix(upName + ".weight", rows: ff, columns: d),
                down: try loader.matrix(downName + ".weight", rows: d, columns: ff),
                upBias: try loader.optionalVector(upName + ".bias", length: ff),
                downBias: try loader.optionalVector(downName + ".bias", length: d)))
        }
        self.blocks = blocks
        let featureWidth = d * max(1, c.featureLayers.count)
        switch c.projectorType {
        case .mlp: projector = try MLPProjector(loader: loader, inputWidth: featureWidth)
        case .idefics3: projector = try Idefics3Projector(loader: loader, inputWidth: featureWidth, scaleFactor: c.scaleFactor)
        case .gemma3:
            projector = try Gemma3Projector(loader: loader, inputWidth: featureWidth, poolSize: c.scaleFactor,
                                            epsilon: c.layerNormEpsilon)
        }
    }
}
