import GGUF

/// The projector types Ponder runs. Each has one file under `Vision/Projectors/`.
public enum ProjectorType: String, Sendable, CaseIterable {
    /// LLaVA-1.5: CLIP ViT with a class token, two linear layers with GELU between.
    case mlp
    /// SmolVLM / Idefics3: SigLIP ViT, pixel shuffle, one linear layer; large images tiled.
    case idefics3
    /// Gemma 3: SigLIP ViT, k×k average pooling, RMSNorm, one projection (`Gemma3+Vision.swift`).
    case gemma3
}

/// The feed-forward activation of the ViT blocks.
public enum VisionActivation: Sendable {
    /// GELU, tanh form (`clip.use_gelu`).
    case gelu
    /// `x·σ(1.702x)`, CLIP's (neither key set).
    case geluQuick
    /// `x·σ(x)` (`clip.use_silu`).
    case silu
    /// GELU, exact erf form (mllama's vision tower, HF's `gelu`).
    case geluErf
}

/// The hyperparameters of a vision projector (`mmproj`) file: a value read from its metadata.
public struct VisionConfiguration: Sendable {
    public let projectorType: ProjectorType
    /// Side of the square the encoder sees (one tile), in pixels.
    public let imageSize: Int
    public let patchSize: Int
    public let embeddingLength: Int
    public let feedForwardLength: Int
    public let blockCount: Int
    public let headCount: Int
    public let layerNormEpsilon: Float
    public let imageMean: [Float]
    public let imageStd: [Float]
    public let activation: VisionActivation
    /// `clip.vision.feature_layer`, in HF's meaning (0 = the embeddings): the hidden states
    /// handed to the projector, concatenated; empty means the last layer.
    public let featureLayers: [Int]
    /// Pixel-shuffle factor (idefics3), pooling size (gemma3).
    public let scaleFactor: Int
    /// Longest side an image is resized to before tiling (idefics3), when set.
    public let preprocessImageSize: Int?

    public var patchesPerSide: Int { imageSize / patchSize }
    public var patchCount: Int { patchesPerSide * patchesPerSide }
    public var headDimension: Int { embeddingLength / headCount }

    public init(file: GGUFFile) throws(VisionError) {
        let path = file.path
        // The accessors throw GGUFError only.
        func wrap<T>(_ body: () throws -> T) throws(VisionError) -> T {
            do { return try body() } catch {
                throw VisionError(kind: .file((error as? GGUFError) ?? GGUFError(file: path, kind: .cannotOpen(reason: String(describing: error)))))
            }
        }
        guard file.architecture == "clip" else {
            throw VisionError(file: path, kind: .notAProjector(architecture: file.architecture))
        }
        if try wrap({ try file.optionalBool("clip.has_vision_encoder") }) == false {
            throw VisionError(file: path, kind: .noVisionEncoder)
        }
        let visionType = try wrap { try file.optionalString("clip.vision.projector_type") }
        var typeName = visionType
        if typeName == nil { typeName = try wrap { try file.optionalString("clip.projector_type") } }
        guard let typeName, let type = ProjectorType(rawValue: typeName) else {
            throw VisionError(file: path, kind: .unsupportedProjector(typeName))
        }
        projectorType = type
        func positive(_ key: String) throws(VisionError) -> Int {
            guard let value = try wrap({ try file.optionalInt("clip.vision." + key) }) else {
                throw VisionError(file: path, kind: .missingKey("clip.vision." + key))
            }
            guard value > 0, value <= 1 << 20 else {
                throw VisionError(file: path, kind: .invalidValue(key: "clip.vision." + key, value: "\(value)",
                                                                  reason: "it must be a positive size"))
            }
            return value
        }
        imageSize = try positive("image_size")
        patchSize = try positive("patch_size")
        embeddingLength = try positive("embedding_length")
        feedForwardLength = try positive("feed_forward_length")
        blockCount = try positive("block_count")
        headCount = try positive("attention.head_count")
        layerNormEpsilon = try wrap { try file.optionalFloat("clip.vision.attention.layer_norm_epsilon") } ?? 1e-5
        guard imageSize % patchSize == 0 else {
            throw VisionError(file: path, kind: .invalidValue(key: "clip.vision.image_size", value: "\(imageSize)",
                                                              reason: "it is not a multiple of patch_size (\(patchSize))"))
        }
        guard embeddingLength % headCount == 0 else {
            throw VisionError(file: path, kind: .invalidValue(key: "clip.vision.attention.head_count", value: "\(headCount)",
                                                              reason: "it must divide embedding_length (\(embeddingLength))"))
        }
        func triple(_ key: String) throws(VisionError) -> [Float] {
            guard let values = try wrap({ try file.optionalFloatArray(key) }) else {
                throw VisionError(file: path, kind: .missingKey(key))
            }
            guard values.count == 3, values.allSatisfy({ $0.isFinite }) else {
                throw VisionError(file: path, kind: .invalidValue(key: key, value: "\(values)", reason: "it must hold 3 finite numbers"))
            }
            return values
        }
        imageMean = try triple("clip.vision.image_mean")
        imageStd = try triple("clip.vision.image_std")
        guard imageStd.allSatisfy({ $0 != 0 }) else {
            throw VisionError(file: path, kind: .invalidValue(key: "clip.vision.image_std", value: "\(imageStd)",
                                                              reason: "a standard deviation of 0 divides by zero"))
        }
        if try wrap({ try file.optionalBool("clip.use_gelu") }) == true {
            activation = .gelu
        } else if try wrap({ try file.optionalBool("clip.use_silu") }) == true {
            activation = .silu
        } else {
            activation = .geluQuick
        }
        let layers = try wrap { try file.optionalIntArray("clip.vision.feature_layer") } ?? []
        for layer in layers where layer < 0 || layer > blockCount {
            throw VisionError(file: path, kind: .invalidValue(key: "clip.vision.feature_layer", value: "\(layer)",
                                                              reason: "it must be in 0...\(blockCount)"))
        }
        featureLayers = layers
        // Gemma 3 files write the pooling size only when it is not 4 (llama.cpp's default).
        let factor = try wrap { try file.optionalInt("clip.vision.projector.scale_factor") } ?? (type == .gemma3 ? 4 : 1)
        if type == .idefics3 || type == .gemma3 {
            let side = imageSize / patchSize
            guard factor > 0, side % factor == 0 else {
                throw VisionError(file: path, kind: .invalidValue(key: "clip.vision.projector.scale_factor", value: "\(factor)",
                                                                  reason: "it must divide the \(side) patches per side"))
            }
        }
        scaleFactor = max(1, factor)
        let longest = try wrap { try file.optionalInt("clip.vision.preproc_image_size") }
        if let longest, longest <= 0 || longest > 1 << 16 {
            throw VisionError(file: path, kind: .invalidValue(key: "clip.vision.preproc_image_size", value: "\(longest)",
                                                              reason: "it must be a positive size"))
        }
        // Files without it take llama.cpp's older llava-uhd slicing, which Ponder does not run.
        if type == .idefics3 && longest == nil {
            throw VisionError(file: path, kind: .missingKey("clip.vision.preproc_image_size"))
        }
        preprocessImageSize = longest
    }

    /// How many layers the encoder runs: up to the deepest feature layer, else all.
    public var layersToRun: Int { featureLayers.max() ?? blockCount }
}
