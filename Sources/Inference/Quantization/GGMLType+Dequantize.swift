import GGUF

/// Dequantization to `Float`, bit-identical to `gguf.quants.dequantize` (PyPI `gguf`), which
/// in turn matches ggml's reference `dequantize_row_*` functions.
///
/// Sources are raw little-endian tensor bytes (typically an mmapped GGUF view); they need no
/// alignment. Quant blocks run along a row, so a row of `rowLength` elements is
/// `rowLength / blockSize * typeSize` bytes.
extension GGMLType {
    /// Whether `dequantize` supports this type.
    public var canDequantize: Bool { blockDecoder != nil }

    /// Bytes taken by one row of `rowLength` elements, or nil when `rowLength` is not a
    /// positive whole number of blocks.
    public func rowByteCount(rowLength: Int) -> Int? {
        guard rowLength > 0, rowLength % blockSize == 0 else { return nil }
        let (bytes, overflow) = (rowLength / blockSize).multipliedReportingOverflow(by: typeSize)
        return overflow ? nil : bytes
    }

    /// Dequantizes `elementCount` elements from `source` (exactly the bytes they take) into
    /// the first `elementCount` floats of `destination`.
    public func dequantize(_ source: UnsafeRawBufferPointer, elementCount: Int,
                           into destination: UnsafeMutableBufferPointer<Float>) throws(DequantizationError) {
        let decode = try requireDecoder()
        guard elementCount >= 0, elementCount % blockSize == 0 else {
            throw DequantizationError(type: self, kind: .notMultipleOfBlockSize(
                elementCount: elementCount, blockSize: blockSize))
        }
        let blocks = elementCount / blockSize
        let (expected, overflow) = blocks.multipliedReportingOverflow(by: typeSize)
        guard !overflow, source.count == expected else {
            throw DequantizationError(type: self, kind: .byteCountMismatch(
                expected: overflow ? Int.max : expected, actual: source.count))
        }
        guard destination.count >= elementCount else {
            throw DequantizationError(type: self, kind: .destinationTooSmall(
                needed: elementCount, available: destination.count))
        }
        guard blocks > 0, let src = source.baseAddress, let dst = destination.baseAddress else { return }
        decode(src, dst, blocks)
    }

    /// Dequantizes a whole tensor's bytes into a new array.
    public func dequantize(_ source: UnsafeRawBufferPointer, elementCount: Int) throws(DequantizationError) -> [Float] {
        _ = try requireDecoder()
        guard elementCount >= 0 else {
            throw DequantizationError(type: self, kind: .notMultipleOfBlockSize(
                elementCount: elementCount, blockSize: blockSize))
        }
        var result = [Float](repeating: 0, count: elementCount)
        var failure: DequantizationError?
        result.withUnsafeMutableBufferPointer { buffer in
            do throws(DequantizationError) {
                try dequantize(source, elementCount: elementCount, into: buffer)
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
        return result
    }

    /// Dequantizes rows `rows` of a 2-D tensor whose bytes are `tensorData` (all rows, each
    /// `rowLength` elements) into `destination`, row after row: `[rows.count × rowLength]`.
    ///
    /// This is the form matmul code uses to expand a tile of a quantized weight.
    public func dequantizeRows(_ rows: Range<Int>, rowLength: Int, of tensorData: UnsafeRawBufferPointer,
                               into destination: UnsafeMutableBufferPointer<Float>) throws(DequantizationError) {
        let decode = try requireDecoder()
        guard let rowBytes = rowByteCount(rowLength: rowLength) else {
            throw DequantizationError(type: self, kind: .notMultipleOfBlockSize(
                elementCount: rowLength, blockSize: blockSize))
        }
        guard tensorData.count % rowBytes == 0 else {
            let wholeRows = tensorData.count / rowBytes + 1
            throw DequantizationError(type: self, kind: .byteCountMismatch(
                expected: wholeRows * rowBytes, actual: tensorData.count))
        }
        let rowCount = tensorData.count / rowBytes
        guard rows.lowerBound >= 0, rows.upperBound <= rowCount else {
            throw DequantizationError(type: self, kind: .rowsOutOfRange(rows: rows, rowCount: rowCount))
        }
        let needed = rows.count * rowLength
        guard destination.count >= needed else {
            throw DequantizationError(type: self, kind: .destinationTooSmall(
                needed: needed, available: destination.count))
        }
        guard needed > 0, let src = tensorData.baseAddress, let dst = destination.baseAddress else { return }
        decode(src + rows.lowerBound * rowBytes, dst, rows.count * (rowLength / blockSize))
    }

    /// Dequantizes row `row` of a 2-D tensor into the first `rowLength` floats of `destination`.
    public func dequantizeRow(_ row: Int, rowLength: Int, of tensorData: UnsafeRawBufferPointer,
                              into destination: UnsafeMutableBufferPointer<Float>) throws(DequantizationError) {
        guard row < Int.max else {
            throw DequantizationError(type: self, kind: .rowsOutOfRange(rows: row..<row, rowCount: 0))
        }
        try dequantizeRows(row..<(row + 1), rowLength: rowLength, of: tensorData, into: destination)
    }

    // MARK: Dispatch

    /// Decodes `blockCount` consecutive blocks from `source` into `blockCount · blockSize`
    /// floats. No checks: callers validate sizes first.
    typealias BlockDecoder = @Sendable (_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>,
                                        _ blockCount: Int) -> Void

    var blockDecoder: BlockDecoder? {
        switch self {
        case .f32: return { src, dst, n in
            UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: 4 * n)
        }
        case .f16: return { src, dst, n in HalfFloat.convertF16(src, to: dst, count: n) }
        case .bf16: return { src, dst, n in HalfFloat.convertBF16(src, to: dst, count: n) }
        case .q4_0: return LegacyQuantDecoder.q4_0
        case .q4_1: return LegacyQuantDecoder.q4_1
        case .q5_0: return LegacyQuantDecoder.q5_0
        case .q5_1: return LegacyQuantDecoder.q5_1
        case .q8_0: return LegacyQuantDecoder.q8_0
        case .q2_K: return KQuantDecoder.q2_K
        case .q3_K: return KQuantDecoder.q3_K
        case .q4_K: return KQuantDecoder.q4_K
        case .q5_K: return KQuantDecoder.q5_K
        case .q6_K: return KQuantDecoder.q6_K
        case .iq4_nl: return IQuantDecoder.iq4_nl
        case .iq4_xs: return IQuantDecoder.iq4_xs
        default: return nil
        }
    }

    private func requireDecoder() throws(DequantizationError) -> BlockDecoder {
        guard let decoder = blockDecoder else {
            throw DequantizationError(type: self, kind: .unsupportedType)
        }
        return decoder
    }
}
