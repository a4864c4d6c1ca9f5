/// Block decoders for the 256-element k-quant types: Q2_K, Q3_K, Q4_K, Q5_K, Q6_K.
///
/// Each mirrors `gguf.quants` exactly, including the order of float operations: the
/// sub-block scale `d · Float(scale)` (and min `dmin · Float(min)`) is rounded to f32 first,
/// then each element is `scale · Float(q)` (minus the min, a separate rounding).
///
/// Bit-plane layouts: in Q2_K/Q3_K each 32-byte group of `qs` holds four 32-element runs at
/// shifts 0, 2, 4, 6; Q4_K/Q5_K nibbles hold two 32-element runs per 32 bytes (low, high);
/// high-bit masks (`hmask`, `qh`) give bit k of byte l to element 32k + l.
enum KQuantDecoder {
    /// Elements per block.
    static let blockSize = 256

    /// 16 × u8 scales (low nibble scale, high nibble min), 64 bytes of 2-bit quants,
    /// f16 `d`, f16 `dmin`. 84 bytes.
    @Sendable
    static func q2_K(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, _ blockCount: Int) {
        for b in 0..<blockCount {
            let block = source + b * 84
            let y = destination + b * blockSize
            let scales = block
            let qs = block + 16
            let d = loadF16(block, 80)
            let dmin = loadF16(block, 82)
            for half in 0..<2 {                       // elements 128·half ..< 128·half + 128
                let q = qs + 32 * half
                for shift in 0..<4 {                  // 32-element run at bit 2·shift
                    let bit = UInt8(2 * shift)
                    for part in 0..<2 {               // 16-element sub-block
                        let sc = scales.load(fromByteOffset: 8 * half + 2 * shift + part, as: UInt8.self)
                        let dl = d * Float(sc & 0x0F)
                        let ml = dmin * Float(sc >> 4)
                        let out = y + 128 * half + 32 * shift + 16 * part
                        let qp = q + 16 * part
                        for l in 0..<16 {
                            let v = (qp.load(fromByteOffset: l, as: UInt8.self) >> bit) & 3
                            out[l] = dl * Float(v) - ml
                        }
                    }
                }
            }
        }
    }

    /// 32 bytes `hmask`, 64 bytes of 2-bit quants, 12 bytes of packed 6-bit scales, f16 `d`.
    /// 110 bytes. An element's value is its 2 low bits minus 4 when its `hmask` bit is clear.
    @Sendable
    static func q3_K(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, _ blockCount: Int) {
        for b in 0..<blockCount {
            let block = source + b * 110
            let y = destination + b * blockSize
            let hmask = block
            let qs = block + 32
            let packed = block + 96
            let d = loadF16(block, 108)
            for half in 0..<2 {
                let q = qs + 32 * half
                for shift in 0..<4 {
                    let bit = UInt8(2 * shift)
                    let maskBit = UInt8(4 * half + shift)   // hmask bit for this 32-element run
                    for part in 0..<2 {
                        let j = 8 * half + 2 * shift + part // sub-block 0..<16
                        let low = j < 8
                            ? packed.load(fromByteOffset: j, as: UInt8.self) & 0x0F
                            : packed.load(fromByteOffset: j - 8, as: UInt8.self) >> 4
                        let high = (packed.load(fromByteOffset: 8 + j % 4, as: UInt8.self) >> UInt8(2 * (j / 4))) & 3
                        let dl = d * Float(Int32(low | (high << 4)) &- 32)
                        let out = y + 128 * half + 32 * shift + 16 * part
                        let qp = q + 16 * part
                        let hp = hmask + 16 * part
                        for l in 0..<16 {
                            let v = Int32((qp.load(fromByteOffset: l, as: UInt8.self) >> bit) & 3)
                            let h = Int32((hp.load(fromByteOffset: l, as: UInt8.self) >> maskBit) & 1)
                            out[l] = dl * Float(v &- ((h ^ 1) << 2))
                        }
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
        for b in 0..<blockCount {
            let block = source + b * 176
            let y = destination + b * blockSize
            let d = loadF16(block, 0)
            let dmin = loadF16(block, 2)
            let packed = block + 4
            let qh = block + 16
            let qs = block + 48
            for pair in 0..<4 {
                let q = qs + 32 * pair
                let (sc0, m0) = scaleAndMin(packed, 2 * pair)
                let (sc1, m1) = scaleAndMin(packed, 2 * pair + 1)
                let d0 = d * Float(sc0), dm0 = dmin * Float(m0)
                let d1 = d * Float(sc1), dm1 = dmin * Float(m1)
                let bit0 = UInt8(2 * pair), bit1 = UInt8(2 * pair + 1)
                let out = y + 64 * pair
                for l in 0..<32 {
                    let byte = q.load(fromByteOffset: l, as: UInt8.self)
                    let high = qh.load(fromByteOffset: l, as: UInt8.self)
                    let v0 = (byte & 0x0F) | (((high >> bit0) & 1) << 4)
                    let v1 = (byte >> 4) | (((high >> bit1) & 1) << 4)
                    out[l] = d0 * Float(v0) - dm0
                    out[l + 32] = d1 * Float(v1) - dm1
                }
            }
        }
    }

    /// 128 bytes of low nibbles, 64 bytes of high 2-bit pairs, 16 × i8 scales, f16 `d` last.
    /// 210 bytes. Values are 6-bit, offset by 32.
    @Sendable
    static func q6_K(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, _ blockCount: Int) {
        for b in 0..<blockCount {
            let block = source + b * 210
            let y = destination + b * blockSize
            let d = loadF16(block, 208)
            for half in 0..<2 {                       // elements 128·half ..< 128·half + 128
                let ql = block + 64 * half
                let qh = block + 128 + 32 * half
                let scales = block + 192 + 8 * half
                for run in 0..<4 {                    // 32-element run
                    let nibbleShift = UInt8(4 * (run / 2))
                    let lowBase = 32 * (run % 2)
                    let highShift = UInt8(2 * run)
                    for part in 0..<2 {
                        let scale = scales.load(fromByteOffset: 2 * run + part, as: Int8.self)
                        let dl = d * Float(scale)
                        let out = y + 128 * half + 32 * run + 16 * part
                        for l in 0..<16 {
                            let i = 16 * part + l
                            let low = (ql.load(fromByteOffset: lowBase + i, as: UInt8.self) >> nibbleShift) & 0x0F
                            let high = (qh.load(fromByteOffset: i, as: UInt8.self) >> highShift) & 3
                            out[l] = dl * Float(Int32(low | (high << 4)) &- 32)
                        }
                    }
                }
            }
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
