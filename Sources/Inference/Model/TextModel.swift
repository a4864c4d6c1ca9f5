/// A decoder-only text model together with the KV cache it owns: the seam that sampling,
/// generation, vision and beam search call.
///
/// The model holds any number of sequences in one cache. A prompt is prefilled by one
/// `forward` call; N sequences advance one token each in one call. `fork` starts a new sequence
/// that shares its parent's cached prefix (no copy); `truncate` rolls a sequence back.
///
/// Calls are serialised by the model: it is safe to share across tasks, but one forward pass
/// runs at a time (each already uses every thread of the model's pool).
///
/// The real implementation is `TransformerTextModel` (`loadTextModel(file:options:)`); tests of
/// later layers use `FakeTextModel`.
public protocol TextModel: AnyObject, Sendable {
    /// Valid token ids are `0..<vocabularySize`; each logits row has this many entries.
    var vocabularySize: Int { get }
    /// The width of an input embedding row (`Batch.Input.embedding`) and of a hidden state.
    var embeddingLength: Int { get }
    /// The most positions one sequence may hold.
    var contextLength: Int { get }
    /// The most positions the cache holds over all sequences (shared prefixes counted once).
    var cacheCapacity: Int { get }

    /// A new, empty sequence.
    func makeSequence() throws(TextModelError) -> SequenceID
    /// A new sequence whose history is `sequence`'s, sharing its cached positions.
    func fork(_ sequence: SequenceID) throws(TextModelError) -> SequenceID
    /// Drops every position of `sequence` at or after `length`.
    func truncate(_ sequence: SequenceID, to length: Int) throws(TextModelError)
    /// Frees `sequence`; unknown ids are ignored.
    func release(_ sequence: SequenceID)
    /// The number of positions `sequence` holds (its next position).
    func length(of sequence: SequenceID) throws(TextModelError) -> Int

    /// Runs the batch, appends its positions to their sequences' caches and returns the logits
    /// of the items that asked for them. On error, no sequence changes.
    func forward(_ batch: Batch) throws(TextModelError) -> Logits
}

/// How to load a text model.
public struct TextModelOptions: Sendable, Equatable {
    /// The most positions per sequence; nil means the model's trained context length capped
    /// at `defaultContextLimit`.
    public var contextLength: Int?
    /// The most positions in the cache over all sequences; nil means `contextLength`.
    public var cacheCapacity: Int?
    /// Threads for matmuls and attention.
    public var threadCount: Int
    /// Skip the check that weights plus cache fit in physical memory.
    public var skipMemoryCheck: Bool
    /// Bytes loaded alongside the text model (a vision projector), counted in that check.
    public var reservedBytes: Int = 0
    /// Repack the weights whose type has an outer-product kernel on this CPU (Q8_0, Q4_0, Q4_K,
    /// Q6_K, F16, BF16 with AVX-512 VNNI) at load, releasing their mapped pages; off keeps every weight
    /// mapped in the file's layout.
    public var repacksWeights = true

    /// The default cap on the context length when the caller sets none (llama.cpp's default).
    public static let defaultContextLimit = 4096

    public init(contextLength: Int? = nil, cacheCapacity: Int? = nil, threadCount: Int = 1,
                skipMemoryCheck: Bool = false) {
        self.contextLength = contextLength
        self.cacheCapacity = cacheCapacity
        self.threadCount = threadCount
        self.skipMemoryCheck = skipMemoryCheck
    }
}
