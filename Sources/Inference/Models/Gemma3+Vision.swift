import COpenBLAS
import GGUF

/// Gemma 3's vision side: a SigLIP ViT (`clip.projector_type = gemma3`, 896 px, patch 14, no
/// class token, `v.post_ln`), then this projector:
///
///     pooled = avgpool_k×k(features as a side × side grid)      (k = scale factor, default 4)
///     out    = rmsnorm(pooled) · mm.soft_emb_norm  ·  mm.input_projection
///
/// 64×64 patches become 16×16 = 256 soft tokens, ordered row by row. The soft-embedding norm
/// weight is stored with Gemma's `1 +` added (as the converter writes it) and uses the ViT's
/// layer-norm epsilon. `mm.input_projection.weight` is stored as HF keeps it, `[vision ×
/// text]` row-major (GGUF dims `{text, vision}`), and multiplied as it is: `x · W`.
///
/// Preprocessing (`ImagePreprocessor`): the image stretched to the square input size with a
/// bilinear filter, no pan-and-scan. Prompt (`MultimodalPrompt`): `\n\n<start_of_image>`, the
/// soft tokens, `<end_of_image>\n\n`, as HF's `Gemma3Processor` expands its image token.
struct Gemma3Projector: VisionProjector {
    let softEmbeddingNorm: [Float]
    /// `[visionWidth × textWidth]` row-major.
    let inputProjection: [Float]
    let visionWidth: Int
    let textWidth: Int
    let poolSize: Int
    let epsilon: Float

    static let normTensor = "mm.soft_emb_norm.weight", projectionTensor = "mm.input_projection.weight"

    init(loader: TensorLoader<VisionError>, inputWidth: Int, poolSize: Int, epsilon: Float) throws(VisionError) {
        guard let info = loader.file.tensor(named: Self.projectionTensor), info.dimensions.count == 2,
              info.dimensions[1] == inputWidth else {
            let found = loader.file.tensor(named: Self.projectionTensor)?.dimensions
            throw found == nil ? VisionError(file: loader.file.path, kind: .missingTensor(Self.projectionTensor))
                : VisionError(file: loader.file.path, kind: .wrongShape(tensor: Self.projectionTensor, expected: [-1, inputWidth], found: found!))
        }
        textWidth = info.dimensions[0]
        visionWidth = inputWidth
        inputProjection = try loader.values(Self.projectionTensor, dimensions: info.dimensions)
        softEmbeddingNorm = try loader.vector(Self.normTensor, length: inputWidth)
        self.poolSize = poolSize
        self.epsilon = epsilon
    }

    var outputWidth: Int { textWidth }
    var appliesPostNorm: Bool { true }
    func tokenCount(patchesPerSide: Int) -> Int { (patchesPerSide / poolSize) * (patchesPerSide / poolSize) }

    func project(_ features: [Float], patchesPerSide: Int, width: Int, pool: ThreadPool) -> [Float] {
        let k = poolSize, side = patchesPerSide / k, tokens = side * side
        var pooled = [Float](repeating: 0, count: tokens * width)
        let scale = 1 / Float(k * k)
        pooled.withUnsafeMutableBufferPointer { out in
            features.withUnsafeBufferPointer { x in
                let out = out.baseAddress!, x = x.baseAddress!
                for ty in 0..<side {
                    for tx in 0..<side {
                        let row = out + (ty * side + tx) * width
                        for dy in 0..<k {
                            for dx in 0..<k {
                                TextKernels.add(x + ((ty * k + dy) * patchesPerSide + tx * k + dx) * width, into: row, count: width)
                            }
                        }
                        TextKernels.scale(row, by: scale, count: width)
                        TextKernels.rmsNorm(row, weight: softEmbeddingNorm, epsilon: epsilon, output: row, count: width)
                    }
                }
            }
        }
        var output = [Float](repeating: 0, count: tokens * textWidth)
        // One OpenBLAS thread, as for every sgemm here: left at its default, the first image of a
        // process split this product over OpenBLAS's own threads and rounded differently from
        // the next, after another product had set one thread.
        openblas_set_num_threads(1)
        pooled.withUnsafeBufferPointer { x in
            inputProjection.withUnsafeBufferPointer { w in
                output.withUnsafeMutableBufferPointer { y in
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(tokens), Int32(textWidth), Int32(width),
                                1, x.baseAddress!, Int32(width), w.baseAddress!, Int32(textWidth), 0, y.baseAddress!, Int32(textWidth))
                }
            }
        }
        return output
    }
}

/// Ollama's one-file Gemma 3 (its converter and `model/models/gemma3`): the vision tower and
/// projector live in the model file under their Hugging Face names (`v.patch_embedding`,
/// `v.blk.N.layer_norm1`, `v.blk.N.mlp.fc1`, `v.blk.N.attn_output`, `v.post_layernorm`,
/// `mm.mm_soft_emb_norm`, `mm.mm_input_projection`) with `gemma3.vision.*` keys, the norm
/// weight with its 1 added and the projection as HF keeps it, as in llama.cpp's files; images
/// are normalised with mean and std 0.5. `clipView` presents such a file as llama.cpp's
/// `mmproj`, so the same encoder reads both.
enum Gemma3OllamaLayout {
    static func holdsVision(_ file: GGUFFile) -> Bool {
        file.architecture == "gemma3" && file.tensor(named: "v.patch_embedding.weight") != nil
    }

    /// llama.cpp's name of an Ollama vision tensor; nil for the text model's tensors.
    static func clipName(_ name: String) -> String? {
        if name.hasPrefix("mm.mm_") { return "mm." + name.dropFirst(6) }
        guard name.hasPrefix("v.") else { return nil }
        var result = name
        for (from, to) in [("v.patch_embedding.", "v.patch_embd."), ("v.position_embedding.", "v.position_embd."),
                           ("v.post_layernorm.", "v.post_ln."), (".layer_norm1.", ".ln1."), (".layer_norm2.", ".ln2."),
                           (".attn_output.", ".attn_out."), (".mlp.fc1.", ".ffn_up."), (".mlp.fc2.", ".ffn_down.")] {
            result = result.replacingOccurrences(of: from, with: to)
        }
        return result
    }

    /// The file as a `clip` projector file, or nil when it holds no Ollama vision tower.
    static func clipView(_ file: GGUFFile) -> GGUFFile? {
        guard holdsVision(file) else { return nil }
        var metadata: [(key: String, value: GGUFValue)] = [
            ("general.architecture", .string("clip")), ("clip.projector_type", .string("gemma3")),
            ("clip.has_vision_encoder", .bool(true)), ("clip.use_gelu", .bool(true)),
            ("clip.vision.image_mean", .array(.float32([0.5, 0.5, 0.5]))),
            ("clip.vision.image_std", .array(.float32([0.5, 0.5, 0.5]))),
        ]
        for key in ["image_size", "patch_size", "embedding_length", "feed_forward_length", "block_count",
                    "attention.head_count", "attention.layer_norm_epsilon"] {
            if let value = file.value(forKey: "gemma3.vision." + key) { metadata.append(("clip.vision." + key, value)) }
        }
        // The pooling size from the tokens per image, where written (default 256: 4×4 at 896).
        if let tokens = try? file.optionalInt("gemma3.mm.tokens_per_image"), tokens > 0,
           let size = try? file.optionalInt("gemma3.vision.image_size"), let patch = try? file.optionalInt("gemma3.vision.patch_size"),
           patch > 0 {
            let side = Int(Double(tokens).squareRoot().rounded())
            if side > 0, side * side == tokens, (size / patch) % side == 0, (size / patch) / side != 4 {
                metadata.append(("clip.vision.projector.scale_factor", .uint32(UInt32((size / patch) / side))))
            }
        }
        return file.view(metadata: metadata, renaming: clipName)
    }
}
