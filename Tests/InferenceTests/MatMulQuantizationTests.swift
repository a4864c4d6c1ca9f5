import CKernels
import GGUF
import Testing
@testable import Inference

/// Activation quantization follows ggml: Q8_0 as its x86 `quantize_row_q8_0` (d = amax/127
/// stored as f16, id = 127/amax, round half to even), Q8_K as `quantize_row_q8_K_ref`
/// (iscale = −127/max with the sign of the largest-magnitude element, nearest_int, clamp to
/// 127, d = 1/iscale, sums per 16).
@Suite("MatMul activation quantization")
struct MatMulQuantizationTests {
    static func quantize(_ x: [Float], type: GGMLType) -> (values: [Float], q: [Int8], d: [Float], sums: [Float]) {
        let t = Int32(type.rawValue)
        let bytes = ck_activation_row_bytes(t, Int64(x.count))
        let row = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        defer { row.deallocate() }
        x.withUnsafeBufferPointer { ck_quantize_row(t, $0.baseAddress!, Int64(x.count), row) }
        return MatMulActivations.dequantize(row, n: x.count, kind: ck_activation_kind(t))
    }

    @Test("Q8 per 32: amax 127 gives scale 1 and ties round to even")
    func q8TiesToEven() {
        var x = [Float](repeating: 0, count: 32)
        x[0] = 127; x[1] = 2.5; x[2] = 3.5; x[3] = -2.5; x[4] = -0.5; x[5] = 0.5; x[6] = 1.5
        x[7] = -126.6; x[8] = 10.49
        let r = Self.quantize(x, type: .q8_0)
        #expect(r.d == [1])
        #expect(Array(r.q[0..<9]) == [127, 2, 4, -2, 0, 0, 2, -127, 10])
        #expect(r.sums == [Float(127 + 2 + 4 - 2 + 2 - 127 + 10)])
    }

    @Test("Q8 per 32: the scale is amax/127 rounded to f16; values use 127/amax")
    func q8Scale() {
        // x[j] = j − 16: amax 16, id = 7.9375, d = fp16(16/127) = 0.1259765625.
        let x = (0..<64).map { Float($0 % 32) - 16 }
        let r = Self.quantize(x, type: .q4_0)
        #expect(r.d == [0.1259765625, 0.1259765625])
        #expect(HalfFloat.float(fromF16Bits: HalfFloat.f16Bits(from: 16 / 127)) == 0.1259765625)
        #expect(r.q[0] == -127)     // −16 · 7.9375
        #expect(r.q[1] == -119)     // −15 · 7.9375 = −119.06
        #expect(r.q[15] == -8)      // −1 · 7.9375
        #expect(r.q[16] == 0)
        #expect(r.q[18] == 16)      // 2 · 7.9375 = 15.875
        #expect(r.q[31] == 119)     // 15 · 7.9375 = 119.06
        #expect(r.q[32] == -127)
        let sum = r.q[0..<32].reduce(0) { $0 + Int($1) }
        #expect(r.sums[0] == 0.1259765625 * Float(sum))
    }

    @Test("Q8 per 32: an all-zero block has scale 0")
    func q8Zero() {
        let r = Self.quantize([Float](repeating: 0, count: 32) + [Float](repeating: 1, count: 32), type: .q8_0)
        #expect(r.d[0] == 0 && r.q[0..<32].allSatisfy { $0 == 0 })
        #expect(r.q[32..<64].allSatisfy { $0 == 127 })
    }

    @Test("Q8_K: the largest-magnitude element maps to −127 and sets the sign of d")
    func q8KSign() {
        var x = [Float](repeating: 0, count: 256)
        x[0] = 1; x[1] = 0.5; x[2] = -0.5; x[3] = -1; x[17] = 0.25
        // max = 1 (first of the two largest magnitudes), iscale = −127.
        let r = Self.quantize(x, type: .q4_K)
        #expect(r.d == [-1 / Float(127)] || r.d == [1 / Float(-127)])
        // −127·0.5 = −63.5 → −64 (even); 63.5 → 64; −127·(−1) = 127; −127·0.25 = −31.75 → −32.
        #expect(Array(r.q[0..<4]) == [-127, -64, 64, 127])
        #expect(r.q[17] == -32)
        #expect(r.sums[0] == 0 && r.sums[1] == -32 && r.sums[2...].allSatisfy { $0 == 0 })
    }

    @Test("Q8_K: a negative maximum gives a positive scale; values clamp at 127")
    func q8KNegative() {
        var x = [Float](repeating: 0, count: 512)
        x[0] = -3; x[1] = 3; x[2] = 1.5; x[300] = 2
        let r = Self.quantize(x, type: .q6_K)
        let iscale: Float = -127 / -3
        #expect(r.d[0] == 1 / iscale)
        #expect(Array(r.q[0..<3]) == [-127, 127, 64])  // 1.5 · 42.33 = 63.5 → 64
        // Second block: max 2 → iscale −63.5 → −127.
        #expect(r.q[300] == -127 && r.d[1] == 1 / (-127 / Float(2)))
        #expect(r.sums[0] == Float(-127 + 127 + 64))
    }

    @Test("Q8_K: an all-zero block")
    func q8KZero() {
        let r = Self.quantize([Float](repeating: 0, count: 256), type: .q5_K)
        #expect(r.d == [0] && r.q.allSatisfy { $0 == 0 } && r.sums.allSatisfy { $0 == 0 })
    }

    @Test("random rows: every value within half a step of the input")
    func randomRows() {
        var random = MatMulRandom(seed: 5)
        let x = (0..<1024).map { _ in Float.random(in: -3...3, using: &random) }
        for type in [GGMLType.q8_0, .q4_K] {
            let r = Self.quantize(x, type: type)
            let block = type.blockSize
            for i in x.indices {
                let step = abs(r.d[i / block])
                // Q8 per 32 rounds with 127/amax but reports the f16-rounded d: allow its error.
                #expect(abs(r.values[i] - x[i]) <= step * 0.5 + abs(x[i]) * 1e-3, "\(type) \(i)")
            }
        }
    }
}
