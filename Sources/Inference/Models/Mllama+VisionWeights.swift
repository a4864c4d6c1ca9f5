import GGUF

/// The weights of an mllama vision tower and projector, read under Ollama's tensor names
/// (current single-file layout: `attn_norm`, `attn_output`, `ffn_up` = fc1; its legacy
/// projector files use `ln1`, `attn_out` and swap `ffn_up`/`ffn_down`, which is detected).
/// Gates are stored as used: tanh already applied, `1 − tanh` for the position gate.
public struct MllamaVisionWeights: Sendable {
    /// A layer of the local or global encoder (the shared ViT block, gates set in global layers).
    public typealias Layer = VisionWeights.Block

    public let file: GGUFFile
    /// `[d × 3p²]`.
    public let patchEmbedding: WeightMatrix
    public let classEmbedding: [Float]
    /// `[tokensPerTile × d]`, and its gate (stored as 1 − tanh(g)).
    public let positionEmbedding: [Float]
    public let positionGate: Float
    /// One row per aspect-ratio id: `[maxTiles × tokensPerTile × d]`; gate tanh(g).
    public let tilePositionEmbedding: WeightMatrix
    public let tilePositionGate: Float
    /// One row per aspect-ratio id: `[maxTiles × d]`; gates tanh(g).
    public let preTileEmbedding, postTileEmbedding: WeightMatrix
    public let preTileGate, postTileGate: Float
    public let preNorm, postNorm: VisionWeights.LayerNorm
    public let layers: [Layer]
    public let globalLayers: [Layer]
    /// `mm.0`: `[projectionLength × outputLength]` and its bias.
    public let projector: WeightMatrix
    public let projectorBias: [Float]

    public init(file: GGUFFile, configuration c: MllamaVisionConfiguration) throws(VisionError) {
        let path = file.path
        let loader = TensorLoader(vision: file)
        let d = c.embeddingLength, ff = c.feedForwardLength, p = c.patchSize, n = c.tokensPerTile
        let ratios = c.supportedAspectRatios.count + 1
        self.file = file
        let patch = try loader.tensor("v.patch_embd.weight", dimensions: [p, p, 3, d])
        patchEmbedding = WeightMatrix(name: patch.name, type: patch.type, rows: d, columns: 3 * p * p, data: file.data(for: patch))
        classEmbedding = try loader.vector(Self.name(file, "v.class_embd"), length: d)
        positionEmbedding = try loader.values("v.position_embd.weight", dimensions: [d, n])
        func gate(_ name: String) throws(VisionError) -> Float {
            let found = Self.name(file, name)
            let values = try loader.values(found, dimensions: [1])
            guard values[0].isFinite else {
                throw VisionError(file: path, kind: .invalidValue(key: found, value: "\(values[0])", reason: "a gate must be finite"))
            }
            return values[0]
        }
        positionGate = try gate("v.position_embd.gate")
        tilePositionEmbedding = try loader.matrix("v.tile_position_embd.weight", rows: ratios, columns: c.maxTiles * n * d)
        tilePositionGate = try gate("v.tile_position_embd.gate")
        preTileEmbedding = try loader.matrix("v.pre_tile_position_embd.weight", rows: ratios, columns: c.maxTiles * d)
        postTileEmbedding = try loader.matrix("v.post_tile_position_embd.weight", rows: ratios, columns: c.maxTiles * d)
        preTileGate = try gate("v.pre_tile_position_embd.gate")
        postTileGate = try gate("v.post_tile_position_embd.gate")
        func norm(_ prefix: String) throws(VisionError) -> VisionWeights.LayerNorm {
            VisionWeights.LayerNorm(weight: try loader.vector(prefix + ".weight", length: d),
                                    bias: try loader.vector(prefix + ".bias", length: d))
        }
        preNorm = try norm("v.pre_ln")
        postNorm = try norm("v.post_ln")
        // Ollama's legacy projector names the norms ln1/ln2 and swaps ffn_up and ffn_down.
        let legacy = file.tensor(named: "v.blk.0.ln1.weight") != nil
        func layer(_ prefix: String, gated: Bool) throws(VisionError) -> Layer {
            let upName = legacy ? "ffn_down" : "ffn_up", downName = legacy ? "ffn_up" : "ffn_down"
            return Layer(
                norm1: try norm(prefix + (legacy ? "ln1" : "attn_norm")),
                norm2: try norm(prefix + (legacy ? "ln2" : "ffn_norm")),
                query: try loader.matrix(prefix + "attn_q.weight", rows: d, columns: d),
                key: try loader.matrix(prefix + "attn_k.weight", rows: d, columns: d),
                value: try loader.matrix(prefix + "attn_v.weight", rows: d, columns: d),
                output: try loader.matrix(prefix + (legacy ? "attn_out" : "attn_output") + ".weight", rows: d, columns: d),
                queryBias: nil, keyBias: nil, valueBias: nil, outputBias: nil,
                up: try loader.matrix(prefix + upName + ".weight", rows: ff, columns: d),
                down: try loader.matrix(prefix + downName + ".weight", rows: d, columns: ff),
                upBias: try loader.vector(prefix + upName + ".bias", length: ff),
                downBias: try loader.vector(prefix + downName + ".bias", length: d),
                attentionGate: gated ? try gate(prefix + "attn_gate") : 1,
                feedForwardGate: gated ? try gate(prefix + "ffn_gate") : 1)
        }
        var layers: [Layer] = []
        for l in 0..<c.blockCount { layers.append(try layer("v.blk.\(l).", gated: false)) }
        self.layers = layers
        var globalLayers: [Layer] = []
        for l in 0..<c.globalBlockCount { globalLayers.append(try layer("v.global.blk.\(l).", gated: true)) }
        self.globalLayers = globalLayers
        projector = try loader.matrix("mm.0.weight", rows: c.projectionLength, columns: c.outputLength)
        projectorBias = try loader.vector("mm.0.bias", length: c.projectionLength)
    }

    /// `name`, or `name.weight` when the file stores it so.
    static func name(_ file: GGUFFile, _ name: String) -> String {
        file.tensor(named: name) == nil && file.tensor(named: name + ".weight") != nil ? name + ".weight" : name
    }

    /// Row `id` of an embedding table, dequantized.
    func row(_ table: WeightMatrix, _ id: Int) -> [Float] {
        var values = [Float](repeating: 0, count: table.columns)
        values.withUnsafeMutableBufferPointer {
            // The type was checked when the weights were loaded.
            try! table.type.dequantize(table.rowBytes(id), elementCount: table.columns, into: $0)
        }
        return values
    }
}
