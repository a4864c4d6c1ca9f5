import COpenBLAS

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
