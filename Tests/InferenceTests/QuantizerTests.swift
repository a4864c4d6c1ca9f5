import Foundation
import GGUF
import Testing
@testable import Inference

/// The committed fixture from `Scripts/make_quantizer_fixtures.py`: `source` holds seeded f32
/// rows with hard cases, and `<type>` the bytes llama.cpp's `ggml_quantize_chunk` (no
/// importance matrix) made of them. `f16.source`/`bf16.source` hold float edge cases (NaN,
/// inf, ties) and `f16.edge`/`bf16.edge` ggml's conversion of them.
enum QuantizerFixture {
    static let file: GGUFFile = {
        guard let fixtures = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
            fatalError("test bundle has no Fixtures directory")
        }
        do {
            return try GGUFFile(path: fixtures.appendingPathComponent("quants/quantizer.gguf").path)
        } catch {
            fatalError("cannot read the quantizer fixture: \(error)")
        }
    }()

    static let types: [GGMLType] = [.q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q4_K, .q5_K, .q6_K, .f16, .bf16]

    static func floats(_ name: String) throws -> (values: [Float], rowLength: Int) {
        let info = try #require(file.tensor(named: name), "fixture has no tensor \(name)")
        try #require(info.type == .f32)
        let data = file.data(for: info)
        return ((0..<info.elementCount).map { data.loadUnaligned(fromByteOffset: 4 * $0, as: Float.self) }, info.rowLength)
    }

    static func bytes(_ name: String, type: GGMLType) throws -> [UInt8] {
        let info = try #require(file.tensor(named: name), "fixture has no tensor \(name)")
        try #require(info.type == type, "\(name) is \(info.type), expected \(type)")
        return Array(file.data(for: info))
    }
}

/// Where two byte strings first differ, per block, for a readable failure.
func blockMismatches(_ actual: [UInt8], _ expected: [UInt8], blockBytes: Int) -> Comment {
    let blocks = stride(from: 0, to: expected.count, by: blockBytes).filter { start in
        actual[start..<min(start + blockBytes, actual.count)] != expected[start..<(start + blockBytes)]
    }
    let shown = blocks.prefix(3).map { start -> String in
        let offset = (start..<(start + blockBytes)).first { actual[$0] != expected[$0] }!
        return "block \(start / blockBytes) byte \(offset - start): got \(actual[offset]), want \(expected[offset])"
    }
    return Comment(rawValue: "\(blocks.count) of \(expected.count / blockBytes) blocks differ: " + shown.joined(separator: "; "))
}

@Suite struct QuantizerTests {
    @Test("bytes are identical to llama.cpp's ggml_quantize_chunk", arguments: QuantizerFixture.types)
    func matchesLlamaCpp(type: GGMLType) throws {
        let (source, rowLength) = try QuantizerFixture.floats("source")
        let expected = try QuantizerFixture.bytes(type.name.lowercased(), type: type)
        let actual = try type.quantize(source, rowLength: rowLength)
        try #require(actual.count == expected.count)
        // Compared as a Bool: on failure, the comment says which blocks differ.
        let identical = actual == expected
        #expect(identical, blockMismatches(actual, expected, blockBytes: type.typeSize * (type.blockSize == 1 ? 32 : 1)))
    }

    @Test("the result does not depend on the thread count", arguments: [GGMLType.q4_K, .q6_K, .q8_0])
    func threaded(type: GGMLType) throws {
        let (source, rowLength) = try QuantizerFixture.floats("source")
        let expected = try QuantizerFixture.bytes(type.name.lowercased(), type: type)
        // Repeat the rows so that the pool hands out several tasks.
        let many = Array((0..<40).map { _ in source }.joined())
        let actual = try type.quantize(many, rowLength: rowLength, pool: ThreadPool(threadCount: 3))
        let identical = actual == Array((0..<40).map { _ in expected }.joined())
        #expect(identical)
    }

    @Test("float edge cases convert as ggml's row converters", arguments: [GGMLType.f16, .bf16])
    func floatEdgeCases(type: GGMLType) throws {
        let name = type.name.lowercased()
        let (source, rowLength) = try QuantizerFixture.floats(name + ".source")
        let expected = try QuantizerFixture.bytes(name + ".edge", type: type)
        let actual = try type.quantize(source, rowLength: rowLength)
        let differing = zip(actual, expected).enumerated().filter { $0.element.0 != $0.element.1 }.map { $0.offset / 2 }
        let identical = actual == expected
        #expect(identical, "elements \(Array(Set(differing)).sorted().prefix(8)) differ")
        #expect(source.contains { $0.isNaN } && source.contains { $0.isInfinite })
    }

    @Test("the fixture holds the hard cases")
    func fixtureCoverage() throws {
        let (source, rowLength) = try QuantizerFixture.floats("source")
        let blocks = stride(from: 0, to: source.count, by: 32).map { Array(source[$0..<($0 + 32)]) }
        #expect(blocks.contains { $0.allSatisfy { $0 == 0 } }, "an all-zero block")
        #expect(blocks.contains { b in b[0] != 0 && b.allSatisfy { $0 == b[0] } }, "a constant block")
        #expect(blocks.contains { $0.allSatisfy { $0 < 0 } }, "a negative-only block")
        #expect(source.contains { $0.isSubnormal }, "subnormals")
        #expect(source.contains { abs($0) > 1e25 }, "huge magnitudes")
        #expect(rowLength % 256 == 0 && source.count / rowLength >= 10)
    }

    @Test func nearestIntRoundsHalfToEven() {
        let cases: [(Float, Int32)] = [(0.5, 0), (1.5, 2), (2.5, 2), (-0.5, 0), (-1.5, -2), (3.49, 3), (-7.6, -8), (4194303, 4194303)]
        for (value, expected) in cases {
            #expect(QuantizerArithmetic.nearestInt(value) == expected, "\(value)")
        }
    }

    @Test func errorsNameTheTypeAndLength() throws {
        #expect(throws: QuantizationError.self) { try GGMLType.q4_K.quantize([Float](repeating: 1, count: 64), rowLength: 64) }
        #expect(throws: QuantizationError.self) { try GGMLType.q2_K.quantize([Float](repeating: 1, count: 256), rowLength: 256) }
        do {
            _ = try GGMLType.q4_K.quantize([Float](repeating: 1, count: 96), rowLength: 96)
        } catch {
            #expect(error.description == "rows of 96 elements are not a whole number of 256-element Q4_K blocks")
        }
        #expect(GGMLType.quantizableTypes.contains(.q5_K) && !GGMLType.q3_K.canQuantize)
    }
}

@Suite struct KQuantLaneSearchTests {
    /// The lane search (used by the encoders) against the scalar transcription of
    /// `make_qkx2_quants`, on random sub-blocks with constant, zero, one-hot and huge ones mixed in.
    @Test("the lane search equals the scalar search", arguments: [(Int32(15), Float(-1), 20), (31, -0.5, 15)])
    func lanesMatchScalar(nmax: Int32, rmin: Float, nstep: Int) {
        var random = SystemRandomNumberGenerator()
        for round in 0..<200 {
            var x = [Float](repeating: 0, count: 256)
            for j in 0..<8 {
                let scale = Float.random(in: -6...4, using: &random)
                for i in 0..<32 { x[32 * j + i] = Float.random(in: -1...1, using: &random) * pow(10, scale) }
                switch (round + j) % 11 {
                case 0: for i in 0..<32 { x[32 * j + i] = 0.5 }
                case 1: for i in 0..<32 { x[32 * j + i] = 0 }
                case 2: for i in 0..<32 { x[32 * j + i] = i == 7 ? -3 : 0 }
                case 3: for i in 0..<32 { x[32 * j + i] = abs(x[32 * j + i]) + 1 }
                case 4: for i in 0..<32 { x[32 * j + i] *= 1e30 }
                default: break
                }
            }
            var scalarL = [UInt8](repeating: 0, count: 256), laneL = [UInt8](repeating: 0, count: 256)
            var scalarScale = [Float](repeating: 0, count: 8), scalarMin = [Float](repeating: 0, count: 8)
            var laneScale = [Float](repeating: 0, count: 8), laneMin = [Float](repeating: 0, count: 8)
            var weights = [Float](repeating: 0, count: 256)
            for j in 0..<8 {
                let avX = (x[(32 * j)..<(32 * j + 32)].reduce(Float(0)) { $0 + $1 * $1 } / 32).squareRoot()
                for i in 0..<32 { weights[32 * j + i] = avX + abs(x[32 * j + i]) }
            }
            var aux = [UInt8](repeating: 0, count: 32)
            for j in 0..<8 {
                x.withUnsafeBufferPointer { xs in
                    weights.withUnsafeBufferPointer { ws in
                        scalarL.withUnsafeMutableBufferPointer { l in
                            aux.withUnsafeMutableBufferPointer { a in
                                scalarScale[j] = KQuantSearch.scaleAndMin(
                                    count: 32, nmax: nmax, x: xs.baseAddress! + 32 * j, weights: ws.baseAddress! + 32 * j,
                                    L: l.baseAddress! + 32 * j, theMin: &scalarMin[j], Laux: a.baseAddress!,
                                    rmin: rmin, rdelta: 0.1, nstep: nstep)
                            }
                        }
                    }
                }
            }
            var x8 = [SIMD8<Float>](repeating: .zero, count: 32), w8 = x8
            var l8 = [SIMD8<Int32>](repeating: .zero, count: 32), aux8 = l8
            for j in 0..<8 {
                for i in 0..<32 {
                    x8[i][j] = x[32 * j + i]
                    w8[i][j] = weights[32 * j + i]
                }
            }
            let (scales, mins) = KQuantSearch.scaleAndMin(lanes: x8, weights: w8, L: &l8, Laux: &aux8,
                                                          nmax: nmax, rmin: rmin, rdelta: 0.1, nstep: nstep)
            for j in 0..<8 {
                laneScale[j] = scales[j]
                laneMin[j] = mins[j]
                for i in 0..<32 { laneL[32 * j + i] = UInt8(truncatingIfNeeded: l8[i][j]) }
            }
            let same = scalarL == laneL && scalarScale.map(\.bitPattern) == laneScale.map(\.bitPattern)
                && scalarMin.map(\.bitPattern) == laneMin.map(\.bitPattern)
            #expect(same, "round \(round): scales \(scalarScale) vs \(laneScale), mins \(scalarMin) vs \(laneMin)")
            if !same { return }
        }
    }
}

extension KQuantLaneSearchTests {
    /// The Q6_K lane search against the scalar transcription of `make_qx_quants(rmse_type 1)`.
    @Test("the symmetric lane search equals the scalar search")
    func symmetricLanesMatchScalar() {
        var random = SystemRandomNumberGenerator()
        for round in 0..<300 {
            var x = [Float](repeating: 0, count: 256)
            for j in 0..<16 {
                let scale = Float.random(in: -6...4, using: &random)
                for i in 0..<16 { x[16 * j + i] = Float.random(in: -1...1, using: &random) * pow(10, scale) }
                switch (round + j) % 13 {
                case 0: for i in 0..<16 { x[16 * j + i] = -0.5 }
                case 1: for i in 0..<16 { x[16 * j + i] = 0 }
                case 2: for i in 0..<16 { x[16 * j + i] = i == 3 ? 2 : 0 }
                case 3: for i in 0..<16 { x[16 * j + i] *= 1e-20 }
                case 4: for i in 0..<16 { x[16 * j + i] = Float(Int.random(in: -3...3, using: &random)) }
                default: break
                }
            }
            var scalarL = [UInt8](repeating: 0, count: 256), scalarScales = [Float](repeating: 0, count: 16)
            x.withUnsafeBufferPointer { xs in
                scalarL.withUnsafeMutableBufferPointer { l in
                    for j in 0..<16 {
                        scalarScales[j] = KQuantSearch.symmetricScale(count: 16, nmax: 32, x: xs.baseAddress! + 16 * j,
                                                                      L: l.baseAddress! + 16 * j)
                    }
                }
            }
            var laneL = [UInt8](repeating: 0, count: 256), laneScales = [Float](repeating: 0, count: 16)
            for half in 0..<2 {
                var x8 = [SIMD8<Float>](repeating: .zero, count: 16)
                var l8 = [SIMD8<Int32>](repeating: .zero, count: 16), aux8 = l8
                for j in 0..<8 { for i in 0..<16 { x8[i][j] = x[16 * (8 * half + j) + i] } }
                let scales = KQuantSearch.symmetricScale(lanes: x8, nmax: 32, L: &l8, Laux: &aux8)
                for j in 0..<8 {
                    laneScales[8 * half + j] = scales[j]
                    for i in 0..<16 { laneL[16 * (8 * half + j) + i] = UInt8(truncatingIfNeeded: l8[i][j]) }
                }
            }
            let same = scalarL == laneL && scalarScales.map(\.bitPattern) == laneScales.map(\.bitPattern)
            #expect(same, "round \(round): \(scalarScales) vs \(laneScales)")
            if !same { return }
        }
    }
}
