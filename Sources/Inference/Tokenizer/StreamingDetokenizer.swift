/// Turns generated tokens into text as they arrive, emitting only complete UTF-8.
///
/// A token can end inside a multi-byte character (byte tokens, byte-level BPE pieces); its
/// bytes are held until the character completes. Bytes that can never form a valid character
/// come out as U+FFFD. `finish()` returns whatever is still held.
public struct StreamingDetokenizer: Sendable {
    public let tokenizer: any Tokenizer
    /// Whether control tokens' text is included.
    public let renderSpecial: Bool
    private var pending: [UInt8] = []
    private var stripLeadingSpace: Bool

    /// - Parameter stripLeadingSpace: drop one leading space from the first token, as
    ///   llama.cpp's detokenize does for SentencePiece models with a space prefix.
    public init(tokenizer: any Tokenizer, renderSpecial: Bool = false, stripLeadingSpace: Bool = false) {
        self.tokenizer = tokenizer
        self.renderSpecial = renderSpecial
        self.stripLeadingSpace = stripLeadingSpace
    }

    /// Adds one token; returns the text that is now complete (possibly empty).
    public mutating func append(_ token: Int32) -> String {
        var bytes = tokenizer.piece(for: token, special: renderSpecial)[...]
        if stripLeadingSpace && bytes.first == 0x20 { bytes = bytes.dropFirst() }
        stripLeadingSpace = false
        pending += bytes
        return takeComplete(final: false)
    }

    /// Returns the rest, with an unfinished character as U+FFFD, and resets the state.
    public mutating func finish() -> String {
        takeComplete(final: true)
    }

    private mutating func takeComplete(final: Bool) -> String {
        let keep = final ? 0 : Self.incompleteSuffixLength(pending)
        let complete = pending[..<(pending.count - keep)]
        let text = String(decoding: complete, as: UTF8.self)
        pending.removeFirst(pending.count - keep)
        return text
    }

    /// The length of a trailing sequence that is a valid but unfinished UTF-8 character, so
    /// more bytes could still complete it; 0 when the bytes end on a boundary or cannot be
    /// completed.
    static func incompleteSuffixLength(_ bytes: [UInt8]) -> Int {
        var continuation = 0
        var index = bytes.count - 1
        while index >= 0 && continuation < 3 && bytes[index] & 0xC0 == 0x80 {
            continuation += 1
            index -= 1
        }
        guard index >= 0 else { return 0 }
        let lead = bytes[index]
        let needed: Int
        switch lead {
        case 0xC2...0xDF: needed = 1
        case 0xE0...0xEF: needed = 2
        case 0xF0...0xF4: needed = 3
        default: return 0
        }
        guard continuation < needed else { return 0 }
        // The second byte of some leads has a narrower range (no overlongs, surrogates, > U+10FFFF).
        if continuation >= 1 {
            let second = bytes[index + 1]
            switch lead {
            case 0xE0 where second < 0xA0, 0xED where second > 0x9F, 0xF0 where second < 0x90, 0xF4 where second > 0x8F:
                return 0
            default: break
            }
        }
        return continuation + 1
    }
}
