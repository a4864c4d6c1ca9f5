import GGUF

/// Quantization from `Float`, bit-identical to llama.cpp's `ggml_quantize_chunk` with no
/// importance matrix (the `quantize_row_*_ref` functions of ggml-quants.c; F16 and BF16 as
/// `ggml_fp32_to_fp16_row` and `ggml_fp32_to_bf16_row_ref`).
///
/// Rows are independent, so `quantize(rows:…)` spreads them over a thread pool; the bytes do
/// not depend on the thread count.
extension GGMLType {
    /// Whether `quantize` can produce this type.
    public var canQuantize: Bool { blockEncoder != nil }

    /// The types `quantize` can produce.
    public static var quantizableTypes: [GGMLType] { allCases.filter(\.canQuantize) }

    /// Quantizes `source`, `rowLength` floats per row, into `destination`, which must hold
    /// exactly the rows' bytes (`rowByteCount(rowLength:) · rows`).
    public func quantize(rows source: UnsafeBufferPointer<Float>, rowLength: Int,
                         into destination: UnsafeMutableRawBufferPointer,
                         pool: ThreadPool? = nil) throws(QuantizationError) {
        guard let encode = blockEncoder else { throw QuantizationError(kind: .unsupportedType(self)) }
        guard let rowBytes = rowByteCount(rowLength: rowLength), source.count % rowLength == 0 else {
            throw QuantizationError(kind: .rowLengthNotMultipleOfBlock(rowLength: rowLength, type: self))
        }
        let rowCount = source.count / rowLength
        guard destination.count == rowCount * rowBytes else {
            throw QuantizationError(kind: .byteCountMismatch(type: self, expected: rowCount * rowBytes,
                                                             actual: destination.count))
        }
        guard rowCount > 0, let src = source.baseAddress, let dst = destination.baseAddress else { return }
        let blocksPerRow = rowLength / blockSize
        let work = { (rows: Range<Int>) in
            encode(src + rows.lowerBound * rowLength, dst + rows.lowerBound * rowBytes, rows.count * blocksPerRow)
        }
        guard let pool, pool.threadCount > 1, rowCount > 1 else { return work(0..<rowCount) }
        // Chunks of about 64k elements keep every thread busy and the hand-out cheap.
        let rowsPerTask = Swift.max(1, (1 << 16) / rowLength)
        let tasks = (rowCount + rowsPerTask - 1) / rowsPerTask
        pool.run(tasks) { task in
            work((task * rowsPerTask)..<Swift.min(rowCount, (task + 1) * rowsPerTask))
        }
    }

    /// Quantizes a whole tensor's floats (rows of `rowLength`) into a new byte array.
    public func quantize(_ source: [Float], rowLength: Int, pool: ThreadPool? = nil) throws(QuantizationError) -> [UInt8] {
        guard let rowBytes = rowByteCount(rowLength: rowLength), source.count % rowLength == 0 else {
            throw QuantizationError(kind: .rowLengthNotMultipleOfBlock(rowLength: rowLength, type: self))
        }
        var bytes = [UInt8](repeating: 0, count: source.count / rowLength * rowBytes)
        var failure: QuantizationError?
        source.withUnsafeBufferPointer { src in
            bytes.withUnsafeMutableBytes { dst in
                do throws(QuantizationError) {
                    try quantize(rows: src, rowLength: rowLength, into: dst, pool: pool)
                } catch {
                    failure = error
                }
            }
        }
        if let failure { throw failure }
        return bytes
    }

    // MARK: Dispatch

    /// Encodes `blockCount · blockSize` floats from `source` into `blockCount` blocks. No
    /// checks: callers validate sizes first.
    typealias BlockEncoder = @Sendable (_ source: UnsafePointer<Float>, _ destination: UnsafeMutableRawPointer,
                                        _ blockCount: Int) -> Void

    var blockEncoder: BlockEncoder? {
        switch self {
        case .f32: return { src, dst, n in dst.copyMemory(from: src, byteCount: 4 * n) }
        case .f16: return { src, dst, n in
            for i in 0..<n {
                dst.storeBytes(of: QuantizerArithmetic.f16Bits(src[i]).littleEndian, toByteOffset: 2 * i, as: UInt16.self)
            }
        }
        case .bf16: return { src, dst, n in
            for i in 0..<n {
                dst.storeBytes(of: QuantizerArithmetic.bf16Bits(src[i]).littleEndian, toByteOffset: 2 * i, as: UInt16.self)
            }
        }
        case .q4_0: return LegacyQuantEncoder.q4_0
        case .q4_1: return LegacyQuantEncoder.q4_1
        case .q5_0: return LegacyQuantEncoder.q5_0
        case .q5_1: return LegacyQuantEncoder.q5_1
        case .q8_0: return LegacyQuantEncoder.q8_0
        case .q4_K: return KQuantEncoder.q4_K
        case .q5_K: return KQuantEncoder.q5_K
        case .q6_K: return KQuantEncoder.q6_K
        default: return nil
        }
    }
}
