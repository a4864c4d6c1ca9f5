import GGUF

/// Matrix products of a weight matrix with a batch of activation rows.
///
/// `multiply` is the one entry point the models call. This first version is the plain
/// reference: each thread dequantizes its weight rows one at a time and takes f32 dot products.
/// Faster paths (OpenBLAS sgemm on dequantized tiles for batches of ≥ 32 rows, quantized
/// integer dot products for decode) replace its inside without changing its contract.
public enum MatMul {
    /// `output[b][r] = Σ_c weights[r][c] · input[b][c]` for `b` in `0..<batch`.
    ///
    /// - `input`: `batch × weights.columns` floats, row-major.
    /// - `output`: `batch × weights.rows` floats, row-major; overwritten.
    public static func multiply(_ weights: WeightMatrix, input: UnsafePointer<Float>, batch: Int,
                                output: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        let rows = weights.rows, columns = weights.columns
        pool.parallelFor(rows, granularity: 4) { range in
            let scratch = UnsafeMutableBufferPointer<Float>.allocate(capacity: columns)
            defer { scratch.deallocate() }
            for row in range {
                // Types without a decoder were refused when the model was loaded.
                try! weights.type.dequantize(weights.rowBytes(row), elementCount: columns, into: scratch)
                for b in 0..<batch {
                    output[b * rows + row] = dot(scratch.baseAddress!, input + b * columns, columns)
                }
            }
        }
    }

    /// Σ a[i]·b[i], vectorised.
    @inline(__always)
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
        var sum = SIMD16<Float>()
        var i = 0
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        while i + 16 <= count {
            sum += ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
                * rb.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
            i += 16
        }
        var total = sum.sum()
        while i < count {
            total += a[i] * b[i]
            i += 1
        }
        return total
    }
}
