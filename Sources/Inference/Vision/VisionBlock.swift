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
             mask: MaskedAttention.Mask, pool: ThreadPool, scratch: VisionScratch = VisionScratch()) {
        let d = query.columns, ff = up.rows
        var h = scratch.take(n * d), q = scratch.take(n * d), k = scratch.take(n * d)      // [n × d]
        var v = scratch.take(n * d), attention = scratch.take(n * d), projected = scratch.take(n * d)
        var hidden = scratch.take(n * ff)                                                    // [n × ff]
        defer { scratch.give([h, q, k, v, attention, projected, hidden]) }
        // The element-wise steps are split over the pool by rows too: run on one thread they
        // left the other core idle for a tenth of an encode.
        func rowChunks(_ body: (Range<Int>) -> Void) { pool.parallelFor(n, granularity: 8, body) }
        func linear(_ weights: WeightMatrix, _ bias: [Float]?, _ input: [Float], _ output: inout [Float]) {
            input.withUnsafeBufferPointer { x in
                output.withUnsafeMutableBufferPointer { y in
                    let y = y.baseAddress!
                    MatMul.multiply(weights, input: x.baseAddress!, batch: n, output: y, pool: pool)
                    if let bias {
                        rowChunks { rows in
                            for r in rows { TextKernels.add(bias, into: y + r * weights.rows, count: weights.rows) }
                        }
                    }
                }
            }
        }
        func normalize(_ norm: VisionWeights.LayerNorm) {
            x.withUnsafeBufferPointer { xb in
                h.withUnsafeMutableBufferPointer { hb in
                    let x = xb.baseAddress!, h = hb.baseAddress!
                    rowChunks { rows in
                        for i in rows {
                            VisionKernels.layerNorm(x + i * d, weight: norm.weight, bias: norm.bias,
                                                    epsilon: epsilon, output: h + i * d, count: d)
                        }
                    }
                }
            }
        }
        func addResidual(_ gate: Float) {
            x.withUnsafeMutableBufferPointer { xb in
                projected.withUnsafeBufferPointer { pb in
                    let x = xb.baseAddress!, p = pb.baseAddress!
                    rowChunks { rows in
                        if gate == 1 {
                            TextKernels.add(p + rows.lowerBound * d, into: x + rows.lowerBound * d, count: rows.count * d)
                        } else {
                            for i in (rows.lowerBound * d)..<(rows.upperBound * d) { x[i] += gate * p[i] }
                        }
                    }
                }
            }
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
        hidden.withUnsafeMutableBufferPointer { hb in
            let hidden = hb.baseAddress!
            rowChunks { rows in
                VisionKernels.activate(activation, hidden + rows.lowerBound * ff, count: rows.count * ff)
            }
        }
        linear(down, downBias, hidden, &projected)
        addResidual(feedForwardGate)
    }
}

/// The work buffers of the layers of one encode, handed from layer to layer: allocating them
/// afresh cost page faults on every layer (a few percent of a CLIP-L encode). Buffers come out
/// uninitialized (every one is written in full before it is read).
final class VisionScratch {
    private var free: [Int: [[Float]]] = [:]

    func take(_ count: Int) -> [Float] {
        if let buffer = free[count]?.popLast() { return buffer }
        return [Float](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
    }

    func give(_ buffers: [[Float]]) {
        for buffer in buffers { free[buffer.count, default: []].append(buffer) }
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
