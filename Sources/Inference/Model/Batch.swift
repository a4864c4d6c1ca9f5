/// Identifies one sequence (one independent token history) in a text model's KV cache.
///
/// Sequences are made by `TextModel.makeSequence()` or `TextModel.fork(_:)` and are valid until
/// `TextModel.release(_:)`.
public struct SequenceID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: Int

    public init(rawValue: Int) {
        self.rawValue = rawValue
    }

    public static func < (lhs: SequenceID, rhs: SequenceID) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { "sequence \(rawValue)" }
}

/// The inputs of one forward pass: positions of one or several sequences.
///
/// A prompt is one sequence's positions `0..<n` in one batch; a decode step of N sequences is
/// N items, one per sequence. Items of the same sequence must come in order and continue that
/// sequence exactly: the first has `position == length(of: sequence)`, the next `position + 1`,
/// and so on. An item may carry a row of input embeddings (an image token) instead of a token.
public struct Batch: Sendable, Equatable {
    public enum Input: Sendable, Equatable {
        /// A token id, looked up in the model's token embedding table.
        case token(Int32)
        /// A row of `embeddingLength` floats used as that position's input embedding.
        case embedding([Float])
        /// Position `index` of an image's span in the prompt. For an image of embedding rows
        /// (LLaVA, SmolVLM) that row is the input; for a cross-attention image (mllama) the span
        /// is the one image token, whose item attaches the image to its sequence.
        case image(PromptImage, index: Int)
    }

    public struct Item: Sendable, Equatable {
        public var sequence: SequenceID
        public var position: Int
        public var input: Input
        /// Whether the forward pass returns this item's logits row.
        public var wantsLogits: Bool

        public init(sequence: SequenceID, position: Int, input: Input, wantsLogits: Bool) {
            self.sequence = sequence
            self.position = position
            self.input = input
            self.wantsLogits = wantsLogits
        }
    }

    /// Which prompt positions want logits.
    public enum LogitsRequest: Sendable, Equatable {
        case none, last, all
    }

    public var items: [Item]
    /// Whether the forward pass also returns the final hidden states (after the output norm)
    /// of the items that want logits.
    public var returnsHiddenStates: Bool

    public init(items: [Item] = [], returnsHiddenStates: Bool = false) {
        self.items = items
        self.returnsHiddenStates = returnsHiddenStates
    }

    /// A prompt (or a continuation) of one sequence: `tokens` at positions
    /// `startPosition..<startPosition + tokens.count`.
    public init(prompt tokens: [Int32], sequence: SequenceID, startPosition: Int = 0,
                logits: LogitsRequest = .last) {
        self.init()
        for (offset, token) in tokens.enumerated() {
            let wants = logits == .all || (logits == .last && offset == tokens.count - 1)
            add(token: token, sequence: sequence, position: startPosition + offset, wantsLogits: wants)
        }
    }

    public mutating func add(token: Int32, sequence: SequenceID, position: Int, wantsLogits: Bool) {
        items.append(Item(sequence: sequence, position: position, input: .token(token), wantsLogits: wantsLogits))
    }

    public mutating func add(embedding: [Float], sequence: SequenceID, position: Int, wantsLogits: Bool) {
        items.append(Item(sequence: sequence, position: position, input: .embedding(embedding), wantsLogits: wantsLogits))
    }

    public mutating func add(image: PromptImage, index: Int, sequence: SequenceID, position: Int, wantsLogits: Bool) {
        items.append(Item(sequence: sequence, position: position, input: .image(image, index: index), wantsLogits: wantsLogits))
    }

    public var count: Int { items.count }
    public var isEmpty: Bool { items.isEmpty }
}
