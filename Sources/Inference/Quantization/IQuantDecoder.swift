/// Block decoders for the non-linear 4-bit types IQ4_NL and IQ4_XS.
///
/// A 4-bit index selects one of 16 fixed values (`values`, spaced more closely near zero);
/// in a run of 32 elements, element j < 16 is the low nibble of byte j and element j + 16 its
/// high nibble, as in Q4_0. Each decoder mirrors `gguf.quants` exactly, including the order
/// of float operations: IQ4_NL is `d · Float(value)`, one rounding; IQ4_XS rounds the
/// sub-block scale `d · Float(ls − 32)` to f32 first, then multiplies by the value.
enum IQuantDecoder {
    /// The 16 values a 4-bit index selects (ggml's `kvalues_iq4nl`).
    static let values: [Int8] = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113]

    /// f16 `d`, 16 bytes of nibbles. 32 elements in 18 bytes.
    @Sendable
    static func iq4_nl(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, _ blockCount: Int) {
        withTable { table in
            for b in 0..<blockCount {
                let block = source + b * 18
                decodeRun(block + 2, scale: loadF16(block, 0), table: table, into: destination + b * 32)
            }
        }
    }

    /// f16 `d`, u16 `scales_h` (2 high bits per sub-block), 4 bytes `scales_l` (4 low bits per
    /// sub-block), 128 bytes of nibbles: 8 sub-blocks of 32 elements, each with the 6-bit scale
    /// `ls` (value `ls − 32`). 256 elements in 136 bytes.
    @Sendable
    static func iq4_xs(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, _ blockCount: Int) {
        withTable { table in
            for b in 0..<blockCount {
                let block = source + b * 136
                let d = loadF16(block, 0)
                let high = block.loadUnaligned(fromByteOffset: 2, as: UInt16.self)
                for sub in 0..<8 {
                    let low = block.load(fromByteOffset: 4 + sub / 2, as: UInt8.self) >> (4 * (sub % 2)) & 0x0F
                    let ls = Int32(low) | Int32((high >> (2 * sub)) & 3) << 4
                    decodeRun(block + 8 + 16 * sub, scale: d * Float(ls &- 32), table: table,
                              into: destination + b * 256 + 32 * sub)
                }
            }
        }
    }

    /// 32 elements from 16 bytes of nibbles: `scale · Float(values[nibble])`.
    @inline(__always)
    static func decodeRun(_ qs: UnsafeRawPointer, scale: Float, table: UnsafePointer<Float>,
                          into y: UnsafeMutablePointer<Float>) {
        for j in 0..<16 {
            let byte = qs.load(fromByteOffset: j, as: UInt8.self)
            y[j] = scale * table[Int(byte & 0x0F)]
            y[j + 16] = scale * table[Int(byte >> 4)]
        }
    }

    /// Runs `body` with `values` as floats on the stack.
    @inline(__always)
    static func withTable(_ body: (UnsafePointer<Float>) -> Void) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 16) { table in
            for i in 0..<16 { table[i] = Float(values[i]) }
            body(UnsafePointer(table.baseAddress!))
        }
    }
}
