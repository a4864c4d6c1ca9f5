import GGUF
import Testing
@testable import Inference

@Suite struct DequantizeErrorTests {
    static let supported: [GGMLType] = [
        .f32, .f16, .bf16, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K,
        .iq4_nl, .iq4_xs,
    ]

    /// Runs `body` with `count` bytes of zeros and room for `floats` floats.
    func withBuffers<R>(bytes count: Int, floats: Int,
                        _ body: (UnsafeRawBufferPointer, UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        let source = [UInt8](repeating: 0, count: count)
        var destination = [Float](repeating: 0, count: floats)
        return try source.withUnsafeBytes { src in
            try destination.withUnsafeMutableBufferPointer { dst in try body(src, dst) }
        }
    }

    func error(_ body: () throws(DequantizationError) -> Void) -> DequantizationError? {
        do throws(DequantizationError) {
            try body()
            return nil
        } catch {
            return error
        }
    }

    @Test("one byte too few or too many is an error naming the type", arguments: supported)
    func wrongByteCount(type: GGMLType) {
        let elements = 2 * type.blockSize * (type.blockSize == 1 ? 32 : 1)
        let bytes = elements / type.blockSize * type.typeSize
        for actual in [bytes - 1, bytes + 1, 0] {
            let failure = withBuffers(bytes: actual, floats: elements) { src, dst in
                error { () throws(DequantizationError) in try type.dequantize(src, elementCount: elements, into: dst) }
            }
            #expect(failure == DequantizationError(type: type, kind: .byteCountMismatch(expected: bytes, actual: actual)))
            #expect(failure?.description.contains(type.name) == true)
        }
    }

    @Test("a partial block is an error", arguments: supported.filter { $0.blockSize > 1 })
    func partialBlock(type: GGMLType) {
        let elements = type.blockSize + 1
        let failure = withBuffers(bytes: 2 * type.typeSize, floats: elements) { src, dst in
            error { () throws(DequantizationError) in try type.dequantize(src, elementCount: elements, into: dst) }
        }
        #expect(failure?.kind == .notMultipleOfBlockSize(elementCount: elements, blockSize: type.blockSize))
        #expect(failure?.type == type)
    }

    @Test("a destination that is too small is an error", arguments: supported)
    func smallDestination(type: GGMLType) {
        let elements = type.blockSize * 4
        let failure = withBuffers(bytes: 4 * type.typeSize, floats: elements - 1) { src, dst in
            error { () throws(DequantizationError) in try type.dequantize(src, elementCount: elements, into: dst) }
        }
        #expect(failure?.kind == .destinationTooSmall(needed: elements, available: elements - 1))
    }

    @Test("types without a kernel are refused", arguments: GGMLType.allCases.filter { !supported.contains($0) })
    func unsupported(type: GGMLType) {
        #expect(!type.canDequantize)
        let failure = withBuffers(bytes: type.typeSize, floats: type.blockSize) { src, dst in
            error { () throws(DequantizationError) in try type.dequantize(src, elementCount: type.blockSize, into: dst) }
        }
        #expect(failure == DequantizationError(type: type, kind: .unsupportedType))
        #expect(failure?.description.contains(type.name) == true)
    }

    @Test("row access checks the row range and row length", arguments: [GGMLType.q4_K, .q8_0, .f16])
    func rowChecks(type: GGMLType) {
        let rowLength = 256
        let rowBytes = rowLength / type.blockSize * type.typeSize
        withBuffers(bytes: 3 * rowBytes, floats: 2 * rowLength) { src, dst in
            let outside = error { () throws(DequantizationError) in
                try type.dequantizeRow(3, rowLength: rowLength, of: src, into: dst)
            }
            #expect(outside?.kind == .rowsOutOfRange(rows: 3..<4, rowCount: 3))
            let negative = error { () throws(DequantizationError) in
                try type.dequantizeRows(-1..<1, rowLength: rowLength, of: src, into: dst)
            }
            #expect(negative?.kind == .rowsOutOfRange(rows: -1..<1, rowCount: 3))
            let tooMany = error { () throws(DequantizationError) in
                try type.dequantizeRows(0..<3, rowLength: rowLength, of: src, into: dst)
            }
            #expect(tooMany?.kind == .destinationTooSmall(needed: 3 * rowLength, available: 2 * rowLength))
            let ragged = error { () throws(DequantizationError) in
                try type.dequantizeRow(0, rowLength: rowLength,
                                       of: UnsafeRawBufferPointer(rebasing: src.dropLast()), into: dst)
            }
            #expect(ragged?.kind == .byteCountMismatch(expected: 3 * rowBytes, actual: 3 * rowBytes - 1))
            let fine = error { () throws(DequantizationError) in
                try type.dequantizeRows(1..<3, rowLength: rowLength, of: src, into: dst)
            }
            #expect(fine == nil)
        }
        if type.blockSize > 1 {
            let badLength = withBuffers(bytes: 4 * type.typeSize, floats: 1024) { src, dst in
                error { () throws(DequantizationError) in
                    try type.dequantizeRow(0, rowLength: type.blockSize / 2, of: src, into: dst)
                }
            }
            #expect(badLength?.kind == .notMultipleOfBlockSize(elementCount: type.blockSize / 2,
                                                               blockSize: type.blockSize))
        }
    }

    @Test("empty input is fine")
    func empty() throws {
        for type in Self.supported {
            let result = try type.dequantize(UnsafeRawBufferPointer(start: nil, count: 0), elementCount: 0)
            #expect(result.isEmpty)
        }
    }
}
