/// Codepoint classes exactly as llama.cpp's `unicode.cpp` sees them.
///
/// Pre-tokenizer parity depends on llama.cpp's own category table (generated from its
/// `unicode-data.cpp` into `UnicodeCategories+Table.swift`), its whitespace set, and its
/// byte-to-unicode alphabet for byte-level BPE, not on Swift's Unicode properties.
enum UnicodeCategories {
    /// Category bits, numbered as llama.cpp numbers them, plus a whitespace bit.
    struct Flags: OptionSet, Sendable {
        let rawValue: UInt16

        static let undefined = Flags(rawValue: 0x0001)
        static let number = Flags(rawValue: 0x0002)
        static let letter = Flags(rawValue: 0x0004)
        static let separator = Flags(rawValue: 0x0008)
        static let accentMark = Flags(rawValue: 0x0010)
        static let punctuation = Flags(rawValue: 0x0020)
        static let symbol = Flags(rawValue: 0x0040)
        static let control = Flags(rawValue: 0x0080)
        static let whitespace = Flags(rawValue: 0x0100)

        /// The category bits without the whitespace bit.
        var category: UInt16 { rawValue & 0x00FF }
    }

    static let scalarLimit = 0x110000

    /// llama.cpp's `unicode_set_whitespace`.
    static let whitespaceScalars: [UInt32] = [
        0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680,
        0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200A,
        0x2028, 0x2029, 0x202F, 0x205F, 0x3000,
    ]

    /// One entry per codepoint; built once, on first use.
    static let table: [UInt16] = {
        var table = [UInt16](repeating: Flags.undefined.rawValue, count: scalarLimit)
        let ranges = rangeTable
        for index in 0..<ranges.count {
            let start = Int(ranges[index] >> 8)
            let end = index + 1 < ranges.count ? Int(ranges[index + 1] >> 8) : scalarLimit
            let flags = UInt16(ranges[index] & 0xFF)
            if start < end {
                for scalar in start..<min(end, scalarLimit) { table[scalar] = flags }
            }
        }
        for scalar in whitespaceScalars { table[Int(scalar)] |= Flags.whitespace.rawValue }
        return table
    }()

    @inline(__always)
    static func flags(_ scalar: UInt32) -> Flags {
        Int(scalar) < scalarLimit ? Flags(rawValue: table[Int(scalar)]) : .undefined
    }

    /// The code llama.cpp's regex fallback substitutes for a codepoint ("collapsed" text):
    /// ASCII stays itself, whitespace becomes 0x0B, and every other codepoint becomes one byte
    /// per category (0xD1 number, 0xD2 letter, 0xD3 punctuation, 0xD4 mark, 0xD5 symbol,
    /// 0xD0 anything else).
    @inline(__always)
    static func collapsed(_ scalar: UInt32) -> UInt32 {
        if scalar < 128 { return scalar }
        let flags = flags(scalar)
        if flags.contains(.whitespace) { return 0x0B }
        switch flags.category {
        case Flags.number.rawValue: return 0xD1
        case Flags.letter.rawValue: return 0xD2
        case Flags.punctuation.rawValue: return 0xD3
        case Flags.accentMark.rawValue: return 0xD4
        case Flags.symbol.rawValue: return 0xD5
        default: return 0xD0
        }
    }

    /// Lowercases ASCII letters; llama.cpp's lowercase map sends no other codepoint to the ASCII
    /// letters that the contraction rules compare against.
    @inline(__always)
    static func asciiLowercase(_ scalar: UInt32) -> UInt32 {
        (0x41...0x5A).contains(scalar) ? scalar + 0x20 : scalar
    }

    // MARK: Byte-level alphabet (GPT-2's bytes_to_unicode)

    /// The codepoint that stands for each byte in byte-level BPE token texts.
    static let byteToScalar: [UInt32] = {
        var map = [UInt32](repeating: 0, count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            if (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte) {
                map[byte] = UInt32(byte)
            } else {
                map[byte] = next
                next += 1
            }
        }
        return map
    }()

    /// The inverse of `byteToScalar`, indexed by codepoint; -1 where a codepoint is no byte.
    static let scalarToByte: [Int16] = {
        var map = [Int16](repeating: -1, count: 324)
        for (byte, scalar) in byteToScalar.enumerated() { map[Int(scalar)] = Int16(byte) }
        return map
    }()

    @inline(__always)
    static func byte(forAlphabetScalar scalar: UInt32) -> UInt8? {
        guard Int(scalar) < scalarToByte.count else { return nil }
        let byte = scalarToByte[Int(scalar)]
        return byte < 0 ? nil : UInt8(byte)
    }

    /// Decodes a byte-level token text into raw bytes, or nil when a codepoint is outside the
    /// alphabet.
    static func decodeByteLevel(_ text: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            guard let byte = byte(forAlphabetScalar: scalar.value) else { return nil }
            bytes.append(byte)
        }
        return bytes
    }
}
