/// Maps the encoder's per-patch features of one tile to embeddings in the text model's space.
/// One conforming type per projector type, each in its own file.
public protocol VisionProjector: Sendable {
    /// Width of the embeddings it produces: the text model's embedding length.
    var outputWidth: Int { get }
    /// Whether the ViT ends with `v.post_ln` for this projector (as trained).
    var appliesPostNorm: Bool { get }
    /// Embeddings a tile of `patchesPerSide²` patches turns into.
    func tokenCount(patchesPerSide: Int) -> Int
    /// `features`: `[patchesPerSide² × width]`, row-major over patches (class token already
    /// dropped). Returns `[tokenCount × outputWidth]`.
    func project(_ features: [Float], patchesPerSide: Int, width: Int, pool: ThreadPool) -> [Float]
}

extension VisionProjector {
    /// `input [rows × weights.columns]` · weightsᵀ + bias.
    func linear(_ weights: WeightMatrix, bias: [Float]?, _ input: [Float], rows: Int, pool: ThreadPool) -> [Float] {
        var output = [Float](repeating: 0, count: rows * weights.rows)
        input.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in
                MatMul.multiply(weights, input: x.baseAddress!, batch: rows, output: y.baseAddress!, pool: pool)
                if let bias {
                    for r in 0..<rows { TextKernels.add(bias, into: y.baseAddress! + r * weights.rows, count: weights.rows) }
                }
            }
        }
        return output
    }
}
