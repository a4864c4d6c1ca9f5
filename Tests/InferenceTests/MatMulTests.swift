import CKernels
import GGUF
import Testing
@testable import Inference

/// Random weight matrices of every type: random bytes (every bit pattern of a quant is valid)
/// with the f16 scale fields overwritten by modest finite values.
struct MatMulCase {
    let type: GGMLType
    let rows: Int
    let columns: Int
    let bytes: [UInt8]
    let dequantized: [Float]  // rows × columns

    init(type: GGMLType, rows: Int, columns: Int, seed: UInt64) {
        var random = MatMulRandom(seed: seed)
        let rowBytes = columns / type.blockSize * type.typeSize
        var bytes = (0..<(rows * rowBytes)).map { _ in UInt8.random(in: 0...255, using: &random) }
        func putHalf(_ value: Float, at offset: Int) {
            let bits = HalfFloat.f16Bits(from: value)
            bytes[offset] = UInt8(bits & 0xFF)
            bytes[offset + 1] = UInt8(bits >> 8)
        }
        switch type {
        case .f32:
            for i in 0..<(rows * columns) {
                let bits = Float.random(in: -1...1, using: &random).bitPattern
                for k in 0..<4 { bytes[4 * i + k] = UInt8((bits >> (8 * k)) & 0xFF) }
            }
        case .f16:
            for i in 0..<(rows * columns) { putHalf(Float.random(in: -1...1, using: &random), at: 2 * i) }
        case .bf16:
            for i in 0..<(rows * columns) {
                let bits = HalfFloat.bf16Bits(from: Float.random(in: -1...1, using: &random))
                bytes[2 * i] = UInt8(bits & 0xFF)
                bytes[2 * i + 1] = UInt8(bits >> 8)
            }
        default:
            // Offsets of the f16 fields inside a block.
            let halves: [Int]
            switch type {
            case .q4_0, .q5_0, .q8_0, .iq4_nl, .iq4_xs: halves = [0]
            case .q4_1, .q5_1, .q4_K, .q5_K: halves = [0, 2]
            case .q2_K: halves = [80, 82]
            case .q3_K: halves = [108]
            case .q6_K: halves = [208]
            default: halves = []
            }
            for block in 0..<(bytes.count / type.typeSize) {
                for offset in halves {
                    putHalf(Float.random(in: -0.02...0.02, using: &random), at: block * type.typeSize + offset)
                }
            }
        }
        self.init(type: type, rows: rows, columns: columns, bytes: bytes)
    }

    /// A matrix of the given bytes (`rows × columns` elements of `type`).
    init(type: GGMLType, rows: Int, columns: Int, bytes: [UInt8]) {
        self.type = type
        self.rows = rows
        self.columns = columns
        self.bytes = bytes
        dequantized = bytes.withUnsafeBytes { try! type.dequantize($0, elementCount: rows * columns) }
    }

    func withMatrix<R>(_ body: (WeightMatrix) -> R) -> R {
        bytes.withUnsafeBytes { raw in
            body(WeightMatrix(name: "test", type: type, rows: rows, columns: columns, data: raw))
        }
    }

    /// `batch × columns` activations with a few outliers, as real hidden states have.
    func input(batch: Int, seed: UInt64) -> [Float] {
        var random = MatMulRandom(seed: seed)
        return (0..<(batch * columns)).map { i in
            i % 97 == 5 ? Float.random(in: -20...20, using: &random) : Float.random(in: -2...2, using: &random)
        }
    }

    /// `batch × rows` products in Double from the dequantized weights and `input`.
    /// ggml's semantics: F16 and BF16 weights meet activations rounded to their own type.
    func reference(_ input: [Float], batch: Int) -> [Double] {
        let input: [Float] = switch type {
        case .f16: input.map { Float(Float16($0)) }
        case .bf16: input.map { HalfFloat.float(fromBF16Bits: HalfFloat.bf16Bits(from: $0)) }
        default: input
        }
        var out = [Double](repeating: 0, count: batch * rows)
        for b in 0..<batch {
            for r in 0..<rows {
                var sum = 0.0
                for c in 0..<columns { sum += Double(dequantized[r * columns + c]) * Double(input[b * columns + c]) }
                out[b * rows + r] = sum
            }
        }
        return out
    }

    func multiply(_ input: [Float], batch: Int, pool: ThreadPool, path: MatMul.Path) -> [Float] {
        var output = [Float](repeating: .nan, count: batch * rows)
        withMatrix { matrix in
            input.withUnsafeBufferPointer { x in
                output.withUnsafeMutableBufferPointer { y in
                    MatMul.multiply(matrix, input: x.baseAddress!, batch: batch, output: y.baseAddress!,
                                    pool: pool, path: path)
                }
            }
        }
        return output
    }
}

/// SplitMix64, for reproducible random matrices.
struct MatMulRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// max|a − b| / max|b|.
func relativeMaxError(_ a: [Float], _ b: [Double]) -> Double {
    var maxDiff = 0.0, maxRef = 0.0
    for i in a.indices {
        maxDiff = max(maxDiff, abs(Double(a[i]) - b[i]))
        maxRef = max(maxRef, abs(b[i]))
    }
    return maxDiff / max(maxRef, 1e-30)
}

extension MatMulCase {
    /// Worst ratio over outputs of |output − exact| to what Q8 activation rounding allows:
    /// six standard deviations of Σ w·e with e uniform in ±step/2 (step = the activation block's
    /// amax/127; 0 where the path keeps f32 activations), plus 1e-5 of Σ|w·x| for float rounding.
    func errorRatio(_ output: [Float], _ input: [Float], batch: Int, quantizedActivations: Bool) -> Double {
        let kind = ck_activation_kind(Int32(type.rawValue))
        return errorRatio(output, input, batch: batch, activationBlock: !quantizedActivations || kind <= 0 ? 0 : kind == 1 ? 32 : 256)
    }

    /// Elements per activation scale on `path` for a batch of `batch` rows (0: f32 activations).
    func activationBlock(path: MatMul.Path, batch: Int) -> Int {
        let kind = ck_activation_kind(Int32(type.rawValue))
        let decodeBlock = !MatMul.hasDecodeKernel(for: type) || kind <= 0 ? 0 : kind == 1 ? 32 : 256
        switch path {
        case .decode: return decodeBlock
        case .gemm: return MatMul.hasGemmKernel(for: type) ? 32 : 0
        case .blas, .reference: return 0
        case .automatic:
            if batch >= MatMul.gemmBatchThreshold && MatMul.hasGemmKernel(for: type) { return 32 }
            return batch >= MatMul.blasBatchThreshold ? 0 : decodeBlock
        }
    }

    func errorRatio(_ output: [Float], _ input: [Float], batch: Int, activationBlock block: Int) -> Double {
        let exact = reference(input, batch: batch)
        var worst = 0.0
        for b in 0..<batch {
            let x = input[(b * columns)..<((b + 1) * columns)].map(Double.init)
            let steps: [Double] = block == 0 ? [] : stride(from: 0, to: columns, by: block).map { start in
                x[start..<(start + block)].map(abs).max()! / 127
            }
            for r in 0..<rows {
                var variance = 0.0, magnitude = 0.0
                for c in 0..<columns {
                    let w = Double(dequantized[r * columns + c])
                    if block > 0 { variance += (w * steps[c / block]) * (w * steps[c / block]) / 12 }
                    magnitude += abs(w * x[c])
                }
                let bound = 6 * variance.squareRoot() + 1e-5 * magnitude + 1e-30
                worst = max(worst, abs(Double(output[b * rows + r]) - exact[b * rows + r]) / bound)
            }
        }
        return worst
    }
}

extension MatMulCase {
    /// Worst |output − Σ w·dequantize(quantize(x))| over Σ|w·dequantize(quantize(x))| (the
    /// math the decode kernels do, in Double): about 1e-7 when only float summation order
    /// differs; a wrong scale or value anywhere in a row shows as 1e-4 or more.
    func quantizedActivationError(_ output: [Float], _ input: [Float], batch: Int) -> Double {
        let quantized = input.withUnsafeBufferPointer { MatMulActivations.roundTrip($0, type: type, batch: batch) }
        let reference = reference(quantized, batch: batch)
        var bound = 0.0
        for b in 0..<batch {
            for r in 0..<rows {
                var magnitude = 0.0
                for col in 0..<columns {
                    magnitude += abs(Double(dequantized[r * columns + col]) * Double(quantized[b * columns + col]))
                }
                let diff = abs(Double(output[b * rows + r]) - reference[b * rows + r])
                bound = max(bound, diff / max(magnitude, 1e-30))
            }
        }
        return bound
    }
}

@Suite("MatMul against dequantize-then-dot")
struct MatMulTests {
    static let quantTypes: [GGMLType] = [.q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q4_K, .q5_K, .q6_K, .q2_K, .q3_K,
                                         .iq4_nl, .iq4_xs]
    static let floatTypes: [GGMLType] = [.f32, .f16, .bf16]
    static let batches = [1, 3, 4, 37, 64]

    /// Columns: two K-quant blocks, or an odd number of 32-blocks, or an odd length for floats.
    static func columns(for type: GGMLType) -> Int {
        switch type.blockSize {
        case 256: return 512
        case 32: return 96 + 256
        default: return 333
        }
    }

    static let pool = ThreadPool(threadCount: 3)

    @Test("quantized weights, automatic path", arguments: quantTypes, batches)
    func quantized(type: GGMLType, batch: Int) {
        let c = MatMulCase(type: type, rows: 67, columns: Self.columns(for: type), seed: UInt64(type.rawValue))
        let x = c.input(batch: batch, seed: 99)
        let output = c.multiply(x, batch: batch, pool: Self.pool, path: .automatic)
        let ratio = c.errorRatio(output, x, batch: batch, activationBlock: c.activationBlock(path: .automatic, batch: batch))
        #expect(ratio <= 1, "\(type) batch \(batch): \(ratio)")
    }

    @Test("float weights, automatic path", arguments: floatTypes, batches)
    func float(type: GGMLType, batch: Int) {
        let c = MatMulCase(type: type, rows: 67, columns: Self.columns(for: type), seed: 7)
        let x = c.input(batch: batch, seed: 5)
        let error = relativeMaxError(c.multiply(x, batch: batch, pool: Self.pool, path: .automatic),
                                     c.reference(x, batch: batch))
        #expect(error < 1e-5, "\(type) batch \(batch): \(error)")
    }

    @Test("every path agrees", arguments: quantTypes + floatTypes, [1, 5, 33])
    func paths(type: GGMLType, batch: Int) {
        let c = MatMulCase(type: type, rows: 45, columns: Self.columns(for: type), seed: 11)
        let x = c.input(batch: batch, seed: 3)
        for path in MatMul.Path.allCases {
            let ratio = c.errorRatio(c.multiply(x, batch: batch, pool: Self.pool, path: path), x, batch: batch,
                                     activationBlock: c.activationBlock(path: path, batch: batch))
            #expect(ratio <= 1, "\(type) batch \(batch) \(path): \(ratio)")
        }
    }

    /// The decode kernels compute exactly Σ w·dequantize(quantize(x)): compared with that in
    /// Double, only float summation order differs.
    @Test("decode kernels equal the math on quantized activations", arguments: quantTypes + floatTypes, [1, 2, 3, 4, 5, 8])
    func exact(type: GGMLType, batch: Int) throws {
        let kind = ck_activation_kind(Int32(type.rawValue))
        guard MatMul.hasDecodeKernel(for: type) else { return }
        let c = MatMulCase(type: type, rows: 21, columns: Self.columns(for: type), seed: 23)
        let x = c.input(batch: batch, seed: 17)
        let output = c.multiply(x, batch: batch, pool: Self.pool, path: .decode)
        let bound = c.quantizedActivationError(output, x, batch: batch)
        #expect(bound < 1e-5, "\(type) kind \(kind) batch \(batch): \(bound)")
    }

    @Test("decode path with more rows than four activations per pass", arguments: [GGMLType.q8_0, .q4_K, .q6_K, .f16])
    func wideBatch(type: GGMLType) {
        let c = MatMulCase(type: type, rows: 130, columns: Self.columns(for: type), seed: 31)
        for batch in [6, 9, 13] {
            let x = c.input(batch: batch, seed: UInt64(batch))
            let ratio = c.errorRatio(c.multiply(x, batch: batch, pool: Self.pool, path: .decode), x, batch: batch,
                                     quantizedActivations: true)
            #expect(ratio <= 1, "\(type) batch \(batch): \(ratio)")
        }
    }

    @Test("AVX2 and VNNI kernels agree")
    func levels() {
        guard ck_cpu_level() >= 2 else { return }
        defer { ck_set_cpu_level_cap(-1) }
        for type in Self.quantTypes + Self.floatTypes where MatMul.hasDecodeKernel(for: type) {
            let c = MatMulCase(type: type, rows: 33, columns: Self.columns(for: type), seed: 41)
            let x = c.input(batch: 5, seed: 43)
            let vnni = c.multiply(x, batch: 5, pool: Self.pool, path: .decode)
            ck_set_cpu_level_cap(1)
            let avx2 = c.multiply(x, batch: 5, pool: Self.pool, path: .decode)
            ck_set_cpu_level_cap(-1)
            #expect(vnni == avx2, "\(type)")
        }
    }

    @Test("single-threaded pool and a one-row matrix")
    func smallShapes() {
        let one = ThreadPool(threadCount: 1)
        for type in [GGMLType.q8_0, .q4_K, .f32] {
            for rows in [1, 2, 17] {
                let c = MatMulCase(type: type, rows: rows, columns: Self.columns(for: type), seed: 3)
                for batch in [1, 4, 32] {
                    let x = c.input(batch: batch, seed: 1)
                    let block = c.activationBlock(path: .automatic, batch: batch)
                    for pool in [one, Self.pool] {
                        let output = c.multiply(x, batch: batch, pool: pool, path: .automatic)
                        #expect(c.errorRatio(output, x, batch: batch, activationBlock: block) <= 1,
                                "\(type) rows \(rows) batch \(batch) threads \(pool.threadCount)")
                    }
                }
            }
        }
    }
}

/// Reads back the kernels' activation layouts.
enum MatMulActivations {
    /// `x` quantized as the decode kernels see it and dequantized again.
    static func roundTrip(_ x: UnsafeBufferPointer<Float>, type: GGMLType, batch: Int) -> [Float] {
        let t = Int32(type.rawValue)
        let n = x.count / batch
        let rowBytes = ck_activation_row_bytes(t, Int64(n))
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: batch * rowBytes, alignment: 64)
        defer { buffer.deallocate() }
        var out = [Float]()
        for b in 0..<batch {
            let row = buffer + b * rowBytes
            ck_quantize_row(t, x.baseAddress! + b * n, Int64(n), row)
            out += dequantize(row, n: n, kind: ck_activation_kind(t)).values
        }
        return out
    }

    /// Values, scales and (kind 1) block sums / (kind 2) 16-element sums of one quantized row.
    static func dequantize(_ row: UnsafeRawPointer, n: Int, kind: Int32)
        -> (values: [Float], q: [Int8], d: [Float], sums: [Float]) {
        switch kind {
        case 0:
            let v = (0..<n).map { row.load(fromByteOffset: 4 * $0, as: Float.self) }
            return (v, [], [], [])
        case 1:
            let nb = n / 32
            let q = (0..<n).map { row.load(fromByteOffset: $0, as: Int8.self) }
            let d = (0..<nb).map { row.load(fromByteOffset: 32 * nb + 4 * $0, as: Float.self) }
            let s = (0..<nb).map { row.load(fromByteOffset: 36 * nb + 4 * $0, as: Float.self) }
            return ((0..<n).map { d[$0 / 32] * Float(q[$0]) }, q, d, s)
        default:
            let nb = n / 256
            let q = (0..<n).map { row.load(fromByteOffset: $0, as: Int8.self) }
            let d = (0..<nb).map { row.load(fromByteOffset: 256 * nb + 4 * $0, as: Float.self) }
            let sums = (0..<(16 * nb)).map { Float(row.load(fromByteOffset: 260 * nb + 2 * $0, as: Int16.self)) }
            return ((0..<n).map { d[$0 / 256] * Float(q[$0]) }, q, d, sums)
        }
    }
}
