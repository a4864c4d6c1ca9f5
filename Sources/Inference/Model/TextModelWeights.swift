import Foundation
import GGUF

/// The weights of a text model: 2-D tensors as `WeightMatrix` views into the mmapped file
/// (never copied), small vectors (norms, biases, rope factors) dequantized to `[Float]`.
/// Immutable; keeps the file alive.
public struct TextModelWeights: Sendable {
    public struct Layer: Sendable {
        /// `blk.N.attn_norm.weight` `[embeddingLength]`.
        public let attentionNorm: [Float]
        /// `attn_q` `[queryWidth × embeddingLength]`, `attn_k` and `attn_v`
        /// `[keyValueWidth × embeddingLength]`, `attn_output` `[embeddingLength × queryWidth]`.
        public let query, key, value, attentionOutput: WeightMatrix
        /// Optional q/k/v biases (qwen2 has them).
        public let queryBias, keyBias, valueBias: [Float]?
        /// `blk.N.ffn_norm.weight` `[embeddingLength]`.
        public let feedForwardNorm: [Float]
        /// `ffn_gate`, `ffn_up` `[feedForwardLength × embeddingLength]`,
        /// `ffn_down` `[embeddingLength × feedForwardLength]`.
        public let gate, up, down: WeightMatrix
        /// For a cross-attention layer: the per-head norms and the gates. Its `query`, `key`,
        /// `value` and `attentionOutput` are then the cross-attention projections.
        public let cross: CrossAttention?
        /// `attn_q_norm`, `attn_k_norm` `[headDimension]`: RMSNorm of each head of q and k
        /// before rope (gemma3).
        public var queryNorm: [Float]? = nil
        public var keyNorm: [Float]? = nil
        /// `post_attention_norm`, `post_ffw_norm` `[embeddingLength]`: RMSNorm of the attention
        /// and MLP outputs before the residual add (gemma3).
        public var postAttentionNorm: [Float]? = nil
        public var postFeedForwardNorm: [Float]? = nil
    }

    /// The parts particular to a cross-attention layer (mllama).
    public struct CrossAttention: Sendable {
        /// RMSNorm weights over one head, `[headDimension]`, applied to q and to k.
        public let queryNorm, keyNorm: [Float]
        /// tanh of the stored gates: how much of the attention and of the MLP output is added.
        public let attentionGate, mlpGate: Float
    }

    public let file: GGUFFile
    /// `token_embd.weight` `[vocabularySize × embeddingLength]`.
    public let tokenEmbedding: WeightMatrix
    /// `output_norm.weight` `[embeddingLength]`.
    public let outputNorm: [Float]
    /// `output.weight`, or `token_embd.weight` when the output is tied.
    public let output: WeightMatrix
    /// `output.bias` `[vocabularySize]`, when present.
    public let outputBias: [Float]?
    /// `rope_freqs.weight` `[ropeDimensionCount / 2]`: per-pair frequency divisors, when present.
    public let ropeFrequencyFactors: [Float]?
    public let layers: [Layer]

    public var isOutputTied: Bool { file.tensor(named: "output.weight") == nil }

    /// Bytes of weights repacked at load, and the seconds that took.
    public private(set) var repackedBytes = 0
    public private(set) var repackSeconds = 0.0

    /// Views every tensor `configuration` calls for and checks names, shapes and types. With
    /// `repack`, the matrices whose type has an outer-product kernel on this CPU are repacked
    /// (the token embedding stays mapped for its row lookups; a tied output is repacked).
    public init(file: GGUFFile, configuration c: TextModelConfiguration, repack: Bool = false) throws(TextModelError) {
        let clock = ContinuousClock(), start = clock.now
        var loader = TensorLoader(file: file) { problem -> TextModelError in
            switch problem {
            case .missing(let name): TextModelError(file: file.path, kind: .missingTensor(name))
            case .wrongShape(let name, let expected, let found):
                TextModelError(file: file.path, kind: .wrongShape(tensor: name, expected: expected, found: found))
            case .unsupportedType(let name, let type):
                TextModelError(file: file.path, kind: .unsupportedTensorType(tensor: name, type: type))
            }
        }
        self.file = file
        tokenEmbedding = try loader.matrix("token_embd.weight", rows: c.embeddingRowCount, columns: c.embeddingLength)
        loader.repacks = repack
        outputNorm = try loader.vector("output_norm.weight", length: c.embeddingLength)
        output = try file.tensor(named: "output.weight") == nil
            ? (c.embeddingRowCount == c.vocabularySize ? (repack ? tokenEmbedding.withRepackedRows() : tokenEmbedding)
               : loader.matrix("output.weight", rows: c.vocabularySize, columns: c.embeddingLength))
            : loader.matrix("output.weight", rows: c.vocabularySize, columns: c.embeddingLength)
        outputBias = try loader.optionalVector("output.bias", length: c.vocabularySize)
        ropeFrequencyFactors = try loader.optionalVector("rope_freqs.weight", length: c.ropeDimensionCount / 2)
        var layers: [Layer] = []
        layers.reserveCapacity(c.blockCount)
        for index in 0..<c.blockCount {
            let prefix = "blk.\(index)."
            func matrix(_ name: String, _ rows: Int, _ columns: Int) throws(TextModelError) -> WeightMatrix {
                try loader.matrix(prefix + name, rows: rows, columns: columns)
            }
            func norm(_ name: String, _ length: Int, required: Bool) throws(TextModelError) -> [Float]? {
                required ? try loader.vector(prefix + name, length: length) : try loader.optionalVector(prefix + name, length: length)
            }
            func bias(_ name: String, _ length: Int) throws(TextModelError) -> [Float]? {
                if c.architecture.requiresAttentionBiases { return try loader.vector(prefix + name, length: length) }
                return try loader.optionalVector(prefix + name, length: length)
            }
            let d = c.embeddingLength, ff = c.feedForwardLength
            if c.layerKinds[index] == .crossAttention {
                layers.append(try Self.crossAttentionLayer(index, loader, c))
                continue
            }
            layers.append(Layer(
                attentionNorm: try loader.vector(prefix + "attn_norm.weight", length: d),
                query: try matrix("attn_q.weight", c.queryWidth, d),
                key: try matrix("attn_k.weight", c.keyValueWidth, d),
                value: try matrix("attn_v.weight", c.keyValueWidth, d),
                attentionOutput: try matrix("attn_output.weight", d, c.queryWidth),
                queryBias: try bias("attn_q.bias", c.queryWidth),
                keyBias: try bias("attn_k.bias", c.keyValueWidth),
                valueBias: try bias("attn_v.bias", c.keyValueWidth),
                feedForwardNorm: try loader.vector(prefix + "ffn_norm.weight", length: d),
                gate: try matrix("ffn_gate.weight", ff, d),
                up: try matrix("ffn_up.weight", ff, d),
                down: try matrix("ffn_down.weight", d, ff),
                cross: nil,
                queryNorm: try norm("attn_q_norm.weight", c.headDimension, required: c.architecture.requiresHeadNorms),
                keyNorm: try norm("attn_k_norm.weight", c.headDimension, required: c.architecture.requiresHeadNorms),
                postAttentionNorm: try norm("post_attention_norm.weight", d, required: c.usesPostNorms),
                postFeedForwardNorm: try norm("post_ffw_norm.weight", d, required: c.usesPostNorms)))
        }
        self.layers = layers
        if repack {
            let all = [output] + layers.flatMap { layer in
                [layer.query, layer.key, layer.value, layer.attentionOutput, layer.gate, layer.up, layer.down]
            }
            repackedBytes = all.reduce(0) { $0 + ($1.repacked?.byteCount ?? 0) }
            let elapsed = clock.now - start
            repackSeconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        }
    }

    /// A cross-attention layer: `attn_norm`, the `cross_attn_*` projections, norms and gates,
    /// `ffn_norm` and the MLP.
    static func crossAttentionLayer(_ index: Int, _ loader: TensorLoader<TextModelError>,
                                    _ c: TextModelConfiguration) throws(TextModelError) -> Layer {
        typealias T = MllamaFamily.CrossAttentionTensor
        let prefix = "blk.\(index).", d = c.embeddingLength, ff = c.feedForwardLength, hd = c.headDimension
        func gate(_ tensor: T) throws(TextModelError) -> Float {
            var name = tensor.name(layer: index)
            if loader.file.tensor(named: name) == nil, loader.file.tensor(named: name + ".weight") != nil { name += ".weight" }
            guard let info = loader.file.tensor(named: name) else { throw loader.fail(.missing(name)) }
            let values = try loader.values(name, dimensions: info.dimensions)
            guard values.count == 1, values[0].isFinite else {
                throw loader.fail(.wrongShape(name, expected: [1], found: info.dimensions))
            }
            return tanh(values[0])
        }
        return Layer(
            attentionNorm: try loader.vector(prefix + "attn_norm.weight", length: d),
            query: try loader.matrix(T.query.name(layer: index), rows: c.queryWidth, columns: d),
            key: try loader.matrix(T.key.name(layer: index), rows: c.keyValueWidth, columns: d),
            value: try loader.matrix(T.value.name(layer: index), rows: c.keyValueWidth, columns: d),
            attentionOutput: try loader.matrix(T.output.name(layer: index), rows: d, columns: c.queryWidth),
            queryBias: nil, keyBias: nil, valueBias: nil,
            feedForwardNorm: try loader.vector(prefix + "ffn_norm.weight", length: d),
            gate: try loader.matrix(prefix + "ffn_gate.weight", rows: ff, columns: d),
            up: try loader.matrix(prefix + "ffn_up.weight", rows: ff, columns: d),
            down: try loader.matrix(prefix + "ffn_down.weight", rows: d, columns: ff),
            // The q/k rows of each head are stored permuted as llama's rope layout (Ollama's and
            // Ponder's converters), so the per-head norm weights are permuted the same way.
            cross: CrossAttention(queryNorm: MllamaFamily.ropePermuted(try loader.vector(T.queryNorm.name(layer: index), length: hd)),
                                  keyNorm: MllamaFamily.ropePermuted(try loader.vector(T.keyNorm.name(layer: index), length: hd)),
                                  attentionGate: try gate(.attentionGate), mlpGate: try gate(.mlpGate)))
    }

    /// Writes the embedding of `token` (one dequantized row of `token_embd`) to `destination`
    /// `[embeddingLength]`. The token was range-checked by the caller.
    public func embedding(of token: Int32, into destination: UnsafeMutablePointer<Float>) {
        let row = tokenEmbedding.rowBytes(Int(token))
        // The type was checked when the weights were loaded.
        try! tokenEmbedding.type.dequantize(row, elementCount: tokenEmbedding.columns,
                                            into: UnsafeMutableBufferPointer(start: destination, count: tokenEmbedding.columns))
    }

    /// Bytes of every tensor in the file (what the mmap brings in).
    public var byteCount: Int { file.tensors.reduce(0) { $0 + $1.byteCount } }
}
