/// Block encoders for the 32-element quant types, bit-identical to llama.cpp's reference
/// quantizers `quantize_row_{q4_0,q4_1,q5_0,q5_1,q8_0}_ref` (ggml-quants.c), which
/// `ggml_quantize_chunk` uses when no importance matrix is given.
///
/// Each takes `blockCount · 32` floats and writes `blockCount` blocks. The float operations
/// follow the C source in order: the scale's reciprocal is taken once per block and every
/// element is multiplied by it; `(int8_t)(v + 8.5f)`-style casts truncate.
enum LegacyQuantEncoder {
    typealias Arithmetic = QuantizerArithmetic

    /// f16 `d` = max/−8 (max: the element of largest magnitude), 16 bytes of nibbles.
    @Sendable
    static func q4_0(_ x: UnsafePointer<Float>, _ destination: UnsafeMutableRawPointer, _ blockCount: Int) {
        for b in 0..<blockCount {
            let xb = x + 32 * b
            let y = destination + 18 * b
            let max = signedAbsoluteMaximum(xb)
            let d = max / -8
            let id: Float = d != 0 ? 1 / d : 0
            Arithmetic.storeF16(d, y, 0)
            for j in 0..<16 {
                let q0 = clampedLow(Arithmetic.truncatingToInt8(xb[j] * id + 8.5), 15)
                let q1 = clampedLow(Arithmetic.truncatingToInt8(xb[j + 16] * id + 8.5), 15)
                y.storeBytes(of: q0 | (q1 &<< 4), toByteOffset: 2 + j, as: UInt8.self)
            }
        }
    }

    /// f16 `d` = (max − min)/15, f16 `m` = min, 16 bytes of nibbles.
    @Sendable
    static func q4_1(_ x: UnsafePointer<Float>, _ destination: UnsafeMutableRawPointer, _ blockCount: Int) {
        for b in 0..<blockCount {
            let xb = x + 32 * b
            let y = destination + 20 * b
            let (min, max) = range(xb)
            let d = (max - min) / 15
            let id: Float = d != 0 ? 1 / d : 0
            Arithmetic.storeF16(d, y, 0)
            Arithmetic.storeF16(min, y, 2)
            for j in 0..<16 {
                let q0 = clampedLow(Arithmetic.truncatingToInt8((xb[j] - min) * id + 0.5), 15)
                let q1 = clampedLow(Arithmetic.truncatingToInt8((xb[j + 16] - min) * id + 0.5), 15)
                y.storeBytes(of: q0 | (q1 &<< 4), toByteOffset: 4 + j, as: UInt8.self)
            }
        }
    }

    /// f16 `d` = max/−16, u32 fifth bits, 16 bytes of nibbles.
    @Sendable
    static func q5_0(_ x: UnsafePointer<Float>, _ destination: UnsafeMutableRawPointer, _ blockCount: Int) {
        for b in 0..<blockCount {
            let xb = x + 32 * b
            let y = destination + 22 * b
            let max = signedAbsoluteMaximum(xb)
            let d = max / -16
            let id: Float = d != 0 ? 1 / d : 0
            Arithmetic.storeF16(d, y, 0)
            var qh: UInt32 = 0
            for j in 0..<16 {
                let q0 = clampedLow(Arithmetic.truncatingToInt8(xb[j] * id + 16.5), 31)
                let q1 = clampedLow(Arithmetic.truncatingToInt8(xb[j + 16] * id + 16.5), 31)
                y.storeBytes(of: (q0 & 0x0F) | ((q1 & 0x0F) << 4), toByteOffset: 6 + j, as: UInt8.self)
                qh |= UInt32((q0 & 0x10) >> 4) << j
                qh |= UInt32((q1 & 0x10) >> 4) << (j + 16)
            }
            y.storeBytes(of: qh.littleEndian, toByteOffset: 2, as: UInt32.self)
        }
    }

    /// f16 `d` = (max − min)/31, f16 `m` = min, u32 fifth bits, 16 bytes of nibbles.
    @Sendable
    static func q5_1(_ x: UnsafePointer<Float>, _ destination: UnsafeMutableRawPointer, _ blockCount: Int) {
        for b in 0..<blockCount {
            let xb = x + 32 * b
            let y = destination + 24 * b
            let (min, max) = range(xb)
            let d = (max - min) / 31
            let id: Float = d != 0 ? 1 / d : 0
            Arithmetic.storeF16(d, y, 0)
            Arithmetic.storeF16(min, y, 2)
            var qh: UInt32 = 0
            for j in 0..<16 {
                // `(uint8_t)(v + 0.5f)`: the low byte of the truncated integer, unclamped.
                let q0 = UInt8(truncatingIfNeeded: Arithmetic.truncatingToInt32((xb[j] - min) * id + 0.5))
                let q1 = UInt8(truncatingIfNeeded: Arithmetic.truncatingToInt32((xb[j + 16] - min) * id + 0.5))
                y.storeBytes(of: (q0 & 0x0F) | ((q1 & 0x0F) << 4), toByteOffset: 8 + j, as: UInt8.self)
                qh |= UInt32((q0 & 0x10) >> 4) << j
                qh |= UInt32((q1 & 0x10) >> 4) << (j + 16)
            }
            y.storeBytes(of: qh.littleEndian, toByteOffset: 4, as: UInt32.self)
        }
    }

    /// f16 `d` = amax/127, 32 × i8 `roundf(x/d)` (multiplied by the reciprocal).
    @Sendable
    static func q8_0(_ x: UnsafePointer<Float>, _ destination: UnsafeMutableRawPointer, _ blockCount: Int) {
        for b in 0..<blockCount {
            let xb = x + 32 * b
            let y = destination + 34 * b
            var amax: Float = 0
            for j in 0..<32 {
                let a = abs(xb[j])
                amax = amax > a ? amax : a                  // C's MAX(amax, fabsf(v))
            }
            let d = amax / 127
            let id: Float = d != 0 ? 1 / d : 0
            Arithmetic.storeF16(d, y, 0)
            for j in 0..<32 {
                let q = Arithmetic.truncatingToInt8((xb[j] * id).rounded(.toNearestOrAwayFromZero))
                y.storeBytes(of: q, toByteOffset: 2 + j, as: Int8.self)
            }
        }
    }

    // MARK: Helpers

    /// The element of largest magnitude (the first one on ties), 0 for an all-zero block.
    @inline(__always)
    private static func signedAbsoluteMaximum(_ x: UnsafePointer<Float>) -> Float {
        var amax: Float = 0, max: Float = 0
        for j in 0..<32 where amax < abs(x[j]) {
            amax = abs(x[j])
            max = x[j]
        }
        return max
    }

    @inline(__always)
    private static func range(_ x: UnsafePointer<Float>) -> (min: Float, max: Float) {
        var min = Float.greatestFiniteMagnitude, max = -Float.greatestFiniteMagnitude
        for j in 0..<32 {
            if x[j] < min { min = x[j] }
            if x[j] > max { max = x[j] }
        }
        return (min, max)
    }

    /// `(uint8_t)MIN(limit, q)` with `q` a signed byte, as the C code stores it.
    @inline(__always)
    private static func clampedLow(_ q: Int8, _ limit: Int8) -> UInt8 {
        UInt8(bitPattern: q < limit ? q : limit)
    }
}
