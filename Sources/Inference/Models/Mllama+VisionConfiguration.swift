import GGUF

/// The vision tower of an mllama model, read from `mllama.vision.*` keys: in Ponder's and
/// Ollama's legacy projector files (`general.architecture = mllama`), or in Ollama's
/// single-file models, which hold text and vision together.
public struct MllamaVisionConfiguration: Sendable, Equatable {
    /// Side of one tile, in pixels (560 in the 11B).
    public var imageSize: Int
    public var patchSize: Int
    public var maxTiles: Int
    public var embeddingLength: Int
    public var feedForwardLength: Int
    public var headCount: Int
    /// Local (ungated) and global (gated) encoder layers.
    public var blockCount: Int
    public var globalBlockCount: Int
    /// Local layers whose outputs are concatenated with the final states.
    public var intermediateLayers: [Int]
    public var layerNormEpsilon: Float
    public var imageMean: [Float]
    public var imageStd: [Float]
    /// Width of the projected states (the text model's embedding length).
    public var projectionLength: Int

    public var patchesPerSide: Int { imageSize / patchSize }
    /// Patches plus the class token of one tile (1601 in the 11B).
    public var tokensPerTile: Int { patchesPerSide * patchesPerSide + 1 }
    /// Tokens per tile padded to a multiple of 8, as HF pads them (1608).
    public var paddedTokensPerTile: Int { (tokensPerTile + 7) / 8 * 8 }
    public var headDimension: Int { embeddingLength / headCount }
    /// Width of the encoder output: the final states and every intermediate layer's.
    public var outputLength: Int { embeddingLength * (intermediateLayers.count + 1) }
    /// The tile grids (rows, columns) the model knows, in HF's order; aspect-ratio id i + 1 is
    /// entry i (id 0 is padding).
    public var supportedAspectRatios: [(rows: Int, columns: Int)] { MllamaVisionConfiguration.aspectRatios(maxTiles: maxTiles) }

    /// HF's `get_all_supported_aspect_ratios`: every (w, h) with w·h ≤ maxTiles, w outer.
    /// HF names the pair (width, height) but indexes it as (rows, columns) of tiles.
    public static func aspectRatios(maxTiles: Int) -> [(rows: Int, columns: Int)] {
        var ratios: [(Int, Int)] = []
        for first in 1...max(1, maxTiles) {
            for second in 1...max(1, maxTiles) where first * second <= maxTiles { ratios.append((first, second)) }
        }
        return ratios
    }

    /// ImageNet-style defaults of Llama 3.2 Vision (OpenAI CLIP's statistics).
    public static let defaultMean: [Float] = [0.48145466, 0.4578275, 0.40821073]
    public static let defaultStd: [Float] = [0.26862954, 0.26130258, 0.27577711]

    public init(file: GGUFFile) throws(VisionError) {
        let reader = MetadataReader(vision: file, prefix: "mllama.vision")
        guard file.architecture == "mllama" else {
            throw VisionError(file: file.path, kind: .notAProjector(architecture: file.architecture))
        }
        imageSize = try reader.positive("image_size")
        patchSize = try reader.positive("patch_size")
        guard imageSize % patchSize == 0 else {
            throw reader.invalid("image_size", imageSize, "it is not a multiple of patch_size (\(patchSize))")
        }
        maxTiles = try reader.positive("max_num_tiles", default: 4)
        guard maxTiles <= 64 else { throw reader.invalid("max_num_tiles", maxTiles, "it must be at most 64") }
        embeddingLength = try reader.positive("embedding_length")
        feedForwardLength = try reader.positive("feed_forward_length")
        headCount = try reader.positive("attention.head_count")
        guard embeddingLength % headCount == 0 else {
            throw reader.invalid("attention.head_count", headCount, "it must divide embedding_length (\(embeddingLength))")
        }
        blockCount = try reader.positive("block_count")
        globalBlockCount = try reader.positive("global.block_count")
        guard let layers = try reader.indices("intermediate_layers_indices", below: blockCount) else {
            throw reader.missing("intermediate_layers_indices")
        }
        // HF keeps the listed order; the index set is what matters, and sorted is HF's order in practice.
        intermediateLayers = try reader.optionalIntArray("intermediate_layers_indices") ?? layers
        layerNormEpsilon = try reader.optionalFloat("attention.layer_norm_epsilon") ?? 1e-5
        imageMean = try reader.optionalFloatArray("image_mean") ?? Self.defaultMean
        imageStd = try reader.optionalFloatArray("image_std") ?? Self.defaultStd
        guard imageMean.count == 3, imageStd.count == 3, imageStd.allSatisfy({ $0 != 0 && $0.isFinite }) else {
            throw reader.invalid("image_std", imageStd, "mean and std must hold 3 finite numbers, std non-zero")
        }
        guard let projector = file.tensor(named: "mm.0.weight"), projector.dimensions.count == 2 else {
            throw VisionError(file: file.path, kind: .missingTensor("mm.0.weight"))
        }
        projectionLength = projector.dimensions[1]
    }
}

extension MetadataReader where Failure == VisionError {
    /// Keys of a vision tower: problems become `VisionError`s naming the file.
    init(vision file: GGUFFile, prefix: String) {
        self.init(file: file, prefix: prefix) { problem in
            switch problem {
            case .file(let error): VisionError(kind: .file(error))
            case .missing(let key): VisionError(file: file.path, kind: .missingKey(key))
            case .invalid(let key, let value, let reason):
                VisionError(file: file.path, kind: .invalidValue(key: key, value: value, reason: reason))
            }
        }
    }
}
