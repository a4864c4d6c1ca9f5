/// Block encoders for the 256-element k-quant types Q4_K, Q5_K and Q6_K, bit-identical to
/// llama.cpp's `quantize_row_{q4_K,q5_K,q6_K}_ref` (ggml-quants.c), which `ggml_quantize_chunk`
/// uses when no importance matrix is given.
///
/// Q4_K/Q5_K: eight 32-element sub-blocks, each fitted with a scale and a min
/// (`KQuantSearch.scaleAndMin`, weights `rms(sub-block) + |x|`); the scales and mins are then
/// quantized to 6 bits against their maxima, and every element is re-quantized against the
/// rounded scale and min. A sub-block whose rounded scale is 0 keeps the quants of the search.
/// Q6_K: sixteen 16-element sub-blocks with symmetric scales, quantized to 8 bits.
enum KQuantEncoder {
    typealias Arithmetic = QuantizerArithmetic

    /// f16 `d`, f16 `dmin`, 12 bytes of 6-bit scales and mins, 128 bytes of nibbles. 144 bytes.
    @Sendable
    static func q4_K(_ x: UnsafePointer<Float>, _ destination: UnsafeMutableRawPointer, _ blockCount: Int) {
        KQuantScratch.with { s in
            for b in 0..<blockCount {
                let xb = x + 256 * b
                let y = destination + 144 * b
                scaleAndMinBlock(xb, y, s, nmax: 15, rmin: -1, nstep: 20)
                let qs = y + 16
                for half in 0..<4 {                             // 64 elements per 32 bytes
                    for l in 0..<32 {
                        let byte = s.L[64 * half + l] | (s.L[64 * half + l + 32] &<< 4)
                        qs.storeBytes(of: byte, toByteOffset: 32 * half + l, as: UInt8.self)
                    }
                }
            }
        }
    }

    /// f16 `d`, f16 `dmin`, 12 bytes of scales and mins, 32 bytes of fifth bits, 128 bytes of
    /// nibbles. 176 bytes. Bit 2k (2k+1) of `qh[l]` is the fifth bit of element 64k + l (+ 32).
    @Sendable
    static func q5_K(_ x: UnsafePointer<Float>, _ destination: UnsafeMutableRawPointer, _ blockCount: Int) {
        KQuantScratch.with { s in
            for b in 0..<blockCount {
                let xb = x + 256 * b
                let y = destination + 176 * b
                scaleAndMinBlock(xb, y, s, nmax: 31, rmin: -0.5, nstep: 15)
                let qh = y + 16, qs = y + 48
                qh.initializeMemory(as: UInt8.self, repeating: 0, count: 32)
                var m1: UInt8 = 1, m2: UInt8 = 2
                for half in 0..<4 {
                    for j in 0..<32 {
                        var l1 = s.L[64 * half + j], l2 = s.L[64 * half + j + 32]
                        var high = qh.load(fromByteOffset: j, as: UInt8.self)
                        if l1 > 15 { l1 &-= 16; high |= m1 }
                        if l2 > 15 { l2 &-= 16; high |= m2 }
                        qh.storeBytes(of: high, toByteOffset: j, as: UInt8.self)
                        qs.storeBytes(of: l1 | (l2 &<< 4), toByteOffset: 32 * half + j, as: UInt8.self)
                    }
                    m1 &<<= 2
                    m2 &<<= 2
                }
            }
        }
    }

    /// 128 bytes of low nibbles, 64 bytes of high 2-bit pairs, 16 × i8 scales, f16 `d` last.
    /// 210 bytes.
    @Sendable
    static func q6_K(_ x: UnsafePointer<Float>, _ destination: UnsafeMutableRawPointer, _ blockCount: Int) {
        KQuantScratch.with { s in
            for b in 0..<blockCount {
                let xb = x + 256 * b
                let y = destination + 210 * b
                q6_KBlock(xb, y, s)
            }
        }
    }

    // MARK: Blocks

    /// Fits the scales and mins of one Q4_K/Q5_K block, writes `d`, `dmin` and the 12 packed
    /// scale bytes at `y`, and leaves the final quants in `s.L[0..<256]`.
    @inline(__always)
    private static func scaleAndMinBlock(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, _ s: KQuantScratch,
                                         nmax: Int32, rmin: Float, nstep: Int) {
        // The eight sub-block searches run side by side, one per SIMD lane (bit-identical to
        // the scalar `KQuantSearch.scaleAndMin`, which the tests cross-check).
        for j in 0..<8 {
            for i in 0..<32 { s.x8[i][j] = x[32 * j + i] }
        }
        var sumX2 = SIMD8<Float>()
        for i in 0..<32 { sumX2 += s.x8[i] * s.x8[i] }
        let avX = (sumX2 / 32).squareRoot()
        for i in 0..<32 {
            let magnitude = unsafeBitCast(unsafeBitCast(s.x8[i], to: SIMD8<UInt32>.self) & 0x7FFF_FFFF, to: SIMD8<Float>.self)
            s.weights8[i] = avX + magnitude
        }
        let (scales, mins) = KQuantSearch.scaleAndMin(lanes: s.x8, weights: s.weights8, L: s.L8, Laux: s.Laux8,
                                                      nmax: nmax, rmin: rmin, rdelta: 0.1, nstep: nstep)
        var maxScale: Float = 0
        var maxMin: Float = 0
        for j in 0..<8 {
            for i in 0..<32 { s.L[32 * j + i] = UInt8(truncatingIfNeeded: s.L8[i][j]) }
            s.scales[j] = scales[j]
            s.mins[j] = mins[j]
            if scales[j] > maxScale { maxScale = scales[j] }
            if mins[j] > maxMin { maxMin = mins[j] }
        }
        let invScale: Float = maxScale > 0 ? 63 / maxScale : 0
        let invMin: Float = maxMin > 0 ? 63 / maxMin : 0
        let packed = y + 4                                      // [12]
        for j in 0..<8 {
            var ls = UInt8(truncatingIfNeeded: Arithmetic.nearestInt(invScale * s.scales[j]))
            var lm = UInt8(truncatingIfNeeded: Arithmetic.nearestInt(invMin * s.mins[j]))
            ls = 63 < ls ? 63 : ls
            lm = 63 < lm ? 63 : lm
            if j < 4 {
                packed.storeBytes(of: ls, toByteOffset: j, as: UInt8.self)
                packed.storeBytes(of: lm, toByteOffset: j + 4, as: UInt8.self)
            } else {
                packed.storeBytes(of: (ls & 0x0F) | ((lm & 0x0F) << 4), toByteOffset: j + 4, as: UInt8.self)
                let low = packed.load(fromByteOffset: j - 4, as: UInt8.self) | ((ls >> 4) << 6)
                packed.storeBytes(of: low, toByteOffset: j - 4, as: UInt8.self)
                let high = packed.load(fromByteOffset: j, as: UInt8.self) | ((lm >> 4) << 6)
                packed.storeBytes(of: high, toByteOffset: j, as: UInt8.self)
            }
        }
        let d = Arithmetic.storeF16(maxScale / 63, y, 0)
        let dmin = Arithmetic.storeF16(maxMin / 63, y, 2)
        for j in 0..<8 {
            let (sc, m) = scaleAndMin(j, packed)
            let dl = d * Float(sc)
            if dl == 0 { continue }
            let ml = dmin * Float(m)
            for i in 0..<32 {
                let l = KQuantSearch.clamp(Arithmetic.nearestInt((x[32 * j + i] + ml) / dl), 0, nmax)
                s.L[32 * j + i] = UInt8(truncatingIfNeeded: l)
            }
        }
    }

    /// The 6-bit scale and min of sub-block `j` from the 12 packed bytes (`get_scale_min_k4`).
    @inline(__always)
    private static func scaleAndMin(_ j: Int, _ q: UnsafeMutableRawPointer) -> (UInt8, UInt8) {
        let byte = { (i: Int) in q.load(fromByteOffset: i, as: UInt8.self) }
        if j < 4 { return (byte(j) & 63, byte(j + 4) & 63) }
        return ((byte(j + 4) & 0x0F) | ((byte(j - 4) >> 6) << 4), (byte(j + 4) >> 4) | ((byte(j) >> 6) << 4))
    }

    @inline(__always)
    private static func q6_KBlock(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, _ s: KQuantScratch) {
        // The sub-block searches run eight side by side, one per SIMD lane (bit-identical to
        // the scalar `KQuantSearch.symmetricScale`, which the tests cross-check).
        for half in 0..<2 {                                     // sub-blocks 8·half ..< 8·half + 8
            for j in 0..<8 {
                for i in 0..<16 { s.x8[i][j] = x[16 * (8 * half + j) + i] }
            }
            let fitted = KQuantSearch.symmetricScale(lanes: s.x8, nmax: 32, L: s.L8, Laux: s.Laux8)
            for j in 0..<8 {
                for i in 0..<16 { s.L[16 * (8 * half + j) + i] = UInt8(truncatingIfNeeded: s.L8[i][j]) }
                s.scales[8 * half + j] = fitted[j]
            }
        }
        var maxScale: Float = 0
        var maxAbsScale: Float = 0
        for ib in 0..<16 {
            let scale = s.scales[ib]
            let absScale = abs(scale)
            if absScale > maxAbsScale {
                maxAbsScale = absScale
                maxScale = scale
            }
        }
        if maxAbsScale < 1e-15 {                                // GROUP_MAX_EPS
            y.initializeMemory(as: UInt8.self, repeating: 0, count: 210)
            return
        }
        let iscale = -128 / maxScale
        let d = Arithmetic.storeF16(1 / iscale, y, 208)
        let scales = y + 192                                    // [16] i8
        for ib in 0..<16 {
            let q = Arithmetic.nearestInt(iscale * s.scales[ib])
            scales.storeBytes(of: Int8(truncatingIfNeeded: 127 < q ? 127 : q), toByteOffset: ib, as: Int8.self)
        }
        for j in 0..<16 {
            let dl = d * Float(scales.load(fromByteOffset: j, as: Int8.self))
            if dl == 0 { continue }
            for i in 0..<16 {
                let l = KQuantSearch.clamp(Arithmetic.nearestInt(x[16 * j + i] / dl), -32, 31)
                s.L[16 * j + i] = UInt8(truncatingIfNeeded: l + 32)
            }
        }
        let ql = y, qh = y + 128
        for half in 0..<2 {                                     // 128 elements each
            let L = s.L + 128 * half
            for l in 0..<32 {
                let q1 = L[l] & 0x0F, q2 = L[l + 32] & 0x0F, q3 = L[l + 64] & 0x0F, q4 = L[l + 96] & 0x0F
                ql.storeBytes(of: q1 | (q3 << 4), toByteOffset: 64 * half + l, as: UInt8.self)
                ql.storeBytes(of: q2 | (q4 << 4), toByteOffset: 64 * half + l + 32, as: UInt8.self)
                let high = (L[l] >> 4) | ((L[l + 32] >> 4) << 2) | ((L[l + 64] >> 4) << 4) | ((L[l + 96] >> 4) &<< 6)
                qh.storeBytes(of: high, toByteOffset: 32 * half + l, as: UInt8.self)
            }
        }
    }
}
