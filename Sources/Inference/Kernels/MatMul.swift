import CKernels
import COpenBLAS
import GGUF

/// Matrix products of a weight matrix with a batch of activation rows.
///
/// `multiply` is the one entry point the models call. It picks a path by batch size:
/// - **decode** (batch < `gemmBatchThreshold`): each activation row is quantized once (to Q8
///   per 32 for Q4_0…Q8_0 and IQ4_NL weights, to Q8_K for the K-quants and IQ4_XS, as ggml
///   does), then SIMD integer dot products per block (`CKernels`, AVX2 or AVX-512 VNNI chosen
///   at run time). Each weight block is decoded once for up to four activation rows, so N
///   sequences decoded together read the weights once. F32/F16/BF16 weights take f32 dot
///   products.
/// - **GEMM** (batch ≥ `gemmBatchThreshold`, prompts and image positions): quantized weights
///   are decoded 32 rows at a time into a panel of unsigned bytes with per-sub-block scales and
///   multiplied with activations quantized per 32 by `vpdpbusd` (`ck_gemm`); F16/BF16 weights
///   are converted to f32 panels and multiplied with FMAs (`ck_gemm_float`). Weights stay
///   mmapped: a panel lives in a worker's scratch for the duration of one call.
/// - **BLAS**: dequantized slabs and single-threaded OpenBLAS sgemm per pool task; F32 weights
///   at GEMM batch sizes, and the fallback where no GEMM kernel exists.
/// - **reference**: dequantize each weight row and take f32 dot products; the fallback for
///   CPUs without AVX2.
public enum MatMul {
    /// How `multiply` computes the product; `.automatic` chooses by batch size and type.
    public enum Path: Sendable, CaseIterable {
        case automatic
        /// Quantized (or float) SIMD dot products; falls back to `.reference` without a kernel.
        case decode
        /// Integer GEMM: activations quantized per 32, weights decoded 32 rows at a time into
        /// a panel and multiplied with vpdpbusd (`ck_gemm`); falls back to `.blas` without a kernel.
        case gemm
        /// Dequantized tiles and OpenBLAS sgemm.
        case blas
        /// Dequantized rows and f32 dot products.
        case reference
    }

    /// Batches of at least this many rows take the sgemm path.
    public static let blasBatchThreshold = 32

    /// Batches of at least this many rows take the GEMM paths where they have a kernel (below
    /// it, decoding every weight panel costs more than the decode kernels lose: measured on a
    /// Q4_K_M 1B model, pp8 27 vs 35 t/s, pp16 43 vs 40).
    public static let gemmBatchThreshold = 16

    /// Repacked F16/BF16 weights take the f32-panel GEMM from this many rows on.
    static let floatGemmBatchThreshold = 16

    /// Most f32 elements a dequantized weight slab holds on the sgemm path (16 MiB).
    static let blasTileElements = 4 << 20

    /// `output[b][r] = Σ_c weights[r][c] · input[b][c]` for `b` in `0..<batch`.
    ///
    /// - `input`: `batch × weights.columns` floats, row-major.
    /// - `output`: `batch × weights.rows` floats, row-major; overwritten.
    public static func multiply(_ weights: WeightMatrix, input: UnsafePointer<Float>, batch: Int,
                                output: UnsafeMutablePointer<Float>, pool: ThreadPool,
                                path: Path = .automatic) {
        guard batch > 0, weights.rows > 0 else { return }
        if path == .automatic, let packed = weights.repacked, weights.type != .f16 && weights.type != .bf16 {
            repackedMultiply(weights, packed, input: input, batch: batch, output: output, pool: pool)
            return
        }
        // ggml multiplies F16 (BF16) weights with activations rounded to F16 (BF16) on every
        // path; doing the same keeps Ponder within 1e-3 of llama.cpp on F16 models (exact f32
        // activations are 1.3–1.7e-3 away, a difference of rounding, not of accuracy).
        if weights.type == .f16 || weights.type == .bf16 {
            let count = batch * weights.columns
            let rounded = UnsafeMutablePointer<Float>.allocate(capacity: count)   // [batch × columns]
            defer { rounded.deallocate() }
            roundActivations(input, to: rounded, count: count, bfloat: weights.type == .bf16)
            multiplyUnrounded(weights, input: UnsafePointer(rounded), batch: batch, output: output, pool: pool, path: path)
            return
        }
        multiplyUnrounded(weights, input: input, batch: batch, output: output, pool: pool, path: path)
    }

    /// Rounds each value to the nearest F16 (or BF16), ties to even, and back to f32.
    static func roundActivations(_ input: UnsafePointer<Float>, to output: UnsafeMutablePointer<Float>,
                                 count: Int, bfloat: Bool) {
        if !bfloat {
            ck_round_row_f16(input, output, Int64(count))
            return
        }
        for i in 0..<count {
            output[i] = bfloat ? HalfFloat.float(fromBF16Bits: HalfFloat.bf16Bits(from: input[i]))
                               : Float(Float16(input[i]))
        }
    }

    private static func multiplyUnrounded(_ weights: WeightMatrix, input: UnsafePointer<Float>, batch: Int,
                                          output: UnsafeMutablePointer<Float>, pool: ThreadPool, path: Path) {
        if path == .automatic, let packed = weights.repacked {   // F16/BF16, activations rounded
            floatRepackedMultiply(weights, packed, input: input, batch: batch, output: output, pool: pool)
            return
        }
        if (path == .gemm || (path == .automatic && batch >= gemmBatchThreshold)),
           floatGemmMultiply(weights, input: input, batch: batch, output: output, pool: pool) {
            return
        }
        switch path {
        case .automatic:
            if batch >= gemmBatchThreshold && gemmMultiply(weights, input: input, batch: batch, output: output, pool: pool) {
                return
            } else if batch >= blasBatchThreshold && weights.type.canDequantize {
                blasMultiply(weights, input: input, batch: batch, output: output, pool: pool)
            } else if !decodeMultiply(weights, input: input, batch: batch, output: output, pool: pool) {
                referenceMultiply(weights, input: input, batch: batch, output: output, pool: pool)
            }
        case .decode:
            if !decodeMultiply(weights, input: input, batch: batch, output: output, pool: pool) {
                referenceMultiply(weights, input: input, batch: batch, output: output, pool: pool)
            }
        case .gemm:
            if !gemmMultiply(weights, input: input, batch: batch, output: output, pool: pool) {
                blasMultiply(weights, input: input, batch: batch, output: output, pool: pool)
            }
        case .blas:
            blasMultiply(weights, input: input, batch: batch, output: output, pool: pool)
        case .reference:
            referenceMultiply(weights, input: input, batch: batch, output: output, pool: pool)
        }
    }

    /// Whether weights of `type` have a SIMD decode kernel on this CPU.
    public static func hasDecodeKernel(for type: GGMLType) -> Bool {
        ck_cpu_level() > 0 && ck_activation_kind(Int32(type.rawValue)) >= 0
    }

    /// Splits `rows` into tasks of at least 16 rows, about four per thread, so that a thread the
    /// OS preempts on a shared machine delays the call by a quarter of its share at most.
    static func taskCount(rows: Int, pool: ThreadPool) -> Int {
        pool.threadCount == 1 ? 1 : max(1, min((rows + 15) / 16, pool.threadCount * 4))
    }

    // MARK: Decode

    /// Quantizes the activations and runs the SIMD kernels; false when there is no kernel.
    static func decodeMultiply(_ weights: WeightMatrix, input: UnsafePointer<Float>, batch: Int,
                               output: UnsafeMutablePointer<Float>, pool: ThreadPool) -> Bool {
        let type = Int32(weights.type.rawValue)
        let kind = ck_activation_kind(type)
        guard kind >= 0, ck_cpu_level() > 0, let base = weights.data.baseAddress else { return false }
        let rows = weights.rows, columns = weights.columns, rowBytes = weights.rowByteCount
        let activationRowBytes = ck_activation_row_bytes(type, Int64(columns))
        let tasks = taskCount(rows: rows, pool: pool)
        let rowsPerTask = (rows + tasks - 1) / tasks

        func run(_ activations: UnsafeRawPointer) {
            pool.run(tasks) { task in
                let start = task * rowsPerTask, end = min(rows, start + rowsPerTask)
                guard start < end else { return }
                _ = ck_gemv(type, Int64(columns), base + start * rowBytes, rowBytes, Int64(end - start),
                            activations, activationRowBytes, Int64(batch), output + start, Int64(rows))
            }
        }
        if kind == 0 {
            run(UnsafeRawPointer(input))
        } else {
            withUnsafeTemporaryAllocation(byteCount: batch * activationRowBytes, alignment: 64) { buffer in
                let activations = buffer.baseAddress!
                for b in 0..<batch {
                    ck_quantize_row(type, input + b * columns, Int64(columns), activations + b * activationRowBytes)
                }
                run(UnsafeRawPointer(activations))
            }
        }
        return true
    }

    // MARK: Prompt

    // The GEMM and repacked paths are in MatMul+Gemm.swift.

    /// Splits the weight rows into slabs, one task each on the pool: a task dequantizes its
    /// slab to f32 in its worker's scratch and multiplies the whole batch by it with a
    /// single-threaded OpenBLAS sgemm, so dequantization and multiplication share the cache
    /// and no second thread pool competes with Ponder's for the cores.
    static func blasMultiply(_ weights: WeightMatrix, input: UnsafePointer<Float>, batch: Int,
                             output: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        let rows = weights.rows, columns = weights.columns
        openblas_set_num_threads(1)
        // C slab = X · Wslabᵀ: output[b][r0 + i] = Σ_c X[b][c] · Wslab[i][c].
        func sgemm(_ slab: UnsafePointer<Float>, rows slabRows: Int, at start: Int) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(batch), Int32(slabRows), Int32(columns),
                        1, input, Int32(columns), slab, Int32(columns), 0, output + start, Int32(rows))
        }
        // At least two slabs per thread, at most 512 rows and `blasTileElements` floats each.
        let perThread = (rows + 2 * pool.threadCount - 1) / (2 * pool.threadCount)
        let slabRows = max(16, min(512, blasTileElements / max(1, columns), (perThread + 15) / 16 * 16))
        let slabs = (rows + slabRows - 1) / slabRows
        if weights.type == .f32, let base = weights.data.baseAddress {
            let matrix = base.assumingMemoryBound(to: Float.self)
            pool.run(slabs) { slab in
                let start = slab * slabRows, count = min(slabRows, rows - start)
                sgemm(matrix + start * columns, rows: count, at: start)
            }
            return
        }
        let scratch = UnsafeMutableBufferPointer<Float>.allocate(capacity: pool.threadCount * slabRows * columns)
        defer { scratch.deallocate() }
        pool.run(slabs) { slab, worker in
            let start = slab * slabRows, count = min(slabRows, rows - start)
            let tile = UnsafeMutableBufferPointer(rebasing: scratch[(worker * slabRows * columns)...]
                .prefix(count * columns))
            // Types without a decoder were refused when the model was loaded.
            try! weights.type.dequantizeRows(start..<(start + count), rowLength: columns,
                                             of: weights.data, into: tile)
            sgemm(UnsafePointer(tile.baseAddress!), rows: count, at: start)
        }
    }

    // MARK: Reference

    /// Each thread dequantizes its weight rows one at a time and takes f32 dot products.
    static func referenceMultiply(_ weights: WeightMatrix, input: UnsafePointer<Float>, batch: Int,
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
