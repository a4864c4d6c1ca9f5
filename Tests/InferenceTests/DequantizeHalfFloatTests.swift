import GGUF
import Testing
@testable import Inference

/// f16/bf16 ⇄ f32. References: numpy's conversions (stored in the fixture by
/// `Scripts/make_quant_fixtures.py`) and Swift's own `Float16` conversions.
@Suite struct DequantizeHalfFloatTests {
    /// The fixture's f32 sources and their numpy/gguf conversions.
    func sourceAndConverted(_ name: String) throws -> (source: [Float], bits: [UInt16]) {
        let file = QuantFixture.file
        let source = try QuantFixture.tensor(name + ".src")
        let converted = try QuantFixture.tensor(name)
        try #require(source.type == .f32 && source.elementCount == converted.elementCount)
        let src = file.data(for: source), raw = file.data(for: converted)
        return ((0..<source.elementCount).map { src.loadUnaligned(fromByteOffset: 4 * $0, as: Float.self) },
                (0..<converted.elementCount).map { raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self) })
    }

    func hex(_ value: some BinaryInteger) -> String { "0x" + String(value, radix: 16) }

    @Test("f32 → f16 matches numpy's astype(float16), edge cases included")
    func f32ToF16() throws {
        let (source, expected) = try sourceAndConverted("f16")
        var actual = [UInt16](repeating: 0, count: source.count)
        source.withUnsafeBufferPointer { src in
            actual.withUnsafeMutableBufferPointer { dst in
                HalfFloat.convertToF16(src.baseAddress!, to: dst.baseAddress!, count: src.count)
            }
        }
        for i in source.indices where actual[i] != expected[i] {
            Issue.record("f16(\(hex(source[i].bitPattern))) = \(hex(actual[i])), numpy \(hex(expected[i]))")
        }
    }

    @Test("f32 → bf16 matches gguf.quants.quantize(BF16), edge cases included")
    func f32ToBF16() throws {
        let (source, expected) = try sourceAndConverted("bf16")
        for i in source.indices {
            let actual = HalfFloat.bf16Bits(from: source[i])
            #expect(actual == expected[i], "bf16(\(hex(source[i].bitPattern))) = \(hex(actual)), gguf \(hex(expected[i]))")
        }
    }

    @Test("every f16 bit pattern widens like Swift's Float16, NaN payloads kept as numpy does")
    func allF16Patterns() {
        var bits = (0...UInt16.max).map { $0 }
        var wide = [Float](repeating: 0, count: bits.count)
        bits.withUnsafeMutableBytes { src in
            wide.withUnsafeMutableBufferPointer { dst in
                HalfFloat.convertF16(UnsafeRawPointer(src.baseAddress!), to: dst.baseAddress!, count: dst.count)
            }
        }
        var failures = 0
        for h in bits {
            let scalar = HalfFloat.float(fromF16Bits: h)
            let bulk = wide[Int(h)]
            let reference = Float(Float16(bitPattern: h))
            let ok: Bool
            if reference.isNaN {
                // numpy: sign kept, 10-bit payload shifted up 13, signalling NaNs stay signalling.
                let want = (UInt32(h & 0x8000) << 16) | 0x7F80_0000 | (UInt32(h & 0x03FF) << 13)
                ok = scalar.bitPattern == want && bulk.bitPattern == want
            } else {
                ok = scalar.bitPattern == reference.bitPattern && bulk.bitPattern == reference.bitPattern
            }
            if !ok {
                failures += 1
                if failures <= 5 {
                    Issue.record("f16 \(hex(h)): scalar \(hex(scalar.bitPattern)), bulk \(hex(bulk.bitPattern)), want \(hex(reference.bitPattern))")
                }
            }
        }
        #expect(failures == 0)
    }

    @Test("f32 → f16 rounds like Swift's Float16 on random bit patterns")
    func randomF32ToF16() {
        var generator = SplitMix64(seed: 0x5EED)
        for _ in 0..<200_000 {
            let bits = UInt32(truncatingIfNeeded: generator.next())
            // Bias toward the f16 range: keep the exponent within 2^-30 ..< 2^17 most of the time.
            let value = Float(bitPattern: bits & 0x8000_0000 | (0x3080_0000 + (bits & 0x0FFF_FFFF) % 0x1800_0000))
            for x in [value, Float(bitPattern: bits)] where !x.isNaN {
                let actual = HalfFloat.f16Bits(from: x)
                let want = Float16(x).bitPattern
                if actual != want {
                    Issue.record("f16(\(hex(x.bitPattern))) = \(hex(actual)), Float16 gives \(hex(want))")
                    return
                }
            }
        }
    }

    @Test("bf16 widening is exact")
    func bf16Widening() {
        for h in stride(from: 0, through: Int(UInt16.max), by: 1) {
            let value = HalfFloat.float(fromBF16Bits: UInt16(h))
            #expect(value.bitPattern == UInt32(h) << 16)
            if value.isNaN { continue }
            #expect(HalfFloat.bf16Bits(from: value) == UInt16(h))
        }
    }
}

/// A small deterministic generator for tests.
struct SplitMix64: RandomNumberGenerator {
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
