import Foundation

/// An in-memory `TextModel` for tests of sampling, generation and search.
///
/// Each logits row is a deterministic function of the seed and the sequence's whole history
/// (every input up to and including the item), so a forked sequence, a truncated-and-redecoded
/// sequence and a sequence prefilled from scratch all give identical logits, exactly like a
/// real model with a correct cache. Batches are validated like the real model's.
///
/// `logitsFunction`, when given, replaces the hash: it receives the history as token ids
/// (an embedding row appears as `-1`) and returns `vocabularySize` logits.
public final class FakeTextModel: TextModel, @unchecked Sendable {
    public let vocabularySize: Int
    public let embeddingLength: Int
    public let contextLength: Int
    public let cacheCapacity: Int
    public let seed: UInt64
    private let logitsFunction: (@Sendable (_ history: [Int32]) -> [Float])?

    private let lock = NSLock()
    private var histories: [SequenceID: [Int32]] = [:]
    private var nextSequence = 0
    private var batchSizes: [Int] = []

    public init(vocabularySize: Int = 64, embeddingLength: Int = 8, contextLength: Int = 512,
                cacheCapacity: Int? = nil, seed: UInt64 = 0,
                logitsFunction: (@Sendable (_ history: [Int32]) -> [Float])? = nil) {
        self.vocabularySize = vocabularySize
        self.embeddingLength = embeddingLength
        self.contextLength = contextLength
        self.cacheCapacity = cacheCapacity ?? contextLength * 8
        self.seed = seed
        self.logitsFunction = logitsFunction
    }

    /// The number of items of every `forward` call so far, in order (to check batching).
    public var forwardBatchSizes: [Int] { lock.withLock { batchSizes } }

    /// The inputs `sequence` holds (embeddings as `-1`), or nil when it does not exist.
    public func history(of sequence: SequenceID) -> [Int32]? { lock.withLock { histories[sequence] } }

    /// The logits the model gives after `history`, without touching any sequence.
    public func logits(after history: [Int32]) -> [Float] {
        if let logitsFunction { return logitsFunction(history) }
        var state = seed &+ 0x9E37_79B9_7F4A_7C15
        for token in history { state = mix(state ^ UInt64(bitPattern: Int64(token))) }
        return (0..<vocabularySize).map { index in
            let bits = mix(state &+ UInt64(index) &* 0xD1B5_4A32_D192_ED03)
            return Float(bits >> 40) / Float(1 << 24) * 8 - 4
        }
    }

    public func makeSequence() throws(TextModelError) -> SequenceID {
        lock.withLock {
            let sequence = SequenceID(rawValue: nextSequence)
            nextSequence += 1
            histories[sequence] = []
            return sequence
        }
    }

    public func fork(_ sequence: SequenceID) throws(TextModelError) -> SequenceID {
        lock.lock()
        defer { lock.unlock() }
        guard let parent = histories[sequence] else { throw TextModelError(kind: .unknownSequence(sequence)) }
        let child = SequenceID(rawValue: nextSequence)
        nextSequence += 1
        histories[child] = parent
        return child
    }

    public func truncate(_ sequence: SequenceID, to length: Int) throws(TextModelError) {
        lock.lock()
        defer { lock.unlock() }
        guard let history = histories[sequence] else { throw TextModelError(kind: .unknownSequence(sequence)) }
        guard length >= 0, length <= history.count else {
            throw TextModelError(kind: .invalidTruncation(sequence, length: length, sequenceLength: history.count))
        }
        histories[sequence] = Array(history.prefix(length))
    }

    public func release(_ sequence: SequenceID) {
        lock.withLock { _ = histories.removeValue(forKey: sequence) }
    }

    public func length(of sequence: SequenceID) throws(TextModelError) -> Int {
        lock.lock()
        defer { lock.unlock() }
        guard let history = histories[sequence] else { throw TextModelError(kind: .unknownSequence(sequence)) }
        return history.count
    }

    public func forward(_ batch: Batch) throws(TextModelError) -> Logits {
        lock.lock()
        defer { lock.unlock() }
        // Validate everything before touching any sequence.
        var next: [SequenceID: [Int32]] = [:]
        for item in batch.items {
            guard var history = next[item.sequence] ?? histories[item.sequence] else {
                throw TextModelError(kind: .unknownSequence(item.sequence))
            }
            guard item.position == history.count else {
                throw TextModelError(kind: .positionMismatch(item.sequence, expected: history.count, found: item.position))
            }
            guard item.position < contextLength else {
                throw TextModelError(kind: .contextFull(item.sequence, contextLength: contextLength))
            }
            switch item.input {
            case .token(let token):
                guard token >= 0, Int(token) < vocabularySize else {
                    throw TextModelError(kind: .tokenOutOfRange(token: token, vocabularySize: vocabularySize))
                }
                history.append(token)
            case .embedding(let row):
                guard row.count == embeddingLength else {
                    throw TextModelError(kind: .embeddingLengthMismatch(expected: embeddingLength, found: row.count))
                }
                history.append(-1)
            case .image(let image, let index):
                guard index >= 0, index < image.spanLength else {
                    throw TextModelError(kind: .imageInput(reason: "index \(index) is outside the \(image)"))
                }
                history.append(-1)
            }
            next[item.sequence] = history
        }
        // Logits of each item from its history up to and including itself.
        var values: [Float] = []
        var itemIndices: [Int] = [], sequences: [SequenceID] = [], positions: [Int] = []
        for (index, item) in batch.items.enumerated() where item.wantsLogits {
            let history = next[item.sequence]!.prefix(item.position + 1)
            values += logits(after: Array(history))
            itemIndices.append(index)
            sequences.append(item.sequence)
            positions.append(item.position)
        }
        for (sequence, history) in next { histories[sequence] = history }
        batchSizes.append(batch.count)
        let hidden: [Float]? = batch.returnsHiddenStates
            ? [Float](repeating: 0, count: itemIndices.count * embeddingLength) : nil
        return Logits(vocabularySize: vocabularySize, values: values, itemIndices: itemIndices,
                      sequences: sequences, positions: positions, hiddenStates: hidden)
    }

    private func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
