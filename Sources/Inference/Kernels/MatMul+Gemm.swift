import CKernels
import Foundation
import GGUF

/// The GEMM paths of `MatMul.multiply`: the integer GEMM of prompt batches, the F16/BF16
/// f32-panel GEMM, and the kernels over weights repacked at load.
extension MatMul {
    /// Whether weights of `type` have an integer GEMM kernel on this CPU.
    public static func hasGemmKernel(for type: GGMLType) -> Bool {
        _ = variantFromEnvironment
        return ck_gemm_supported(Int32(type.rawValue)) != 0
    }

    /// `PONDER_GEMM_VARIANT` (1 AVX2, 2 256-bit VNNI, 3 AVX-512) forces a microkernel, for
    /// benchmarks that compare them; read once.
    static let variantFromEnvironment: Void = {
        if let value = ProcessInfo.processInfo.environment["PONDER_GEMM_VARIANT"], let variant = Int32(value) {
            ck_set_gemm_variant(variant)
        }
    }()

    /// Splits `units` (panels of 32 rows, sets of 16) into up to eight pool tasks per thread and
    /// calls `body(units, worker, scratch)` for each, `scratch` the worker's own
    /// `scratchBytes` (64-byte aligned; nil when 0).
    static func forEachUnitRange(_ units: Int, scratchBytes: Int = 0, pool: ThreadPool,
                                 _ body: (Range<Int>, UnsafeMutableRawPointer?) -> Void) {
        let stride = (scratchBytes + 63) & ~63
        let scratch = stride > 0 ? UnsafeMutableRawPointer.allocate(byteCount: pool.threadCount * stride, alignment: 64) : nil
        defer { scratch?.deallocate() }
        let tasks = pool.threadCount == 1 ? 1 : min(units, pool.threadCount * 8)
        let perTask = (units + tasks - 1) / tasks
        pool.run(tasks) { task, worker in
            let start = task * perTask, end = min(units, start + perTask)
            guard start < end else { return }
            body(start..<end, scratch.map { $0 + worker * stride })
        }
    }

    /// Activation rows quantized for `type`'s GEMM layout (`ck_gemm_quantize_rows`), in
    /// parallel when there are many; `body` gets the buffer and its row stride in bytes.
    static func withQuantizedActivations(_ type: Int32, _ input: UnsafePointer<Float>, batch: Int, columns: Int,
                                         pool: ThreadPool, _ body: (UnsafeRawPointer) -> Void) {
        let rowBytes = ck_gemm_act_row_bytes(type, Int64(columns))
        let activations = UnsafeMutableRawPointer.allocate(byteCount: batch * rowBytes, alignment: 64)
        defer { activations.deallocate() }
        if batch < 4 * pool.threadCount {
            ck_gemm_quantize_rows(type, input, Int64(columns), Int64(batch), activations)
        } else {
            let perTask = (batch + pool.threadCount - 1) / pool.threadCount
            pool.run(pool.threadCount) { task in
                let start = task * perTask, end = min(batch, start + perTask)
                guard start < end else { return }
                ck_gemm_quantize_rows(type, input + start * columns, Int64(columns), Int64(end - start),
                                      activations + start * rowBytes)
            }
        }
        body(UnsafeRawPointer(activations))
    }

    /// Repacked quantized weights, every batch size: the activation rows quantized once, then
    /// each pool task multiplies its sets of sixteen rows with all of them (`ck_repacked_gemm`).
    static func repackedMultiply(_ weights: WeightMatrix, _ packed: RepackedWeights, input: UnsafePointer<Float>,
                                 batch: Int, output: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        let type = Int32(weights.type.rawValue)
        let rows = weights.rows, columns = weights.columns, base = packed.base
        withQuantizedActivations(type, input, batch: batch, columns: columns, pool: pool) { activations in
            forEachUnitRange(packed.sets, pool: pool) { sets, _ in
                _ = ck_repacked_gemm(type, Int64(columns), base, Int64(rows), activations, Int64(batch), output,
                                     Int64(rows), Int64(sets.lowerBound), Int64(sets.upperBound))
            }
        }
    }

    /// Repacked F16/BF16 weights: the FMA kernel over sixteen interleaved rows for a few
    /// activation rows, the f32-panel GEMM (panels converted from the repacked rows) for more.
    static func floatRepackedMultiply(_ weights: WeightMatrix, _ packed: RepackedWeights, input: UnsafePointer<Float>,
                                      batch: Int, output: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        let type = Int32(weights.type.rawValue)
        let rows = weights.rows, columns = weights.columns, base = packed.base
        if batch >= floatGemmBatchThreshold {
            // Row r of a repacked F16/BF16 matrix starts at r · 2 · columns (sets of 16 rows).
            forEachUnitRange((rows + 31) / 32, scratchBytes: ck_gemm_float_scratch_bytes(), pool: pool) { panels, scratch in
                let start = panels.lowerBound * 32, end = min(rows, panels.upperBound * 32)
                _ = ck_gemm_float(type, Int64(columns), base + start * 2 * columns, 0, Int64(end - start),
                                  input, Int64(batch), output + start, Int64(rows), scratch)
            }
            return
        }
        forEachUnitRange(packed.sets, pool: pool) { sets, _ in
            _ = ck_repacked_float_gemm(type, Int64(columns), base, Int64(rows), input, Int64(batch), output,
                                       Int64(rows), Int64(sets.lowerBound), Int64(sets.upperBound))
        }
    }

    /// F16/BF16 weights in the file's layout: each pool task converts panels of 32 rows to f32
    /// in its worker's scratch and multiplies every activation row with them (`ck_gemm_float`).
    /// False for other types or without AVX2.
    static func floatGemmMultiply(_ weights: WeightMatrix, input: UnsafePointer<Float>, batch: Int,
                                  output: UnsafeMutablePointer<Float>, pool: ThreadPool) -> Bool {
        guard weights.type == .f16 || weights.type == .bf16, ck_cpu_level() > 0,
              let base = weights.data.baseAddress else { return false }
        let type = Int32(weights.type.rawValue)
        let rows = weights.rows, columns = weights.columns, rowBytes = weights.rowByteCount
        forEachUnitRange((rows + 31) / 32, scratchBytes: ck_gemm_float_scratch_bytes(), pool: pool) { panels, scratch in
            let start = panels.lowerBound * 32, end = min(rows, panels.upperBound * 32)
            _ = ck_gemm_float(type, Int64(columns), base + start * rowBytes, rowBytes, Int64(end - start),
                              input, Int64(batch), output + start, Int64(rows), scratch)
        }
        return true
    }

    /// Quantizes the activation rows once (in parallel), then splits the weight rows into
    /// panels of 32: each pool task decodes its panels into its worker's scratch and
    /// multiplies every activation row with them (`ck_gemm`). False when there is no kernel.
    static func gemmMultiply(_ weights: WeightMatrix, input: UnsafePointer<Float>, batch: Int,
                             output: UnsafeMutablePointer<Float>, pool: ThreadPool) -> Bool {
        let type = Int32(weights.type.rawValue)
        _ = variantFromEnvironment
        // One microkernel for the whole call, chosen now.
        let variant = ck_gemm_variant()
        guard ck_gemm_supported_by(variant, type) != 0, let base = weights.data.baseAddress else { return false }
        let rows = weights.rows, columns = weights.columns, rowBytes = weights.rowByteCount
        withQuantizedActivations(type, input, batch: batch, columns: columns, pool: pool) { activations in
            forEachUnitRange((rows + 31) / 32, scratchBytes: ck_gemm_scratch_bytes(type, Int64(columns)),
                             pool: pool) { panels, scratch in
                let start = panels.lowerBound * 32, end = min(rows, panels.upperBound * 32)
                // Supported types and whole blocks per row (WeightMatrix's invariant) always run.
                _ = ck_gemm_with(variant, type, Int64(columns), base + start * rowBytes, rowBytes, Int64(end - start),
                                 activations, Int64(batch), output + start, Int64(rows), scratch)
            }
        }
        return true
    }
}
