import GGUF

/// The tokenizer of a GGUF model: byte-level BPE (`gpt2`) or SentencePiece (`llama`), matching
/// llama.cpp's `llama_tokenize`, `llama_token_to_piece` and `llama_detokenize` exactly.
public struct VocabularyTokenizer: Tokenizer {
    public let vocabulary: Vocabulary
    let preTokenizer: PreTokenizer?
    let bytePairEncoder: BytePairEncoder?
    let sentencePieceEncoder: SentencePieceEncoder?
    /// llama.cpp's piece cache: every token rendered with `special` = true.
    let pieces: [[UInt8]]
    let specialTexts: [[UInt8]]

    public init(vocabulary: Vocabulary) throws(TokenizerError) {
        self.vocabulary = vocabulary
        switch vocabulary.model {
        case .bytePairEncoding:
            let patterns = vocabulary.preTokenizerConfiguration?.patterns ?? []
            do {
                preTokenizer = try PreTokenizer(name: vocabulary.preTokenizerName, patterns: patterns)
            } catch {
                throw error.attributed(to: vocabulary.source)
            }
            bytePairEncoder = BytePairEncoder(vocabulary: vocabulary)
            sentencePieceEncoder = nil
        case .sentencePiece:
            preTokenizer = nil
            bytePairEncoder = nil
            sentencePieceEncoder = SentencePieceEncoder(vocabulary: vocabulary)
        }
        pieces = (0..<vocabulary.count).map { Self.renderPiece(vocabulary, $0) }
        specialTexts = vocabulary.tokens.map { Array($0.utf8) }
    }

    /// Loads the vocabulary of a GGUF file and builds its tokenizer.
    public init(file: GGUFFile) throws(TokenizerError) {
        try self.init(vocabulary: Vocabulary(file: file))
    }

    public var vocabularySize: Int { vocabulary.count }
    public var beginningOfSequenceToken: Int32? { vocabulary.specialTokens.beginningOfSequence.map(Int32.init) }
    public var endOfSequenceToken: Int32? { vocabulary.specialTokens.endOfSequence.map(Int32.init) }
    public var endOfTurnToken: Int32? { vocabulary.specialTokens.endOfTurn.map(Int32.init) }
    public var paddingToken: Int32? { vocabulary.specialTokens.padding.map(Int32.init) }

    public func isEndOfGeneration(_ token: Int32) -> Bool {
        vocabulary.endOfGenerationTokens.contains(token)
    }

    public func encode(_ text: String, addSpecial: Bool, parseSpecial: Bool) -> [Int32] {
        let bytes = Array(text.utf8)
        let fragments = partition(bytes, parseSpecial: parseSpecial)
        var output: [Int32] = []
        output.reserveCapacity(bytes.count / 3 + 4)
        let bos = beginningOfSequenceToken, eos = endOfSequenceToken
        switch vocabulary.model {
        case .sentencePiece:
            if addSpecial && vocabulary.addBeginningOfSequence, let bos { output.append(bos) }
            var previousIsSpecial = true
            for fragment in fragments {
                switch fragment {
                case .token(let token):
                    output.append(token)
                    previousIsSpecial = true
                case .text(let range):
                    var escaped: [UInt8] = []
                    escaped.reserveCapacity(range.count + 3)
                    if vocabulary.addSpacePrefix && previousIsSpecial { escaped += [0xE2, 0x96, 0x81] }
                    for byte in bytes[range] {
                        if byte == 0x20 { escaped += [0xE2, 0x96, 0x81] } else { escaped.append(byte) }
                    }
                    sentencePieceEncoder?.encode(escaped, into: &output)
                    previousIsSpecial = false
                }
            }
        case .bytePairEncoding:
            if addSpecial && vocabulary.addBeginningOfSequence, let bos { output.append(bos) }
            var workspace = BytePairEncoder.Workspace()
            for fragment in fragments {
                switch fragment {
                case .token(let token): output.append(token)
                case .text(let range): encodeBytePairs(bytes[range], into: &output, workspace: &workspace)
                }
            }
        }
        if addSpecial && vocabulary.addEndOfSequence, let eos { output.append(eos) }
        return output
    }

    private func encodeBytePairs(_ text: ArraySlice<UInt8>, into output: inout [Int32],
                                 workspace: inout BytePairEncoder.Workspace) {
        guard let preTokenizer, let bytePairEncoder else { return }
        // Codepoints of the (valid UTF-8) text and the byte offset where each one starts.
        var scalars: [UInt32] = []
        var offsets: [Int] = []
        scalars.reserveCapacity(text.count)
        offsets.reserveCapacity(text.count + 1)
        text.withUnsafeBufferPointer { buffer in
            var index = 0
            while index < buffer.count {
                let lead = UInt32(buffer[index])
                offsets.append(index)
                if lead < 0x80 {
                    scalars.append(lead)
                    index += 1
                } else if lead < 0xE0 {
                    scalars.append((lead & 0x1F) << 6 | UInt32(buffer[index + 1] & 0x3F))
                    index += 2
                } else if lead < 0xF0 {
                    scalars.append((lead & 0x0F) << 12 | UInt32(buffer[index + 1] & 0x3F) << 6 | UInt32(buffer[index + 2] & 0x3F))
                    index += 3
                } else {
                    scalars.append((lead & 0x07) << 18 | UInt32(buffer[index + 1] & 0x3F) << 12
                                   | UInt32(buffer[index + 2] & 0x3F) << 6 | UInt32(buffer[index + 3] & 0x3F))
                    index += 4
                }
            }
            offsets.append(buffer.count)
            var start = 0
            for length in preTokenizer.split(scalars) {
                let word = UnsafeBufferPointer(rebasing: buffer[offsets[start]..<offsets[start + length]])
                bytePairEncoder.encode(word, into: &output, workspace: &workspace)
                start += length
            }
        }
    }

    // MARK: Special tokens

    enum Fragment: Equatable {
        case text(Range<Int>)
        case token(Int32)
    }

    /// llama.cpp's `tokenizer_st_partition`: for each special token, longest first, split every
    /// remaining text fragment at each occurrence. Without `parseSpecial` only user-defined tokens
    /// split.
    func partition(_ bytes: [UInt8], parseSpecial: Bool) -> [Fragment] {
        guard !bytes.isEmpty else { return [] }
        var fragments: [Fragment] = [.text(0..<bytes.count)]
        for token in vocabulary.specialTokensByLength {
            let attributes = vocabulary.attributes[Int(token)]
            if !parseSpecial && !attributes.isDisjoint(with: [.control, .unknown]) { continue }
            let needle = specialTexts[Int(token)]
            guard let first = needle.first else { continue }
            var result: [Fragment] = []
            var changed = false
            for fragment in fragments {
                guard case .text(let range) = fragment else { result.append(fragment); continue }
                var cursor = range.lowerBound
                var searchFrom = range.lowerBound
                while let match = Self.find(needle, first: first, in: bytes, from: searchFrom, to: range.upperBound) {
                    changed = true
                    var leftEnd = match
                    if attributes.contains(.leftStrip) {
                        while leftEnd > cursor && Self.isCSpace(bytes[leftEnd - 1]) { leftEnd -= 1 }
                    }
                    if leftEnd > cursor { result.append(.text(cursor..<leftEnd)) }
                    result.append(.token(token))
                    cursor = match + needle.count
                    if attributes.contains(.rightStrip) {
                        while cursor < range.upperBound && Self.isCSpace(bytes[cursor]) { cursor += 1 }
                    }
                    searchFrom = cursor
                }
                if cursor < range.upperBound { result.append(.text(cursor..<range.upperBound)) }
            }
            if changed { fragments = result }
        }
        return fragments
    }

    @inline(__always) static func isCSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (0x09...0x0D).contains(byte)
    }

    static func find(_ needle: [UInt8], first: UInt8, in bytes: [UInt8], from start: Int, to end: Int) -> Int? {
        guard end - start >= needle.count else { return nil }
        return bytes.withUnsafeBufferPointer { buffer in
            var position = start
            let last = end - needle.count
            while position <= last {
                if buffer[position] == first {
                    var offset = 1
                    while offset < needle.count && buffer[position + offset] == needle[offset] { offset += 1 }
                    if offset == needle.count { return position }
                }
                position += 1
            }
            return nil
        }
    }
}
