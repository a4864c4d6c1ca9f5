import Foundation
import GGUF
import Testing
@testable import Inference

/// The committed fixture from `Scripts/make_quant_fixtures.py`: per type, `<name>` holds data
/// quantized by llama.cpp's `ggml_quantize_chunk`, and `<name>.ref` (F32) holds
/// `gguf.quants.dequantize` of it.
enum QuantFixture {
    static let file: GGUFFile = {
        guard let fixtures = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
            fatalError("test bundle has no Fixtures directory")
        }
        let path = fixtures.appendingPathComponent("quants/quants.gguf").path
        do {
            return try GGUFFile(path: path)
        } catch {
            fatalError("cannot read the quant fixture: \(error)")
        }
    }()

    /// Type cases with the fixture tensor name each one is stored under.
    static let cases: [(name: String, type: GGMLType)] = [
        ("f32", .f32), ("f16", .f16), ("bf16", .bf16),
        ("q4_0", .q4_0), ("q4_1", .q4_1), ("q5_0", .q5_0), ("q5_1", .q5_1), ("q8_0", .q8_0),
        ("q2_k", .q2_K), ("q3_k", .q3_K), ("q4_k", .q4_K), ("q5_k", .q5_K), ("q6_k", .q6_K),
        ("iq4_nl", .iq4_nl), ("iq4_xs", .iq4_xs),
        // Random blocks (every byte random but a finite f16 `d`): every index and 6-bit scale.
        ("iq4_nl_random", .iq4_nl), ("iq4_xs_random", .iq4_xs),
    ]

    static func tensor(_ name: String) throws -> GGUFTensorInfo {
        try #require(file.tensor(named: name), "fixture has no tensor \(name)")
    }

    /// The F32 reference values of tensor `name`.
    static func reference(_ name: String) throws -> [Float] {
        let info = try tensor(name + ".ref")
        try #require(info.type == .f32)
        let data = file.data(for: info)
        return (0..<info.elementCount).map { data.loadUnaligned(fromByteOffset: 4 * $0, as: Float.self) }
    }
}

/// Indices where `actual` and `expected` differ in bit pattern. NaNs must match too, sign and
/// payload included (the f16/bf16 widenings keep payloads, as numpy does).
func bitMismatches(_ actual: some Collection<Float>, _ expected: [Float]) -> [Int] {
    zip(actual, expected).enumerated().compactMap { index, pair in
        pair.0.bitPattern == pair.1.bitPattern ? nil : index
    }
}

func describe(_ mismatches: [Int], _ actual: [Float], _ expected: [Float]) -> Comment {
    let shown = mismatches.prefix(5).map {
        "[\($0)] got \(actual[$0]) (0x\(String(actual[$0].bitPattern, radix: 16))), "
            + "want \(expected[$0]) (0x\(String(expected[$0].bitPattern, radix: 16)))"
    }
    return Comment(rawValue: "\(mismatches.count) mismatches: " + shown.joined(separator: "; "))
}

@Suite struct DequantizeTests {
    static let names = QuantFixture.cases.map(\.name)

    @Test("whole tensor is bit-identical to gguf.quants.dequantize", arguments: names)
    func wholeTensor(name: String) throws {
        let expectedType = try #require(QuantFixture.cases.first { $0.name == name }?.type)
        let info = try QuantFixture.tensor(name)
        #expect(info.type == expectedType)
        #expect(info.type.canDequantize)
        let expected = try QuantFixture.reference(name)
        #expect(expected.count == info.elementCount)
        #expect(info.elementCount >= 1024)

        let actual = try info.type.dequantize(QuantFixture.file.data(for: info), elementCount: info.elementCount)
        #expect(actual.count == expected.count)
        let mismatches = bitMismatches(actual, expected)
        let mismatchCount = mismatches.count
        #expect(mismatchCount == 0, describe(mismatches, actual, expected))
    }

    @Test("each row, and a block of rows, match the reference", arguments: names)
    func rows(name: String) throws {
        let info = try QuantFixture.tensor(name)
        let expected = try QuantFixture.reference(name)
        let data = QuantFixture.file.data(for: info)
        let rowLength = info.rowLength
        let rowCount = info.rowCount
        #expect(rowCount >= 4)
        var row = [Float](repeating: .nan, count: rowLength)
        for r in 0..<rowCount {
            try row.withUnsafeMutableBufferPointer { buffer in
                try info.type.dequantizeRow(r, rowLength: rowLength, of: data, into: buffer)
            }
            let want = Array(expected[(r * rowLength)..<((r + 1) * rowLength)])
            let mismatches = bitMismatches(row, want)
            let mismatchCount = mismatches.count
            #expect(mismatchCount == 0, "row \(r): \(describe(mismatches, row, want))")
        }

        let rows = 1..<(rowCount - 1)
        var tile = [Float](repeating: .nan, count: rows.count * rowLength + 7)
        try tile.withUnsafeMutableBufferPointer { buffer in
            try info.type.dequantizeRows(rows, rowLength: rowLength, of: data, into: buffer)
        }
        let want = Array(expected[(rows.lowerBound * rowLength)..<(rows.upperBound * rowLength)])
        let mismatches = bitMismatches(tile.prefix(want.count), want)
        let mismatchCount = mismatches.count
        #expect(mismatchCount == 0, describe(mismatches, Array(tile.prefix(want.count)), want))
        let untouched = tile.suffix(7).allSatisfy { $0.isNaN }
        #expect(untouched, "wrote past the rows asked for")
    }

    @Test("the fixture covers the interesting cases")
    func fixtureCoverage() throws {
        // Infinite mins from the large-magnitude row, NaN and inf from the float edge cases.
        #expect(try QuantFixture.reference("q4_1").contains { $0.isInfinite })
        #expect(try QuantFixture.reference("f16").contains { $0.isNaN })
        #expect(try QuantFixture.reference("bf16").contains { $0.isNaN })
        #expect(try QuantFixture.reference("f16").contains { $0.isSubnormal || ($0 != 0 && abs($0) < 6.2e-5) })
        #expect(try QuantFixture.reference("q4_0").allSatisfy { $0.isFinite })
    }
}
