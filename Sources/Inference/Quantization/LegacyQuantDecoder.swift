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
        for b in 0..<blockCount {
            let block = source + b * 22
            let y = destination + b * blockSize
            let d = loadF16(block, 0)
            let qh = block.loadUnaligned(fromByteOffset: 2, as: UInt32.self)
            let qs = block + 6
            for j in 0..<16 {
                let byte = UInt32(qs.load(fromByteOffset: j, as: UInt8.self))
                let low = (byte & 0x0F) | (((qh >> UInt32(j)) & 1) << 4)
                let high = (byte >> 4) | (((qh >> UInt32(j + 16)) & 1) << 4)
                y[j] = d * Float(Int32(bitPattern: low) &- 16)
                y[j + 16] = d * Float(Int32(bitPattern: high) &- 16)
            }
        }
    }

    /// f16 `d`, f16 `m`, u32 `qh` (fifth bits), 16 bytes of nibbles.
    @Sendable
    static func q5_1(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, _ blockCount: Int) {
        for b in 0..<blockCount {
            let block = source + b * 24
            let y = destination + b * blockSize
            let d = loadF16(block, 0)
            let m = loadF16(block, 2)
            let qh = block.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
            let qs = block + 8
            for j in 0..<16 {
                let byte = UInt32(qs.load(fromByteOffset: j, as: UInt8.self))
                let low = (byte & 0x0F) | (((qh >> UInt32(j)) & 1) << 4)
                let high = (byte >> 4) | (((qh >> UInt32(j + 16)) & 1) << 4)
                y[j] = d * Float(low) + m
                y[j + 16] = d * Float(high) + m
            }
        }
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
