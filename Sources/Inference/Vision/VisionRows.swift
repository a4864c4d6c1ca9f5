/// Row-wise steps the Qwen vision encoders share, split over a thread pool: a linear layer with
/// bias, LayerNorm with bias, and a residual add, on `[rows × width]` row-major buffers.
enum VisionRows {
    /// `W · x + b` for `rows` input rows: `[rows × weights.rows]`.
    static func linear(_ weights: WeightMatrix, _ bias: [Float], _ input: [Float], rows: Int, pool: ThreadPool) -> [Float] {
        var output = [Float](repeating: 0, count: rows * weights.rows)
        input.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in
                let y = y.baseAddress!
                MatMul.multiply(weights, input: x.baseAddress!, batch: rows, output: y, pool: pool)
                bias.withUnsafeBufferPointer { b in
                    pool.parallelFor(rows, granularity: 8) { range in
                        for r in range { TextKernels.add(b.baseAddress!, into: y + r * weights.rows, count: weights.rows) }
                    }
                }
            }
        }
        return output
    }

    /// LayerNorm with bias of each `width`-wide row of `x`.
    static func layerNorm(_ x: [Float], weight: [Float], bias: [Float], width: Int, epsilon: Float, pool: ThreadPool) -> [Float] {
        var y = [Float](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { xb in
            y.withUnsafeMutableBufferPointer { yb in
                let x = xb.baseAddress!, y = yb.baseAddress!
                pool.parallelFor(xb.count / width, granularity: 8) { range in
                    for i in range {
                        VisionKernels.layerNorm(x + i * width, weight: weight, bias: bias, epsilon: epsilon, output: y + i * width, count: width)
                    }
                }
            }
        }
        return y
    }

    /// `x += y`, in `width`-wide rows.
    static func add(_ y: [Float], into x: inout [Float], width: Int, pool: ThreadPool) {
        y.withUnsafeBufferPointer { yb in
            x.withUnsafeMutableBufferPointer { xb in
                let x = xb.baseAddress!, y = yb.baseAddress!
                pool.parallelFor(xb.count / width, granularity: 8) { r in
                    TextKernels.add(y + r.lowerBound * width, into: x + r.lowerBound * width, count: r.count * width)
                }
            }
        }
    }
}
