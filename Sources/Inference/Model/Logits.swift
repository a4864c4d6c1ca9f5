/// The result of a forward pass: one row of `vocabularySize` logits for every batch item that
/// asked for logits, in batch order.
public struct Logits: Sendable, Equatable {
    public let vocabularySize: Int
    /// `[rowCount × vocabularySize]`, row-major.
    public let values: [Float]
    /// For each row, the index of its item in the batch.
    public let itemIndices: [Int]
    /// For each row, the sequence and position of its item.
    public let sequences: [SequenceID]
    public let positions: [Int]
    /// `[rowCount × embeddingLength]` final hidden states (after the output norm), when the
    /// batch asked for them.
    public let hiddenStates: [Float]?

    public init(vocabularySize: Int, values: [Float], itemIndices: [Int], sequences: [SequenceID],
                positions: [Int], hiddenStates: [Float]? = nil) {
        precondition(values.count == itemIndices.count * vocabularySize
                     && sequences.count == itemIndices.count && positions.count == itemIndices.count,
                     "Logits: \(values.count) values do not match \(itemIndices.count) rows of \(vocabularySize)")
        self.vocabularySize = vocabularySize
        self.values = values
        self.itemIndices = itemIndices
        self.sequences = sequences
        self.positions = positions
        self.hiddenStates = hiddenStates
    }

    public var rowCount: Int { itemIndices.count }

    /// Row `index` (`0..<rowCount`).
    public func row(_ index: Int) -> ArraySlice<Float> {
        values[(index * vocabularySize)..<((index + 1) * vocabularySize)]
    }

    /// The row of batch item `itemIndex`, or nil when that item did not ask for logits.
    public func row(forItem itemIndex: Int) -> ArraySlice<Float>? {
        itemIndices.firstIndex(of: itemIndex).map { row($0) }
    }

    /// The row of the last item of `sequence` that asked for logits, or nil.
    public func lastRow(for sequence: SequenceID) -> ArraySlice<Float>? {
        sequences.lastIndex(of: sequence).map { row($0) }
    }

    /// The hidden-state row `index`, when the batch asked for hidden states.
    public func hiddenState(_ index: Int) -> ArraySlice<Float>? {
        guard let hiddenStates, rowCount > 0 else { return nil }
        let width = hiddenStates.count / rowCount
        return hiddenStates[(index * width)..<((index + 1) * width)]
    }
}
