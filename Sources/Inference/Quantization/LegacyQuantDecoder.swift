/// Block decoders for the 32-element quant types: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0.
///
/// Each mirrors `gguf.quants` exactly, including the order of float operations:
/// - `_0` types: `d · Float(q − offset)`, one rounding;
/// - `_1` types: `d · Float(q) + m`, two roundings, never fused.
///
/// Within a block, element j < 16 comes from the low nibble of byte j and element j + 16
/// from its high nibble; bit j of the 32-bit `qh` word is element j's fifth bit.
enum LegacyQuantDecoder {
    /// Elements per block.
    static let blockSize = 32

    /// f16 `d` (2 bytes), 16 bytes of nibbles.
    @Sendable
    static func q4_0(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, _ blockCount: Int) {
        for b in 0..<blockCount {
            let block = source + b * 18
            let y = destination + b * blockSize
            let d = loadF16(block, 0)
            let qs = block + 2
            for j in 0..<16 {
                let byte = qs.load(fromByteOffset: j, as: UInt8.self)
                y[j] = d * Float(Int32(byte & 0x0F) &- 8)
                y[j + 16] = d * Float(Int32(byte >> 4) &- 8)
            }
        }
    }

    /// f16 `d`, f16 `m`, 16 bytes of nibbles.
    @Sendable
    static func q4_1(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, _ blockCount: Int) {
        for b in 0..<blockCount {
            let block = source + b * 20
            let y = destination + b * blockSize
            let d = loadF16(block, 0)
            let m = loadF16(block, 2)
            let qs = block + 4
            for j in 0..<16 {
                let byte = qs.load(fromByteOffset: j, as: UInt8.self)
                y[j] = d * Float(byte & 0x0F) + m
                y[j + 16] = d * Float(byte >> 4) + m
            }
        }
    }

    /// f16 `d`, u32 `qh` (fifth bits), 16 bytes of nibbles.
    @Sendable
    static func q5_0(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, _ blockCount: Int) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { q in
            let qp = UnsafeMutableRawPointer(q.baseAddress!)
            for b in 0..<blockCount {
                let block = source + b * 22
                let y = destination + b * blockSize
                let d = loadF16(block, 0)
                unpackFiveBit(qh: block + 2, qs: block + 6, into: qp)
                for j in 0..<32 {
                    y[j] = d * Float(Int32(qp.load(fromByteOffset: j, as: UInt8.self)) &- 16)
                }
            }
        }
    }

    /// f16 `d`, f16 `m`, u32 `qh` (fifth bits), 16 bytes of nibbles.
    @Sendable
    static func q5_1(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, _ blockCount: Int) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { q in
            let qp = UnsafeMutableRawPointer(q.baseAddress!)
            for b in 0..<blockCount {
                let block = source + b * 24
                let y = destination + b * blockSize
                let d = loadF16(block, 0)
                let m = loadF16(block, 2)
                unpackFiveBit(qh: block + 4, qs: block + 8, into: qp)
                for j in 0..<32 {
                    y[j] = d * Float(qp.load(fromByteOffset: j, as: UInt8.self)) + m
                }
            }
        }
    }

    /// Writes the 32 five-bit values of a Q5_0/Q5_1 block as bytes: element j is nibble j
    /// (low nibbles of the 16 `qs` bytes, then high nibbles) with bit j of `qh` as bit 4.
    /// Done eight bytes at a time in 64-bit words (SWAR), since bit j of `qh` lands in a
    /// different lane for every element.
    @inline(__always)
    static func unpackFiveBit(qh: UnsafeRawPointer, qs: UnsafeRawPointer, into q: UnsafeMutableRawPointer) {
        let nibbles: UInt64 = 0x0F0F_0F0F_0F0F_0F0F
        let word0 = qs.loadUnaligned(fromByteOffset: 0, as: UInt64.self)
        let word1 = qs.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
        let high = qh.loadUnaligned(as: UInt32.self)
        // Byte k of the result is 0x10 when bit k of `bits` is set, else 0.
        @inline(__always) func spread(_ bits: UInt32) -> UInt64 {
            let replicated = UInt64(bits & 0xFF) &* 0x0101_0101_0101_0101
            let isolated = replicated & 0x8040_2010_0804_0201
            return ((isolated &+ 0x7F7F_7F7F_7F7F_7F7F) & 0x8080_8080_8080_8080) &>> 3
        }
        q.storeBytes(of: (word0 & nibbles) | spread(high), toByteOffset: 0, as: UInt64.self)
        q.storeBytes(of: (word1 & nibbles) | spread(high &>> 8), toByteOffset: 8, as: UInt64.self)
        q.storeBytes(of: ((word0 &>> 4) & nibbles) | spread(high &>> 16), toByteOffset: 16, as: UInt64.self)
        q.storeBytes(of: ((word1 &>> 4) & nibbles) | spread(high &>> 24), toByteOffset: 24, as: UInt64.self)
    }

    /// f16 `d`, 32 × i8.
    @Sendable
    static func q8_0(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, _ blockCount: Int) {
        for b in 0..<blockCount {
            let block = source + b * 34
            let y = destination + b * blockSize
            let d = loadF16(block, 0)
            let qs = block + 2
            for j in 0..<32 {
                y[j] = Float(qs.load(fromByteOffset: j, as: Int8.self)) * d
            }
        }
    }
}

/// Reads an unaligned little-endian f16 at `offset` and widens it to f32.
@inline(__always)
func loadF16(_ pointer: UnsafeRawPointer, _ offset: Int) -> Float {
    HalfFloat.float(fromF16Bits: pointer.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
}
