/// A bounds-checked little-endian cursor over the bytes of a GGUF file.
///
/// Every read checks the remaining length first and throws `GGUFError` with the current offset,
/// so a truncated or lying file can never read past the end.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    let file: String
    private(set) var offset: Int = 0

    init(bytes: UnsafeRawBufferPointer, file: String) {
        self.bytes = bytes
        self.file = file
    }

    var remaining: Int { bytes.count - offset }

    func error(_ kind: GGUFError.Kind, at position: Int? = nil) -> GGUFError {
        GGUFError(file: file, offset: UInt64(position ?? offset), kind: kind)
    }

    private func require(_ count: Int, _ what: @autoclosure () -> String) throws(GGUFError) {
        if count > remaining {
            throw error(.truncated(what: what(), needed: UInt64(count), available: UInt64(remaining)))
        }
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws(GGUFError) -> T {
        try require(MemoryLayout<T>.size, what())
        let value = bytes.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += MemoryLayout<T>.size
        return T(littleEndian: value)
    }

    mutating func readFloat(_ what: @autoclosure () -> String) throws(GGUFError) -> Float {
        Float(bitPattern: try read(UInt32.self, what()))
    }

    mutating func readDouble(_ what: @autoclosure () -> String) throws(GGUFError) -> Double {
        Double(bitPattern: try read(UInt64.self, what()))
    }

    mutating func readBytes(_ count: Int, _ what: @autoclosure () -> String) throws(GGUFError) -> UnsafeRawBufferPointer {
        try require(count, what())
        let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
        offset += count
        return slice
    }

    /// A GGUF string: u64 length, then that many UTF-8 bytes. Invalid UTF-8 is repaired with
    /// U+FFFD rather than rejected, as ggml does not validate it either.
    mutating func readString(_ what: @autoclosure () -> String) throws(GGUFError) -> String {
        let start = offset
        let length = try read(UInt64.self, what())
        guard length <= UInt64(remaining) else {
            throw error(.stringTooLong(length: length, available: UInt64(remaining)), at: start)
        }
        let raw = try readBytes(Int(length), what())
        return String(decoding: raw, as: UTF8.self)
    }

    /// Reads an element count and checks that the rest of the file could hold that many
    /// elements of at least `minimumSize` bytes each, so that no allocation exceeds what the
    /// file's size implies.
    mutating func readCount(_ what: String, minimumSize: Int) throws(GGUFError) -> Int {
        let start = offset
        let count = try read(UInt64.self, what)
        let available = UInt64(remaining)
        let (needed, overflow) = count.multipliedReportingOverflow(by: UInt64(max(minimumSize, 1)))
        if overflow || needed > available {
            throw error(.countTooLarge(what: what, count: count, available: available), at: start)
        }
        return Int(count)
    }

    mutating func seek(to position: Int) throws(GGUFError) {
        guard position <= bytes.count else {
            throw error(.truncated(what: "padding before the tensor data", needed: UInt64(position - offset),
                                   available: UInt64(remaining)))
        }
        offset = position
    }
}
