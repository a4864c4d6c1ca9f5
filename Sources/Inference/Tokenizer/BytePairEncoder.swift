/// Byte-level BPE over one pre-tokenized word, as llama.cpp's `llm_tokenizer_bpe_session`.
///
/// It works on raw bytes: every token and merge text is decoded from the byte-level alphabet
/// once, and "pieces" (interned byte strings: the tokens, plus merge results that are no token)
/// stand in for llama.cpp's symbol strings.
struct BytePairEncoder: Sendable {
    /// Piece index → token id, or -1 when the piece is no token.
    private let pieceTokens: [Int32]
    private let pieces: ByteStringTable
    private let merges: PairTable
    /// The piece of each single byte.
    private let bytePieces: [Int32]
    let ignoreMerges: Bool

    init(vocabulary: Vocabulary) {
        var pieces = ByteStringTable(capacity: vocabulary.count + vocabulary.merges.count + 256)
        var pieceTokens: [Int32] = []
        func intern(_ bytes: [UInt8]) -> Int32 {
            let index = pieces.insert(bytes)
            if index == pieceTokens.count { pieceTokens.append(-1) }
            return Int32(index)
        }
        for (id, text) in vocabulary.tokens.enumerated() {
            guard let bytes = UnicodeCategories.decodeByteLevel(text) else { continue }
            let piece = intern(bytes)
            if pieceTokens[Int(piece)] < 0 { pieceTokens[Int(piece)] = Int32(id) }
        }
        bytePieces = (0..<256).map { intern([UInt8($0)]) }
        var merges = PairTable(capacity: vocabulary.merges.count)
        for (rank, merge) in vocabulary.merges.enumerated() {
            guard let left = UnicodeCategories.decodeByteLevel(merge.0),
                  let right = UnicodeCategories.decodeByteLevel(merge.1) else { continue }
            let leftPiece = intern(left)
            let rightPiece = intern(right)
            let merged = intern(left + right)
            merges.insertIfAbsent(left: leftPiece, right: rightPiece, first: Int32(rank), second: merged)
        }
        self.pieces = pieces
        self.pieceTokens = pieceTokens
        self.merges = merges
        self.ignoreMerges = vocabulary.ignoreMerges
    }

    /// Scratch state reused across the words of one `encode` call.
    struct Workspace {
        var pieces: [Int32] = []
        var starts: [Int32] = []
        var lengths: [Int32] = []
        var previous: [Int32] = []
        var next: [Int32] = []
        var queue: [Bigram] = []
    }

    struct Bigram: HeapOrdered {
        var rank: Int32
        var left: Int32
        var right: Int32
        var leftPiece: Int32
        var rightPiece: Int32

        /// llama.cpp's order: lower rank first, then the leftmost pair.
        @inline(__always) func precedes(_ other: Bigram) -> Bool {
            rank < other.rank || (rank == other.rank && left < other.left)
        }
    }

    /// Appends the tokens of `word` (raw bytes) to `output`.
    func encode(_ word: UnsafeBufferPointer<UInt8>, into output: inout [Int32], workspace: inout Workspace) {
        if word.isEmpty { return }
        if ignoreMerges, let piece = pieces.find(word), pieceTokens[piece] >= 0 {
            output.append(pieceTokens[piece])
            return
        }
        let count = word.count
        workspace.pieces.removeAll(keepingCapacity: true)
        workspace.starts.removeAll(keepingCapacity: true)
        workspace.lengths.removeAll(keepingCapacity: true)
        workspace.previous.removeAll(keepingCapacity: true)
        workspace.next.removeAll(keepingCapacity: true)
        workspace.queue.removeAll(keepingCapacity: true)
        for index in 0..<count {
            workspace.pieces.append(bytePieces[Int(word[index])])
            workspace.starts.append(Int32(index))
            workspace.lengths.append(1)
            workspace.previous.append(Int32(index - 1))
            workspace.next.append(index + 1 == count ? -1 : Int32(index + 1))
        }
        for index in 1..<max(1, count) { addBigram(Int32(index - 1), Int32(index), &workspace) }

        while let bigram = workspace.queue.heapPop() {
            let left = Int(bigram.left), right = Int(bigram.right)
            guard workspace.lengths[left] > 0, workspace.lengths[right] > 0,
                  workspace.pieces[left] == bigram.leftPiece, workspace.pieces[right] == bigram.rightPiece,
                  let (_, merged) = merges.find(left: bigram.leftPiece, right: bigram.rightPiece) else { continue }
            workspace.pieces[left] = merged
            workspace.lengths[left] += workspace.lengths[right]
            workspace.lengths[right] = 0
            workspace.next[left] = workspace.next[right]
            if workspace.next[right] >= 0 { workspace.previous[Int(workspace.next[right])] = bigram.left }
            addBigram(workspace.previous[left], bigram.left, &workspace)
            addBigram(bigram.left, workspace.next[left], &workspace)
        }

        for index in 0..<count where workspace.lengths[index] > 0 {
            let token = pieceTokens[Int(workspace.pieces[index])]
            if token >= 0 {
                output.append(token)
                continue
            }
            // llama.cpp looks each byte of the byte-level text up as a one-byte token; only the
            // printable ASCII bytes, which stand for themselves, can be found that way.
            let start = Int(workspace.starts[index])
            for byte in word[start..<(start + Int(workspace.lengths[index]))] where (0x21...0x7E).contains(byte) {
                let single = pieceTokens[Int(bytePieces[Int(byte)])]
                if single >= 0 { output.append(single) }
            }
        }
    }

    @inline(__always)
    private func addBigram(_ left: Int32, _ right: Int32, _ workspace: inout Workspace) {
        guard left >= 0, right >= 0 else { return }
        let leftPiece = workspace.pieces[Int(left)], rightPiece = workspace.pieces[Int(right)]
        guard let (rank, _) = merges.find(left: leftPiece, right: rightPiece) else { return }
        workspace.queue.heapPush(Bigram(rank: rank, left: left, right: right, leftPiece: leftPiece, rightPiece: rightPiece))
    }
}
