import CKernels
import GGUF
import Testing
@testable import Inference

/// The integer GEMM of prompt batches (`ck_gemm`): exact integer sums of decoded weights and
/// activations quantized per 32, the same result on every microkernel, and each activation row
/// independent of the others in its batch.
@Suite("Integer GEMM for prompt batches")
struct GemmTests {
    static let types: [GGMLType] = [.q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K,
                                    .iq4_nl, .iq4_xs]
    static let pool = ThreadPool(threadCount: 3)

    /// The activation rows as ck_gemm sees them: q·d per element.
    static func roundTrip(_ x: [Float], type: GGMLType, batch: Int, columns: Int) -> [Float] {
        let t = Int32(type.rawValue)
        let rowBytes = ck_gemm_act_row_bytes(t, Int64(columns))
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: batch * rowBytes, alignment: 64)
        defer { buffer.deallocate() }
        x.withUnsafeBufferPointer { ck_gemm_quantize_rows(t, $0.baseAddress!, Int64(columns), Int64(batch), buffer) }
        var out = [Float]()
        for b in 0..<batch {
            let row = buffer + b * rowBytes
            for c in 0..<columns {
                let q = row.load(fromByteOffset: c, as: Int8.self)
                let d = row.load(fromByteOffset: columns + 4 * (c / 32), as: Float.self)
                out.append(d * Float(q))
            }
        }
        return out
    }

    /// Runs ck_gemm directly (one thread) on the given microkernel variant (0: the automatic
    /// one), without touching the process-wide choice other tests run under.
    static func gemm(_ c: MatMulCase, _ x: [Float], batch: Int, variant: Int32) -> [Float] {
        let t = Int32(c.type.rawValue)
        let variant = variant == 0 ? ck_gemm_variant() : variant
        let rowBytes = ck_gemm_act_row_bytes(t, Int64(c.columns))
        let act = UnsafeMutableRawPointer.allocate(byteCount: batch * rowBytes, alignment: 64)
        defer { act.deallocate() }
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: ck_gemm_scratch_bytes(t, Int64(c.columns)), alignment: 64)
        defer { scratch.deallocate() }
        x.withUnsafeBufferPointer { ck_gemm_quantize_rows(t, $0.baseAddress!, Int64(c.columns), Int64(batch), act) }
        var out = [Float](repeating: .nan, count: batch * c.rows)
        let handled = c.bytes.withUnsafeBytes { w in
            out.withUnsafeMutableBufferPointer { o in
                ck_gemm_with(variant, t, Int64(c.columns), w.baseAddress!, c.columns / c.type.blockSize * c.type.typeSize,
                        Int64(c.rows), act, Int64(batch), o.baseAddress!, Int64(c.rows), scratch)
            }
        }
        return handled == 0 ? [] : out
    }

    @Test("the products equal Σ w·x on the quantized activations", arguments: types, [1, 4, 9, 37])
    func exact(type: GGMLType, batch: Int) {
        guard MatMul.hasGemmKernel(for: type) else { return }
        let columns = MatMulTests.columns(for: type)
        let c = MatMulCase(type: type, rows: 67, columns: columns, seed: 5 + UInt64(type.rawValue))
        let x = c.input(batch: batch, seed: 13)
        let quantized = Self.roundTrip(x, type: type, batch: batch, columns: columns)
        let reference = c.reference(quantized, batch: batch)
        let output = c.multiply(x, batch: batch, pool: Self.pool, path: .gemm)
        var worst = 0.0
        for b in 0..<batch {
            for r in 0..<c.rows {
                var magnitude = 0.0
                for col in 0..<columns {
                    magnitude += abs(Double(c.dequantized[r * columns + col]) * Double(quantized[b * columns + col]))
                }
                worst = max(worst, abs(Double(output[b * c.rows + r]) - reference[b * c.rows + r]) / max(magnitude, 1e-30))
            }
        }
        #expect(worst < 2e-6, "\(type) batch \(batch): \(worst)")
    }

    @Test("within activation-rounding error of the f32 product", arguments: types)
    func accuracy(type: GGMLType) {
        guard MatMul.hasGemmKernel(for: type) else { return }
        let c = MatMulCase(type: type, rows: 40, columns: MatMulTests.columns(for: type), seed: 71)
        let x = c.input(batch: 12, seed: 72)
        let ratio = c.errorRatio(c.multiply(x, batch: 12, pool: Self.pool, path: .gemm), x, batch: 12, activationBlock: 32)
        #expect(ratio <= 1, "\(type): \(ratio)")
    }

    @Test("a wrong scale is caught: the exactness bound can fail")
    func boundCanFail() {
        let columns = MatMulTests.columns(for: .q4_K)
        let c = MatMulCase(type: .q4_K, rows: 33, columns: columns, seed: 9)
        guard MatMul.hasGemmKernel(for: .q4_K) else { return }
        let x = c.input(batch: 8, seed: 2)
        let quantized = Self.roundTrip(x, type: .q4_K, batch: 8, columns: columns)
        let reference = c.reference(quantized, batch: 8)
        var output = c.multiply(x, batch: 8, pool: Self.pool, path: .gemm)
        output[5] *= 1.001
        #expect(relativeMaxError(output, reference) > 2e-6)
    }

    @Test("every microkernel gives the same bits", arguments: types)
    func variants(type: GGMLType) {
        guard ck_cpu_level() >= 2 else { return }
        let c = MatMulCase(type: type, rows: 50, columns: MatMulTests.columns(for: type), seed: 17)
        let x = c.input(batch: 7, seed: 19)
        let wide = Self.gemm(c, x, batch: 7, variant: 3)
        let narrow = Self.gemm(c, x, batch: 7, variant: 2)
        #expect(!wide.isEmpty && wide == narrow, "\(type): AVX-512 vs 256-bit VNNI")
        let avx2 = Self.gemm(c, x, batch: 7, variant: 1)
        if [.q8_0, .iq4_nl, .iq4_xs].contains(type) {
            #expect(avx2.isEmpty, "\(type) bytes exceed maddubs' range: AVX2 alone has no kernel")
        } else {
            #expect(avx2 == wide, "\(type): AVX2 vs AVX-512")
        }
    }

    @Test("a batched row equals the same row alone", arguments: [GGMLType.q8_0, .q4_K, .q6_K, .q2_K])
    func rowsIndependent(type: GGMLType) {
        guard MatMul.hasGemmKernel(for: type) else { return }
        let c = MatMulCase(type: type, rows: 45, columns: MatMulTests.columns(for: type), seed: 29)
        let batch = 11
        let x = c.input(batch: batch, seed: 31)
        let together = Self.gemm(c, x, batch: batch, variant: 0)
        for b in [0, 4, 10] {
            let alone = Self.gemm(c, Array(x[(b * c.columns)..<((b + 1) * c.columns)]), batch: 1, variant: 0)
            #expect(alone == Array(together[(b * c.rows)..<((b + 1) * c.rows)]), "\(type) row \(b)")
        }
    }

    @Test("F16/BF16 panels: the f32 product of the rounded activations, across column chunks",
          arguments: [GGMLType.f16, .bf16], [1, 7, 13])
    func float(type: GGMLType, batch: Int) {
        guard ck_cpu_level() > 0 else { return }
        // More than one 2048-column chunk, and a partial last panel of rows.
        let c = MatMulCase(type: type, rows: 45, columns: 2048 + 96, seed: 37)
        let x = c.input(batch: batch, seed: 38)
        let error = relativeMaxError(c.multiply(x, batch: batch, pool: Self.pool, path: .gemm), c.reference(x, batch: batch))
        #expect(error < 2e-6, "\(type) batch \(batch): \(error)")
    }

    @Test("the automatic path takes the GEMM from the threshold on")
    func automatic() {
        guard MatMul.hasGemmKernel(for: .q4_0) else { return }
        let c = MatMulCase(type: .q4_0, rows: 64, columns: 256, seed: 3)
        let x = c.input(batch: MatMul.gemmBatchThreshold, seed: 4)
        #expect(c.multiply(x, batch: MatMul.gemmBatchThreshold, pool: Self.pool, path: .automatic)
                == c.multiply(x, batch: MatMul.gemmBatchThreshold, pool: Self.pool, path: .gemm))
    }

    // MARK: Repacked weights

    static let repackedTypes: [GGMLType] = [.q8_0, .q4_0, .q4_K, .q6_K]

    /// `c` through its repacked rows on the automatic path (nil when this CPU has no kernel).
    static func repackedProduct(_ c: MatMulCase, _ x: [Float], batch: Int) -> [Float]? {
        guard RepackedWeights.supports(c.type) else { return nil }
        var output = [Float](repeating: .nan, count: batch * c.rows)
        c.bytes.withUnsafeBytes { raw in
            // A copy: releasing the pages of an array's memory would zero it.
            let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: raw.count, alignment: 64)
            defer { copy.deallocate() }
            copy.copyMemory(from: raw)
            let packed = try! #require(RepackedWeights(WeightMatrix(name: "t", type: c.type, rows: c.rows,
                                                                     columns: c.columns, data: UnsafeRawBufferPointer(copy))))
            var matrix = WeightMatrix(name: "t", type: c.type, rows: c.rows, columns: c.columns, data: UnsafeRawBufferPointer(copy))
            matrix.repacked = packed
            x.withUnsafeBufferPointer { input in
                output.withUnsafeMutableBufferPointer { out in
                    MatMul.multiply(matrix, input: input.baseAddress!, batch: batch, output: out.baseAddress!, pool: Self.pool)
                }
            }
        }
        return output
    }

    @Test("repacked rows give the GEMM's products, from one token to a prompt", arguments: repackedTypes, [1, 3, 4, 9, 33])
    func repacked(type: GGMLType, batch: Int) throws {
        let c = MatMulCase(type: type, rows: 45, columns: MatMulTests.columns(for: type), seed: 51)
        let x = c.input(batch: batch, seed: 52)
        guard let packed = Self.repackedProduct(c, x, batch: batch) else { return }
        let gemm = Self.gemm(c, x, batch: batch, variant: 0)
        if type == .q6_K {
            // Sub-blocks are summed in another order: the same values to f32 rounding.
            #expect(relativeMaxError(packed, gemm.map(Double.init)) < 1e-6, "\(type) batch \(batch)")
        } else {
            #expect(packed == gemm, "\(type) batch \(batch)")
        }
        let ratio = c.errorRatio(packed, x, batch: batch, activationBlock: 32)
        #expect(ratio <= 1, "\(type) batch \(batch): \(ratio)")
    }

    @Test("a repacked row in a batch equals the same row alone", arguments: repackedTypes)
    func repackedRowsIndependent(type: GGMLType) {
        let c = MatMulCase(type: type, rows: 37, columns: MatMulTests.columns(for: type), seed: 61)
        let x = c.input(batch: 6, seed: 62)
        guard let together = Self.repackedProduct(c, x, batch: 6) else { return }
        for b in [0, 3, 5] {
            let alone = Self.repackedProduct(c, Array(x[(b * c.columns)..<((b + 1) * c.columns)]), batch: 1)
            #expect(alone == Array(together[(b * c.rows)..<((b + 1) * c.rows)]), "\(type) row \(b)")
        }
    }

    @Test("repacked sizes: Q8_0, Q4_0 and Q6_K as in the file, Q4_K 2.8% more")
    func repackedSizes() throws {
        for (type, ratio) in [(GGMLType.q8_0, 1.0), (.q4_0, 1.0), (.q6_K, 1.0), (.q4_K, 2368.0 / 2304)] {
            guard RepackedWeights.supports(type) else { continue }
            let c = MatMulCase(type: type, rows: 32, columns: 512, seed: 1)
            let bytes = c.bytes
            let packed = try bytes.withUnsafeBytes { raw in
                try #require(RepackedWeights(WeightMatrix(name: "t", type: type, rows: 32, columns: 512, data: raw)))
            }
            #expect(Double(packed.byteCount) == Double(bytes.count) * ratio, "\(type)")
        }
    }

    @Test("repacked F16/BF16 rows: the f32 product, at decode and prompt sizes", arguments: [GGMLType.f16, .bf16], [1, 3, 5, 17, 40])
    func repackedFloat(type: GGMLType, batch: Int) {
        // A partial last set of rows and an odd number of columns.
        let c = MatMulCase(type: type, rows: 45, columns: 333, seed: 81)
        let x = c.input(batch: batch, seed: 82)
        guard let packed = Self.repackedProduct(c, x, batch: batch) else { return }
        let error = relativeMaxError(packed, c.reference(x, batch: batch))
        #expect(error < 2e-6, "\(type) batch \(batch): \(error)")
        // Below the prompt threshold a batched row is the same row alone (decode of several
        // sequences); from it on, the panel GEMM sums in another order.
        if batch > 1 && batch < 16 {
            let alone = Self.repackedProduct(c, Array(x[0..<c.columns]), batch: 1)
            #expect(alone == Array(packed[0..<c.rows]), "\(type): the first row alone")
        }
    }
}
