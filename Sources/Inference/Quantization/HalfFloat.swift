/// Conversions between `Float` and the two 16-bit float formats stored in GGUF files:
/// IEEE binary16 (`F16`) and bfloat16 (`BF16`), both handled as raw `UInt16` bit patterns.
///
/// The results match numpy and llama.cpp bit for bit:
/// - f16 → f32 and bf16 → f32 are exact. NaN payloads are kept, signalling NaNs stay
///   signalling (numpy's `astype(np.float32)`).
/// - f32 → f16 rounds to nearest, ties to even; overflow gives ±inf, underflow gives ±0 or an
///   f16 subnormal. A NaN keeps the top 10 bits of its payload, and a payload that would
///   vanish becomes 1 so the result stays a NaN (numpy's `astype(np.float16)`).
/// - f32 → bf16 rounds to nearest, ties to even, and turns every NaN quiet
///   (`gguf.quants.quantize(…, BF16)`, ggml's `ggml_compute_fp32_to_bf16`).
///
/// The conversions are pure bit manipulation, independent of F16C or compiler-rt, so they
/// behave the same on every host.
public enum HalfFloat {
    // MARK: Scalars

    /// The f32 value of an f16 bit pattern (exact).
    @inlinable @inline(__always)
    public static func float(fromF16Bits bits: UInt16) -> Float {
        let h = UInt32(bits)
        let sign = (h & 0x8000) << 16
        let magnitude = h & 0x7FFF                  // exponent and significand
        // Normal: rebias the exponent from 15 to 127.
        let normal = (magnitude << 13) &+ 0x3800_0000
        // Inf and NaN: all-ones exponent, significand (payload) shifted into place.
        let special = (magnitude << 13) | 0x7F80_0000
        // Zero and subnormal: magnitude · 2⁻²⁴ is exact in f32.
        let subnormal = (Float(Int32(bitPattern: magnitude)) * 0x1p-24).bitPattern
        var result = magnitude >= 0x7C00 ? special : normal
        result = magnitude < 0x0400 ? subnormal : result
        return Float(bitPattern: sign | result)
    }

    /// The f16 bit pattern nearest to `value` (ties to even).
    @inlinable
    public static func f16Bits(from value: Float) -> UInt16 {
        let bits = value.bitPattern
        let sign = UInt16(truncatingIfNeeded: (bits >> 16) & 0x8000)
        let magnitude = bits & 0x7FFF_FFFF
        if magnitude >= 0x7F80_0000 {               // inf or NaN
            if magnitude == 0x7F80_0000 { return sign | 0x7C00 }
            let payload = UInt16(truncatingIfNeeded: (magnitude & 0x007F_FFFF) >> 13)
            return sign | 0x7C00 | (payload == 0 ? 1 : payload)
        }
        if magnitude >= 0x4780_0000 {               // 65536 and above overflow
            return sign | 0x7C00
        }
        if magnitude < 0x3880_0000 {                // below 2⁻¹⁴: an f16 subnormal or zero
            // |value| · 2²⁴ < 1024 is exact; rounding it gives the subnormal significand,
            // and 1024 carries into the smallest normal (0x0400) as it should.
            let scaled = Float(bitPattern: magnitude) * 0x1p24
            return sign | UInt16(scaled.rounded(.toNearestOrEven))
        }
        // Normal: rebias, then round the 13 dropped bits to nearest even. A carry out of the
        // significand bumps the exponent; past 0x7BFF it lands exactly on inf (0x7C00).
        let rebiased = magnitude &- 0x3800_0000
        let rounded = (rebiased &+ 0x0FFF &+ ((rebiased >> 13) & 1)) >> 13
        return sign | UInt16(truncatingIfNeeded: rounded)
    }

    /// The f32 value of a bf16 bit pattern (exact).
    @inlinable @inline(__always)
    public static func float(fromBF16Bits bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// The bf16 bit pattern nearest to `value` (ties to even; NaNs become quiet NaNs).
    @inlinable
    public static func bf16Bits(from value: Float) -> UInt16 {
        let bits = value.bitPattern
        if bits & 0x7FFF_FFFF > 0x7F80_0000 {
            return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040
        }
        let rounded = (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16
        return UInt16(truncatingIfNeeded: rounded)
    }

    // MARK: Rows

    /// Converts `count` f16 values (unaligned, little-endian) to f32.
    public static func convertF16(_ source: UnsafeRawPointer, to destination: UnsafeMutablePointer<Float>,
                                  count: Int) {
        // A plain loop over the branchless scalar form; LLVM vectorizes it.
        for i in 0..<count {
            destination[i] = float(fromF16Bits: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
        }
    }

    /// Converts `count` bf16 values (unaligned, little-endian) to f32.
    public static func convertBF16(_ source: UnsafeRawPointer, to destination: UnsafeMutablePointer<Float>,
                                   count: Int) {
        var i = 0
        while i + 8 <= count {
            let h = source.loadUnaligned(fromByteOffset: 2 * i, as: SIMD8<UInt16>.self)
            let f = SIMD8<UInt32>(truncatingIfNeeded: h) &<< 16
            UnsafeMutableRawPointer(destination + i).storeBytes(of: f, as: SIMD8<UInt32>.self)
            i += 8
        }
        while i < count {
            destination[i] = float(fromBF16Bits: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
            i += 1
        }
    }

    /// Converts `count` f32 values to f16 bit patterns.
    public static func convertToF16(_ source: UnsafePointer<Float>, to destination: UnsafeMutablePointer<UInt16>,
                                    count: Int) {
        for i in 0..<count { destination[i] = f16Bits(from: source[i]) }
    }

    /// Converts `count` f32 values to bf16 bit patterns.
    public static func convertToBF16(_ source: UnsafePointer<Float>, to destination: UnsafeMutablePointer<UInt16>,
                                     count: Int) {
        for i in 0..<count { destination[i] = bf16Bits(from: source[i]) }
    }
}
