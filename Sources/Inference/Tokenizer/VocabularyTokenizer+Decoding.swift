/// Token → bytes, as llama.cpp's `token_to_piece` and `detokenize`.
extension VocabularyTokenizer {
    /// A token's bytes with `special` = true (llama.cpp's piece cache).
    static func renderPiece(_ vocabulary: Vocabulary, _ id: Int) -> [UInt8] {
        let attributes = vocabulary.attributes[id]
        let text = vocabulary.tokens[id]
        if !attributes.isDisjoint(with: [.unknown, .control, .userDefined]) { return Array(text.utf8) }
        if attributes.contains(.normal) {
            switch vocabulary.model {
            case .sentencePiece:
                return Array(text.replacingOccurrences(of: "\u{2581}", with: " ").utf8)
            case .bytePairEncoding:
                return decodeByteLevelText(text)
            }
        }
        if attributes.contains(.byte) { return [byteValue(of: text)] }
        return []
    }

    /// llama.cpp's `llama_decode_text`: each codepoint back to its byte; a codepoint outside the
    /// byte-level alphabet becomes `[UNK_BYTE_0x<its UTF-8 in hex><the whole token text>]`.
    static func decodeByteLevelText(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        for scalar in text.unicodeScalars {
            if let byte = UnicodeCategories.byte(forAlphabetScalar: scalar.value) {
                bytes.append(byte)
            } else {
                let hex = String(scalar).utf8.map { byte in
                    String(byte, radix: 16).count == 1 ? "0" + String(byte, radix: 16) : String(byte, radix: 16)
                }.joined()
                bytes += Array("[UNK_BYTE_0x\(hex)\(text)]".utf8)
            }
        }
        return bytes
    }

    /// The byte of a `<0xNN>` token: characters 3 and 4 read as hex, like `strtol`.
    static func byteValue(of text: String) -> UInt8 {
        let digits = Array(text.utf8.dropFirst(3).prefix(2))
        var value: UInt8 = 0
        for digit in digits {
            guard let nibble = Character(Unicode.Scalar(digit)).hexDigitValue else { break }
            value = value &* 16 &+ UInt8(nibble)
        }
        return value
    }

    public func piece(for token: Int32, special: Bool) -> [UInt8] {
        guard token >= 0 && Int(token) < pieces.count else { return [] }
        if !special && !vocabulary.attributes[Int(token)].isDisjoint(with: [.unknown, .control]) { return [] }
        return pieces[Int(token)]
    }

    public func detokenize(_ tokens: [Int32], removeSpecial: Bool, renderSpecial: Bool) -> [UInt8] {
        var slice = tokens[...]
        var removeSpace = vocabulary.addSpacePrefix
        if removeSpecial && vocabulary.addBeginningOfSequence, let bos = beginningOfSequenceToken, slice.first == bos {
            removeSpace = false
            slice = slice.dropFirst()
        }
        if removeSpecial && vocabulary.addEndOfSequence, let eos = endOfSequenceToken, slice.last == eos {
            slice = slice.dropLast()
        }
        var text: [UInt8] = []
        for token in slice {
            var bytes = piece(for: token, special: renderSpecial)[...]
            if removeSpace && bytes.first == 0x20 { bytes = bytes.dropFirst() }
            removeSpace = false
            text += bytes
        }
        return vocabulary.cleanSpaces ? Self.cleanSpaces(text) : text
    }

    /// llama.cpp's three `clean_spaces` passes: drop the space before `? ! . ,`, around a lone
    /// apostrophe, and before `'s 'm 're 've`.
    static func cleanSpaces(_ input: [UInt8]) -> [UInt8] {
        guard !input.isEmpty else { return input }
        let space: UInt8 = 0x20, apostrophe: UInt8 = 0x27
        var text = input
        var output: [UInt8] = [text[0]]
        for index in 1..<text.count {
            let byte = text[index]
            if text[index - 1] == space && [0x3F, 0x21, 0x2E, 0x2C].contains(byte) { output.removeLast() }
            output.append(byte)
        }

        text = output
        output = [text[0]]
        var index = 1
        while index < text.count {
            let byte = text[index]
            if byte == apostrophe && index + 1 < text.count && text[index - 1] == space && text[index + 1] == space {
                output.removeLast()
                index += 1
                text[index] = 0  // llama.cpp overwrites the next space, then skips it
            }
            output.append(byte)
            index += 1
        }

        text = output
        output = [text[0]]
        for index in 1..<text.count {
            let byte = text[index]
            if text[index - 1] == space && byte == apostrophe && index + 1 < text.count {
                let next = text[index + 1]
                if next == 0x73 || next == 0x6D {  // 's 'm
                    output.removeLast()
                } else if next != 0x74 && next != 0x64 && index + 2 < text.count {
                    let after = text[index + 2]
                    if (next == 0x72 && after == 0x65) || (next == 0x76 && after == 0x65) { output.removeLast() }  // 're 've
                }
            }
            output.append(byte)
        }
        return output
    }
}
