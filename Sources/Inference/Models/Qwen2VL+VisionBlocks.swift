import Foundation

/// The per-row pieces of `Qwen2VLVisionEncoder`: linear layers, the norms (RMSNorm for
/// Qwen2.5-VL, LayerNorm with bias for Qwen2-VL) and one transformer block.
extension Qwen2VLVisionEncoder {
    /// `W · x + b` for `rows` input rows.
    func linear(_ weights: WeightMatrix, _ bias: [Float], _ input: [Float], rows: Int) -> [Float] {
        VisionRows.linear(weights, bias, input, rows: rows, pool: pool)
    }

    /// RMSNorm (no `bias`, Qwen2.5-VL) or LayerNorm (Qwen2-VL) of each `d`-wide row of `x` into
    /// `y` (which may be `x`), split over the pool.
    func normalize(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, weight: [Float], bias: [Float]?, rows: Int) {
        let d = embeddingLength, epsilon = epsilon
        if let bias {
            pool.parallelFor(rows, granularity: 8) { range in
                for i in range { VisionKernels.layerNorm(x + i * d, weight: weight, bias: bias, epsilon: epsilon, output: y + i * d, count: d) }
            }
            return
        }
        weight.withUnsafeBufferPointer { wb in
            let w = wb.baseAddress!
            pool.parallelFor(rows, granularity: 8) { range in
                for i in range { TextKernels.rmsNorm(x + i * d, weight: w, epsilon: epsilon, output: y + i * d, count: d) }
            }
        }
    }

    /// `x += y`, split over the pool.
    func add(_ y: [Float], into x: inout [Float]) {
        VisionRows.add(y, into: &x, width: embeddingLength, pool: pool)
    }

    /// One block over `x` `[n × d]`; attention within each `[windows[i], windows[i+1])`.
    func run(_ block: Block, _ x: inout [Float], rows n: Int, cos: [Float], sin: [Float], windows: [Int]) {
        let d = embeddingLength, hd = d / headCount
        var h = [Float](repeating: 0, count: n * d)
        func normalize(_ weight: [Float], _ bias: [Float]?) {
            x.withUnsafeBufferPointer { xb in
                h.withUnsafeMutableBufferPointer { self.normalize(xb.baseAddress!, into: $0.baseAddress!, weight: weight, bias: bias, rows: n) }
            }
        }
        normalize(block.norm1, block.norm1Bias)
        var q = linear(block.query, block.queryBias, h, rows: n)
        var k = linear(block.key, block.keyBias, h, rows: n)
        let v = linear(block.value, block.valueBias, h, rows: n)
        func rotate(_ t: inout [Float]) {
            t.withUnsafeMutableBufferPointer { tb in
                cos.withUnsafeBufferPointer { c in
                    sin.withUnsafeBufferPointer { s in
                        let t = tb.baseAddress!, c = c.baseAddress!, s = s.baseAddress!, heads = headCount
                        pool.parallelFor(n, granularity: 8) { range in
                            for i in range {
                                for head in 0..<heads {
                                    TextKernels.rope(t + i * d + head * hd, cos: c + i * hd / 2, sin: s + i * hd / 2,
                                                     pairs: hd / 2, style: .halves)
                                }
                            }
                        }
                    }
                }
            }
        }
        rotate(&q)
        rotate(&k)
        var attention = [Float](repeating: 0, count: n * d)
        q.withUnsafeBufferPointer { qb in
            k.withUnsafeBufferPointer { kb in
                v.withUnsafeBufferPointer { vb in
                    attention.withUnsafeMutableBufferPointer { ob in
                        for w in 0..<(windows.count - 1) where windows[w + 1] > windows[w] {
                            let start = windows[w], count = windows[w + 1] - windows[w], offset = start * d
                            MaskedAttention.attend(qb.baseAddress! + offset, kb.baseAddress! + offset, vb.baseAddress! + offset,
                                                   into: ob.baseAddress! + offset,
                                                   shape: .init(rows: count, keys: count, heads: headCount, kvHeads: headCount,
                                                                headDimension: hd, queryStride: d, keyValueStride: d, outputStride: d),
                                                   mask: .none, pool: pool)
                        }
                    }
                }
            }
        }
        let projected = linear(block.output, block.outputBias, attention, rows: n)
        add(projected, into: &x)

        normalize(block.norm2, block.norm2Bias)
        var up = linear(block.up, block.upBias, h, rows: n)                     // [n × ff]
        let ff = block.up.rows
        if let gateWeights = block.gate, let gateBias = block.gateBias {
            // Qwen2.5-VL: silu(gate) ⊙ up, into the gate's buffer.
            var gate = linear(gateWeights, gateBias, h, rows: n)
            gate.withUnsafeMutableBufferPointer { gb in
                up.withUnsafeBufferPointer { ub in
                    let g = gb.baseAddress!, u = ub.baseAddress!
                    pool.parallelFor(n, granularity: 8) { r in
                        TextKernels.siluMultiply(g + r.lowerBound * ff, up: u + r.lowerBound * ff, count: r.count * ff)
                    }
                }
            }
            up = gate
        } else {
            // Qwen2-VL: act(up).
            up.withUnsafeMutableBufferPointer { ub in
                let u = ub.baseAddress!, activation = activation
                pool.parallelFor(n, granularity: 8) { r in VisionKernels.activate(activation, u + r.lowerBound * ff, count: r.count * ff) }
            }
        }
        add(linear(block.down, block.downBias, up, rows: n), into: &x)
    }
}
