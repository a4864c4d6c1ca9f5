import GGUF

/// The pre-norm ViT layer shared by the CLIP/SigLIP encoders and mllama's vision tower:
///
///     x += g_attn · Wo · attention(ln1(x))        (biases where the weights have them)
///     x += g_ffn  · Wdown · act(Wup · ln2(x))
///
/// Attention goes through the shared masked kernel; gates are 1 except in mllama's global
/// layers.
extension VisionWeights.Block {
    func run(_ x: inout [Float], rows n: Int, headCount: Int, epsilon: Float, activation: VisionActivation,
             mask: MaskedAttention.Mask, pool: ThreadPool) {
        let d = query.columns, ff = up.rows
        var h = [Float](repeating: 0, count: n * d)                 // [n × d]
        var q = h, k = h, v = h, attention = h, projected = h
        var hidden = [Float](repeating: 0, count: n * ff)           // [n × ff]
        func linear(_ weights: WeightMatrix, _ bias: [Float]?, _ input: [Float], _ output: inout [Float]) {
            input.withUnsafeBufferPointer { x in
                output.withUnsafeMutableBufferPointer { y in
                    MatMul.multiply(weights, input: x.baseAddress!, batch: n, output: y.baseAddress!, pool: pool)
                    if let bias {
                        for r in 0..<n { TextKernels.add(bias, into: y.baseAddress! + r * weights.rows, count: weights.rows) }
                    }
                }
            }
        }
        func normalize(_ norm: VisionWeights.LayerNorm) {
            x.withUnsafeBufferPointer { xb in
                h.withUnsafeMutableBufferPointer { hb in
                    for i in 0..<n {
                        VisionKernels.layerNorm(xb.baseAddress! + i * d, weight: norm.weight, bias: norm.bias,
                                                epsilon: epsilon, output: hb.baseAddress! + i * d, count: d)
                    }
                }
            }
        }
        func addResidual(_ gate: Float) {
            for i in 0..<(n * d) { x[i] += gate * projected[i] }
        }

        normalize(norm1)
        linear(query, queryBias, h, &q)
        linear(key, keyBias, h, &k)
        linear(value, valueBias, h, &v)
        q.withUnsafeBufferPointer { qb in
            k.withUnsafeBufferPointer { kb in
                v.withUnsafeBufferPointer { vb in
                    attention.withUnsafeMutableBufferPointer { ob in
                        MaskedAttention.attend(qb.baseAddress!, kb.baseAddress!, vb.baseAddress!, into: ob.baseAddress!,
                                               shape: .init(rows: n, keys: n, heads: headCount, kvHeads: headCount,
                                                            headDimension: d / headCount, queryStride: d,
                                                            keyValueStride: d, outputStride: d),
                                               mask: mask, pool: pool)
                    }
                }
            }
        }
        linear(output, outputBias, attention, &projected)
        addResidual(attentionGate)

        normalize(norm2)
        linear(up, upBias, h, &hidden)
        hidden.withUnsafeMutableBufferPointer { VisionKernels.activate(activation, $0.baseAddress!, count: n * ff) }
        linear(down, downBias, hidden, &projected)
        addResidual(feedForwardGate)
    }
}

extension VisionKernels {
    /// The patches of one tile, planar f32 `[3 × size × size]` at `pixels`, as rows of
    /// `[channel][ky][kx]` (the layout of a `{p, p, 3, d}` patch-embedding kernel) into
    /// `columns` `[(size/p)² × 3p²]`.
    static func patchRows(_ pixels: UnsafePointer<Float>, size: Int, patch p: Int, into columns: UnsafeMutablePointer<Float>) {
        let side = size / p, k = 3 * p * p
        for py in 0..<side {
            for px in 0..<side {
                var o = (py * side + px) * k
                for channel in 0..<3 {
                    for ky in 0..<p {
                        (columns + o).update(from: pixels + channel * size * size + (py * p + ky) * size + px * p, count: p)
                        o += p
                    }
                }
            }
        }
    }
}

extension TensorLoader where Failure == VisionError {
    /// Tensors of a vision file: problems become `VisionError`s naming the file and tensor.
    init(vision file: GGUFFile) {
        let path = file.path
        self.init(file: file) { problem -> VisionError in
            switch problem {
            case .missing(let name): VisionError(file: path, kind: .missingTensor(name))
            case .wrongShape(let name, let expected, let found):
                VisionError(file: path, kind: .wrongShape(tensor: name, expected: expected, found: found))
            case .unsupportedType(let name, let type):
                VisionError(file: path, kind: .unsupportedTensorType(tensor: name, type: type))
            }
        }
    }
}
