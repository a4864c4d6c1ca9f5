/// SentencePiece-style tokenization as llama.cpp's `llm_tokenizer_spm_session`: start from
/// UTF-8 characters, repeatedly merge the adjacent pair whose concatenation is the
/// highest-scoring token (leftmost first on ties), and fall back to `<0xNN>` byte tokens for
/// symbols that are no token.
struct SentencePieceEncoder: Sendable {
    private let tokens: ByteStringTable
    private let scores: [Float]
    /// The token of each byte (`<0xNN>`, else the one-byte text), or -1.
    private let byteTokens: [Int32]
    private let unknownToken: Int32?
    /// True when no token has U+2581 after another character than U+2581: then no merge crosses
    /// the start of a word, and each word can be merged on its own with the same result (and a
    /// small work queue instead of one as long as the text).
    private let wordsAreIndependent: Bool

    init(vocabulary: Vocabulary) {
        var table = ByteStringTable(capacity: vocabulary.count)
        for text in vocabulary.tokens { table.insert(Array(text.utf8)) }
        tokens = table
        scores = vocabulary.scores
        let hex = Array("0123456789ABCDEF".utf8)
        byteTokens = (0..<256).map { byte in
            let name: [UInt8] = [0x3C, 0x30, 0x78, hex[byte >> 4], hex[byte & 15], 0x3E]  // <0xNN>
            if let id = table.find(name) { return Int32(id) }
            if let id = table.find([UInt8(byte)]) { return Int32(id) }
            return -1
        }
        unknownToken = vocabulary.specialTokens.unknown.map(Int32.init)
        wordsAreIndependent = !vocabulary.tokens.contains { text in
            var previous: Unicode.Scalar?
            for scalar in text.unicodeScalars {
                if scalar == "\u{2581}", let previous, previous != "\u{2581}" { return true }
                previous = scalar
            }
            return false
        }
    }

    struct Bigram: HeapOrdered {
        var score: Float
        var left: Int32
        var right: Int32
        var size: Int32

        /// llama.cpp's order: higher score first, then the leftmost pair.
        @inline(__always) func precedes(_ other: Bigram) -> Bool {
            score > other.score || (score == other.score && left < other.left)
        }
    }

    /// Symbols of one text being merged (llama.cpp's `llm_symbol` list and work queue).
    private struct State {
        var starts: [Int32] = []
        var lengths: [Int32] = []
        var previous: [Int32] = []
        var next: [Int32] = []
        var heap: [Bigram] = []
    }

    /// Appends the tokens of `text` (already escaped: spaces as U+2581) to `output`.
    func encode(_ text: [UInt8], into output: inout [Int32]) {
        guard wordsAreIndependent else { return encodeSegment(text[...], into: &output) }
        var start = 0
        var index = 3
        while index + 3 <= text.count {
            // A word starts at a U+2581 (E2 96 81) that does not follow another one.
            if text[index] == 0xE2 && text[index + 1] == 0x96 && text[index + 2] == 0x81
                && !(text[index - 3] == 0xE2 && text[index - 2] == 0x96 && text[index - 1] == 0x81) {
                encodeSegment(text[start..<index], into: &output)
                start = index
                index += 3
            } else {
                index += 1
            }
        }
        encodeSegment(text[start...], into: &output)
    }

    private func encodeSegment(_ text: ArraySlice<UInt8>, into output: inout [Int32]) {
        guard !text.isEmpty else { return }
        let text = Array(text)
        var state = State()
        var offset = 0
        while offset < text.count {
            let lead = text[offset] >> 4
            let length = min(lead < 0xC ? 1 : lead < 0xE ? 2 : lead == 0xE ? 3 : 4, text.count - offset)
            state.starts.append(Int32(offset))
            state.lengths.append(Int32(length))
            offset += length
        }
        let count = state.starts.count
        state.previous = (0..<count).map { Int32($0 - 1) }
        state.next = (0..<count).map { $0 + 1 == count ? Int32(-1) : Int32($0 + 1) }
        state.heap.reserveCapacity(count)

        text.withUnsafeBufferPointer { buffer in
            for index in 1..<max(1, count) { addBigram(Int32(index - 1), Int32(index), buffer, &state) }
            while let bigram = state.heap.heapPop() {
                let left = Int(bigram.left), right = Int(bigram.right)
                let leftLength = state.lengths[left], rightLength = state.lengths[right]
                guard leftLength > 0, rightLength > 0, leftLength + rightLength == bigram.size else { continue }
                state.lengths[left] = leftLength + rightLength
                state.lengths[right] = 0
                let after = state.next[right]
                state.next[left] = after
                if after >= 0 { state.previous[Int(after)] = bigram.left }
                addBigram(state.previous[left], bigram.left, buffer, &state)
                addBigram(bigram.left, after, buffer, &state)
            }
            var index: Int32 = 0
            while index >= 0 {
                let start = Int(state.starts[Int(index)]), length = Int(state.lengths[Int(index)])
                if let token = tokens.find(UnsafeBufferPointer(rebasing: buffer[start..<(start + length)])) {
                    output.append(Int32(token))
                } else {
                    for byte in buffer[start..<(start + length)] {
                        let token = byteTokens[Int(byte)]
                        // llama.cpp throws when a byte has no token; Ponder emits <unk> instead.
                        if token >= 0 { output.append(token) } else if let unknownToken { output.append(unknownToken) }
                    }
                }
                index = state.next[Int(index)]
            }
        }
    }

    @inline(__always)
    private func addBigram(_ left: Int32, _ right: Int32, _ buffer: UnsafeBufferPointer<UInt8>, _ state: inout State) {
        guard left >= 0, right >= 0 else { return }
        let start = Int(state.starts[Int(left)])
        let size = Int(state.lengths[Int(left)] + state.lengths[Int(right)])
        guard let token = tokens.find(UnsafeBufferPointer(rebasing: buffer[start..<(start + size)])) else { return }
        state.heap.heapPush(Bigram(score: scores[token], left: left, right: right, size: Int32(size)))
    }
}
