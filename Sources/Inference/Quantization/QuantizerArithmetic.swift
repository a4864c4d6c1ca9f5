/// The scalar conversions llama.cpp's quantizer (ggml-quants.c, compiled for baseline x86-64)
/// performs, reproduced bit for bit so that Ponder's encoders give identical bytes:
///
/// - `nearestInt` is ggml's `nearest_int`: add 1.5·2²³ and read the low mantissa bits. For
///   |x| ≤ 2²² it is round-half-to-even; beyond that (and for NaN) it returns the same
///   deterministic garbage that ggml does, since the assert is compiled out.
/// - `truncatingToInt32` is what `(int)x` compiles to (`cvttss2si`/`cvttps2dq`): truncation,
///   with NaN and out-of-range values giving `Int32.min`. A cast to `int8_t`/`uint8_t` keeps the
///   low byte of that result; both the scalar and the vectorized code paths of the shipped
///   library do so.
/// - `f16Bits` is `GGML_FP32_TO_FP16`: round to nearest even, and every NaN becomes
///   `sign | 0x7E00` (unlike numpy, which keeps the payload).
/// - `bf16Bits` is `ggml_compute_fp32_to_bf16`: round to nearest even, NaNs made quiet.
///
/// The library contains no fused multiply-add instructions (its arch flags apply only to the
/// CPU backend), and Swift does not contract `a * b + c`, so plain Swift float arithmetic in
/// the same order gives the same results.
enum QuantizerArithmetic {
    @inline(__always)
    static func nearestInt(_ value: Float) -> Int32 {
        let biased = value + 12_582_912
        return Int32(bitPattern: biased.bitPattern & 0x007F_FFFF) &- 0x0040_0000
    }

    @inline(__always)
    static func truncatingToInt32(_ value: Float) -> Int32 {
        value >= -2_147_483_648 && value < 2_147_483_648 ? Int32(value) : Int32.min
    }

    /// `(int8_t)value` as compiled: the low byte of the truncated 32-bit integer.
    @inline(__always)
    static func truncatingToInt8(_ value: Float) -> Int8 {
        Int8(truncatingIfNeeded: truncatingToInt32(value))
    }

    @inline(__always)
    static func f16Bits(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if bits & 0x7FFF_FFFF > 0x7F80_0000 {
            return UInt16(truncatingIfNeeded: (bits >> 16) & 0x8000) | 0x7E00
        }
        return HalfFloat.f16Bits(from: value)
    }

    @inline(__always)
    static func bf16Bits(_ value: Float) -> UInt16 {
        HalfFloat.bf16Bits(from: value)
    }

    /// Stores `GGML_FP32_TO_FP16(value)` at `offset` and returns the f32 value it stands for
    /// (`GGML_FP16_TO_FP32` of it), which the k-quant encoders read back.
    @inline(__always) @discardableResult
    static func storeF16(_ value: Float, _ destination: UnsafeMutableRawPointer, _ offset: Int) -> Float {
        let bits = f16Bits(value)
        destination.storeBytes(of: bits.littleEndian, toByteOffset: offset, as: UInt16.self)
        return HalfFloat.float(fromF16Bits: bits)
    }
}

/// Scratch space for one k-quant encoder call: 256 quants, a 32-element work row, the
/// per-sub-block scales and mins, and the transposed (one sub-block per lane) rows of the
/// lane search. Allocated on the stack once per call, not per block.
struct KQuantScratch {
    var L: UnsafeMutablePointer<UInt8>          // [256]
    var Laux: UnsafeMutablePointer<UInt8>       // [32]
    var weights: UnsafeMutablePointer<Float>    // [32]
    var scales: UnsafeMutablePointer<Float>     // [16]
    var mins: UnsafeMutablePointer<Float>       // [16]
    var x8: UnsafeMutablePointer<SIMD8<Float>>          // [32]: element i of sub-block j at [i][j]
    var weights8: UnsafeMutablePointer<SIMD8<Float>>    // [32]
    var L8: UnsafeMutablePointer<SIMD8<Int32>>          // [32]
    var Laux8: UnsafeMutablePointer<SIMD8<Int32>>       // [32]

    static func with<R>(_ body: (KQuantScratch) -> R) -> R {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 288) { bytes in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 64) { floats in
                withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: 64) { lanes in
                    withUnsafeTemporaryAllocation(of: SIMD8<Int32>.self, capacity: 64) { intLanes in
                        let b = bytes.baseAddress!, f = floats.baseAddress!
                        let v = lanes.baseAddress!, q = intLanes.baseAddress!
                        return body(KQuantScratch(L: b, Laux: b + 256, weights: f, scales: f + 32, mins: f + 48,
                                                  x8: v, weights8: v + 32, L8: q, Laux8: q + 32))
                    }
                }
            }
        }
    }
}
