import Foundation
import GGUF

/// How a family lays an image out in the prompt.
public enum ImagePromptLayout: String, Sendable, CaseIterable {
    /// LLaVA-1.5: the embedding rows alone.
    case mlp
    /// SmolVLM / Idefics3: tiles wrapped in `<fake_token_around_image><row_R_col_C>`, then the overview.
    case idefics3
    /// Llama 3.2 Vision: one `<|image|>` token; the text cross-attends to the vision states.
    case mllama
    /// Gemma 3: `\n\n<start_of_image>`, the soft tokens, `<end_of_image>\n\n`.
    case gemma3
    /// Qwen2-VL, Qwen2.5-VL: `<|vision_start|>`, the merged tokens on their grid, `<|vision_end|>`.
    case qwen2vl
}

/// An image encoded for a chat model's prompt, made once per image so that every prompt that
/// shows it holds the same `PromptImage`s (prefix matching and cross-attention K/V find it by
/// identity).
public struct EncodedImage: Sendable {
    public let layout: ImagePromptLayout
    /// The encoder's embeddings tile by tile (LLaVA, SmolVLM); nil for cross-attention.
    public let embeddings: ImageEmbeddings?
    /// One part per tile of embedding rows, in prompt order; the one cross-attention image.
    public let parts: [PromptImage]

    public init(_ embeddings: ImageEmbeddings, layout: ImagePromptLayout) {
        self.layout = layout
        self.embeddings = embeddings
        parts = embeddings.tiles.map { PromptImage(.embeddings(values: $0.values, width: embeddings.width)) }
    }

    /// One image of `values` `[rows·columns × width]` on a grid of merged tokens (Qwen2-VL),
    /// with Qwen3-VL's deepstack features.
    public init(values: [Float], width: Int, grid: PromptImage.Grid, deepstack: [[Float]] = []) {
        layout = .qwen2vl
        embeddings = ImageEmbeddings(width: width, tiles: [.init(kind: .single, values: values)], rows: 1, columns: 1)
        parts = [PromptImage(.embeddings(values: values, width: width), grid: grid, deepstack: deepstack)]
    }

    public init(crossAttention states: CrossAttentionStates) {
        layout = .mllama
        embeddings = nil
        parts = [PromptImage(.crossAttention(states))]
    }

    /// Prompt positions the image takes (without the wrapping tokens).
    public var positionCount: Int { parts.reduce(0) { $0 + $1.spanLength } }
}

/// The vision side of a chat model: a CLIP/SigLIP projector file, an mllama vision tower, a
/// Qwen2-VL or Qwen2.5-VL one (`Qwen2VLVisionEncoder` runs both), or a Qwen3-VL one.
public enum ChatVisionEncoder: Sendable {
    case clip(VisionTransformer)
    case mllama(MllamaVisionEncoder)
    case qwen2vl(Qwen2VLVisionEncoder)
    case qwen3vl(Qwen3VLVisionEncoder)

    public var layout: ImagePromptLayout {
        switch self {
        case .clip(let encoder): ImagePromptLayout(encoder.configuration.projectorType)
        case .mllama: .mllama
        case .qwen2vl, .qwen3vl: .qwen2vl
        }
    }

    /// Width of what the encoder hands the text model.
    public var outputWidth: Int {
        switch self {
        case .clip(let encoder): encoder.embeddingWidth
        case .mllama(let encoder): encoder.configuration.projectionLength
        case .qwen2vl(let encoder): encoder.outputWidth
        case .qwen3vl(let encoder): encoder.outputWidth
        }
    }

    /// Encodes `image`; `progress` hears of each encoder layer where encoding is long (mllama).
    /// Throws for an image the encoder cannot take (Qwen's: a side of 0, an aspect ratio over 200).
    public func encode(_ image: RGBImage, progress: MllamaVisionEncoder.Progress? = nil) throws(VisionError) -> EncodedImage {
        switch self {
        case .clip(let encoder): return EncodedImage(encoder.encode(image), layout: layout)
        case .mllama(let encoder): return EncodedImage(crossAttention: encoder.encode(image, progress: progress))
        case .qwen2vl(let encoder):
            let encoded = try encoder.encode(image)
            return EncodedImage(values: encoded.values, width: encoded.width,
                                grid: PromptImage.Grid(rows: encoded.rows, columns: encoded.columns))
        case .qwen3vl(let encoder):
            let encoded = try encoder.encode(image)
            return EncodedImage(values: encoded.values, width: encoded.width,
                                grid: PromptImage.Grid(rows: encoded.rows, columns: encoded.columns), deepstack: encoded.deepstack)
        }
    }

    /// Opens the vision encoder in `path`: an `mmproj` file (`clip`), an mllama projector, or
    /// a model file that holds its vision tower (Ollama's one-file mllama, Gemma 3 and Qwen2.5-VL).
    public static func load(path: String, threads: Int, imagePixels: (min: Int?, max: Int?) = (nil, nil)) throws -> ChatVisionEncoder {
        var file: GGUFFile
        do {
            file = try GGUFFile(path: path)
        } catch {
            throw VisionError(kind: .file(error))
        }
        if let view = QwenOllamaLayout.clipView(file) { file = view }
        let pool = ThreadPool(threadCount: threads)
        if file.architecture == "mllama" { return .mllama(try MllamaVisionEncoder(file: file, pool: pool)) }
        if let view = Gemma3OllamaLayout.clipView(file) { return .clip(try VisionTransformer(file: view, pool: pool)) }
        if Qwen2VLVisionEncoder.accepts(file) {
            return .qwen2vl(try Qwen2VLVisionEncoder(file: file, pool: pool, minPixels: imagePixels.min,
                                                     maxPixels: imagePixels.max))
        }
        if Qwen3VLVisionEncoder.accepts(file) {
            return .qwen3vl(try Qwen3VLVisionEncoder(file: file, pool: pool, minPixels: imagePixels.min,
                                                     maxPixels: imagePixels.max))
        }
        return .clip(try VisionTransformer(file: file, pool: pool))
    }

    /// Whether `file` holds a vision tower besides its text model (Ollama's one-file mllama,
    /// Gemma 3 and Qwen2.5-VL).
    public static func holdsVision(_ file: GGUFFile) -> Bool {
        (file.architecture == "mllama" && file.tensor(named: "v.patch_embd.weight") != nil)
            || Gemma3OllamaLayout.holdsVision(file) || QwenOllamaLayout.holdsVision(file)
    }
}

extension ImagePromptLayout {
    /// The layout of a projector type's images.
    public init(_ projectorType: ProjectorType) {
        switch projectorType {
        case .mlp: self = .mlp
        case .idefics3: self = .idefics3
        case .gemma3: self = .gemma3
        }
    }
}
