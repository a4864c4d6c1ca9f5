/// Block decoders for the 256-element k-quant types: Q2_K, Q3_K, Q4_K, Q5_K, Q6_K.
///
/// Each mirrors `gguf.quants` exactly, including the order of float operations: the
/// sub-block scale `d · Float(scale)` (and min `dmin · Float(min)`) is rounded to f32 first,
/// then each element is `scale · Float(q)` (minus the min, a separate rounding).
///
/// Bit-plane layouts: in Q2_K/Q3_K each 32-byte group of `qs` holds four 32-element runs at
/// shifts 0, 2, 4, 6; Q4_K/Q5_K nibbles hold two 32-element runs per 32 bytes (low, high);
/// high-bit masks (`hmask`, `qh`) give bit k of byte l to element 32k + l.
///
/// Most decoders work in two passes per block: unpack the integer quants into a 256-byte
/// stack buffer with byte operations at constant shifts, then scale them to floats. Both
/// passes vectorize; a fused loop with per-run shift amounts does not.
enum KQuantDecoder {
    /// Elements per block.
    static let blockSize = 256

    /// 16 × u8 scales (low nibble scale, high nibble min), 64 bytes of 2-bit quants,
    /// f16 `d`, f16 `dmin`. 84 bytes.
    @Sendable
    static func q2_K(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, _ blockCount: Int) {
        withQuantBuffer { q in
            for b in 0..<blockCount {
                let block = source + b * 84
                let y = destination + b * blockSize
                let scales = block
                let qs = block + 16
                let d = loadF16(block, 80)
                let dmin = loadF16(block, 82)
                for half in 0..<2 {                   // elements 128·half ..< 128·half + 128
                    for l in 0..<32 {
                        let byte = qs.load(fromByteOffset: 32 * half + l, as: UInt8.self)
                        q[128 * half + l] = Int8(byte & 3)
                        q[128 * half + 32 + l] = Int8((byte >> 2) & 3)
                        q[128 * half + 64 + l] = Int8((byte >> 4) & 3)
                        q[128 * half + 96 + l] = Int8(byte >> 6)
                    }
                }
                for pair in 0..<8 {                   // two 16-element sub-blocks per pass
                    let sc0 = scales.load(fromByteOffset: 2 * pair, as: UInt8.self)
                    let sc1 = scales.load(fromByteOffset: 2 * pair + 1, as: UInt8.self)
                    let dl0 = d * Float(sc0 & 0x0F), ml0 = dmin * Float(sc0 >> 4)
                    let dl1 = d * Float(sc1 & 0x0F), ml1 = dmin * Float(sc1 >> 4)
                    for l in 0..<32 {
                        let dl = l < 16 ? dl0 : dl1, ml = l < 16 ? ml0 : ml1
                        y[32 * pair + l] = dl * Float(q[32 * pair + l]) - ml
                    }
                }
            }
        }
    }

    /// 32 bytes `hmask`, 64 bytes of 2-bit quants, 12 bytes of packed 6-bit scales, f16 `d`.
    /// 110 bytes. An element's value is its 2 low bits minus 4 when its `hmask` bit is clear.
    @Sendable
    static func q3_K(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, _ blockCount: Int) {
        withQuantBuffer { q in
            for b in 0..<blockCount {
                let block = source + b * 110
                let y = destination + b * blockSize
                let hmask = block
                let qs = block + 32
                let packed = block + 96
                let d = loadF16(block, 108)
                for half in 0..<2 {
                    for l in 0..<32 {
                        let byte = qs.load(fromByteOffset: 32 * half + l, as: UInt8.self)
                        // hmask bits 4·half ..< 4·half + 4, moved down to bits 0..<4.
                        let h = hmask.load(fromByteOffset: l, as: UInt8.self) >> (half == 0 ? 0 : 4)
                        q[128 * half + l] = Int8(byte & 3) &- Int8((~h & 1) << 2)
                        q[128 * half + 32 + l] = Int8((byte >> 2) & 3) &- Int8((~h & 2) << 1)
                        q[128 * half + 64 + l] = Int8((byte >> 4) & 3) &- Int8(~h & 4)
                        q[128 * half + 96 + l] = Int8(byte >> 6) &- Int8((~h & 8) >> 1)
                    }
                }
                @inline(__always) func scale(_ sub: Int) -> Float {
                    let low = sub < 8
                        ? packed.load(fromByteOffset: sub, as: UInt8.self) & 0x0F
                        : packed.load(fromByteOffset: sub - 8, as: UInt8.self) >> 4
                    let high = (packed.load(fromByteOffset: 8 + sub % 4, as: UInt8.self) &>> UInt8(2 * (sub / 4))) & 3
                    return d * Float(Int32(low | (high << 4)) &- 32)
                }
                for pair in 0..<8 {                   // two 16-element sub-blocks per pass
                    let dl0 = scale(2 * pair), dl1 = scale(2 * pair + 1)
                    for l in 0..<32 {
                        y[32 * pair + l] = (l < 16 ? dl0 : dl1) * Float(q[32 * pair + l])
                    }
                }
            }
        }
    }

    /// f16 `d`, f16 `dmin`, 12 bytes of packed 6-bit scales and mins, 128 bytes of nibbles.
    /// 144 bytes.
    @Sendable
    static func q4_K(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, _ blockCount: Int) {
        for b in 0..<blockCount {
            let block = source + b * 144
            let y = destination + b * blockSize
            let d = loadF16(block, 0)
            let dmin = loadF16(block, 2)
            let packed = block + 4
            let qs = block + 16
            for pair in 0..<4 {                       // 64 elements from 32 bytes
                let q = qs + 32 * pair
                let (sc0, m0) = scaleAndMin(packed, 2 * pair)
                let (sc1, m1) = scaleAndMin(packed, 2 * pair + 1)
                let d0 = d * Float(sc0), dm0 = dmin * Float(m0)
                let d1 = d * Float(sc1), dm1 = dmin * Float(m1)
                let out = y + 64 * pair
                for l in 0..<32 {
                    let byte = q.load(fromByteOffset: l, as: UInt8.self)
                    out[l] = d0 * Float(byte & 0x0F) - dm0
                    out[l + 32] = d1 * Float(byte >> 4) - dm1
                }
            }
        }
    }

    /// f16 `d`, f16 `dmin`, 12 bytes of packed scales and mins, 32 bytes `qh` (fifth bits),
    /// 128 bytes of nibbles. 176 bytes.
    @Sendable
    static func q5_K(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, _ blockCount: Int) {
        withQuantBuffer { q in
            for b in 0..<blockCount {
                let block = source + b * 176
                let y = destination + b * blockSize
                let d = loadF16(block, 0)
                let dmin = loadF16(block, 2)
                let packed = block + 4
                let qh = block + 16
                let qs = block + 48
                for l in 0..<32 {
                    let h = qh.load(fromByteOffset: l, as: UInt8.self)
                    @inline(__always) func nibbles(_ pair: Int, _ highBit: UInt8) {
                        let byte = qs.load(fromByteOffset: 32 * pair + l, as: UInt8.self)
                        q[64 * pair + l] = Int8((byte & 0x0F) | ((h >> highBit) & 1) << 4)
                        q[64 * pair + 32 + l] = Int8((byte >> 4) | ((h >> (highBit + 1)) & 1) << 4)
                    }
                    nibbles(0, 0); nibbles(1, 2); nibbles(2, 4); nibbles(3, 6)
                }
                for sub in 0..<8 {
                    let (sc, m) = scaleAndMin(packed, sub)
                    let dl = d * Float(sc), ml = dmin * Float(m)
                    for l in 0..<32 {
                        y[32 * sub + l] = dl * Float(q[32 * sub + l]) - ml
                    }
                }
            }
        }
    }

    /// 128 bytes of low nibbles, 64 bytes of high 2-bit pairs, 16 × i8 scales, f16 `d` last.
    /// 210 bytes. Values are 6-bit, offset by 32.
    @Sendable
    static func q6_K(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, _ blockCount: Int) {
        withQuantBuffer { q in
            for b in 0..<blockCount {
                let block = source + b * 210
                let y = destination + b * blockSize
                let d = loadF16(block, 208)
                for half in 0..<2 {                   // elements 128·half ..< 128·half + 128
                    let ql = block + 64 * half
                    let qh = block + 128 + 32 * half
                    for l in 0..<32 {
                        let a = ql.load(fromByteOffset: l, as: UInt8.self)
                        let c = ql.load(fromByteOffset: 32 + l, as: UInt8.self)
                        let h = qh.load(fromByteOffset: l, as: UInt8.self)
                        q[128 * half + l] = Int8((a & 0x0F) | (h & 3) << 4) &- 32
                        q[128 * half + 32 + l] = Int8((c & 0x0F) | ((h >> 2) & 3) << 4) &- 32
                        q[128 * half + 64 + l] = Int8((a >> 4) | ((h >> 4) & 3) << 4) &- 32
                        q[128 * half + 96 + l] = Int8((c >> 4) | (h >> 6) << 4) &- 32
                    }
                }
                for pair in 0..<8 {                   // two 16-element sub-blocks per pass
                    let dl0 = d * Float(block.load(fromByteOffset: 192 + 2 * pair, as: Int8.self))
                    let dl1 = d * Float(block.load(fromByteOffset: 193 + 2 * pair, as: Int8.self))
                    for l in 0..<32 {
                        y[32 * pair + l] = (l < 16 ? dl0 : dl1) * Float(q[32 * pair + l])
                    }
                }
            }
        }
    }

    /// Runs `body` with a 256-byte stack buffer for one block's unpacked integer quants.
    @inline(__always)
    static func withQuantBuffer(_ body: (UnsafeMutablePointer<Int8>) -> Void) {
        withUnsafeTemporaryAllocation(of: Int8.self, capacity: blockSize) { buffer in
            body(buffer.baseAddress!)
        }
    }

    /// The 6-bit scale and min of sub-block `j` (0..<8) from the 12 packed bytes shared by
    /// Q4_K and Q5_K.
    @inline(__always)
    static func scaleAndMin(_ packed: UnsafeRawPointer, _ j: Int) -> (scale: UInt8, min: UInt8) {
        @inline(__always) func byte(_ i: Int) -> UInt8 { packed.load(fromByteOffset: i, as: UInt8.self) }
        if j < 4 {
            return (byte(j) & 63, byte(j + 4) & 63)
        }
        let scale = (byte(j + 4) & 0x0F) | ((byte(j - 4) >> 6) << 4)
        let min = (byte(j + 4) >> 4) | ((byte(j) >> 6) << 4)
        return (scale, min)
    }
}
