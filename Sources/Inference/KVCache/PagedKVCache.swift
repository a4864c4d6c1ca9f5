/// A paged f32 KV cache that serves several sequences.
///
/// Storage is a pool of blocks of `blockSize` positions. Each block holds, for every layer,
/// the keys and the values of its positions: `[layerCount][2][blockSize][keyValueWidth]` floats.
/// A sequence is a block table plus a length; position p lives in block `table[p / blockSize]`
/// at offset `p % blockSize`. Blocks are reference counted: `fork` shares every block of the
/// parent, and the first write into a shared, partially filled last block copies it first
/// (copy on write), so a shared prefix is never copied. Block memory is allocated lazily, on
/// first use, and reused after release.
///
/// Not thread-safe: its owner (a text model) serialises calls.
public final class PagedKVCache {
    /// Where one new position is written.
    public struct Slot: Sendable, Equatable {
        public var block: Int
        public var offset: Int
    }

    struct SequenceState {
        var blocks: [Int]
        var length: Int
    }

    public let layerCount: Int
    /// Floats per position per layer for keys (and for values): kv heads × head dimension.
    public let keyValueWidth: Int
    /// Positions per block.
    public let blockSize: Int
    /// The most blocks the cache may hold.
    public let blockCapacity: Int

    /// Allocated block memory, `[layerCount × 2 × blockSize × keyValueWidth]` floats each.
    private var storage: [UnsafeMutablePointer<Float>] = []
    private var referenceCounts: [Int] = []
    private var freeBlocks: [Int] = []
    var sequences: [SequenceID: SequenceState] = [:]
    private var nextSequence = 0

    /// A cache of at least `capacity` positions over all sequences.
    public init(layerCount: Int, keyValueWidth: Int, capacity: Int, blockSize: Int = 16) {
        precondition(layerCount > 0 && keyValueWidth > 0 && capacity > 0 && blockSize > 0)
        self.layerCount = layerCount
        self.keyValueWidth = keyValueWidth
        self.blockSize = blockSize
        self.blockCapacity = (capacity + blockSize - 1) / blockSize
    }

    deinit {
        for block in storage { block.deallocate() }
    }

    /// Positions the cache can hold over all sequences.
    public var capacity: Int { blockCapacity * blockSize }
    /// Floats in one block.
    public var floatsPerBlock: Int { layerCount * 2 * blockSize * keyValueWidth }
    /// Bytes the cache takes when every block is in use.
    public static func byteCount(layerCount: Int, keyValueWidth: Int, capacity: Int, blockSize: Int = 16) -> Int {
        (capacity + blockSize - 1) / blockSize * blockSize * layerCount * 2 * keyValueWidth * MemoryLayout<Float>.size
    }

    /// Blocks not used by any sequence (allocated or not yet).
    public var freeBlockCount: Int { freeBlocks.count + blockCapacity - storage.count }
    /// Blocks used by at least one sequence.
    public var usedBlockCount: Int { blockCapacity - freeBlockCount }
    public var sequenceIDs: [SequenceID] { sequences.keys.sorted() }

    // MARK: Sequences

    public func makeSequence() -> SequenceID {
        let sequence = SequenceID(rawValue: nextSequence)
        nextSequence += 1
        sequences[sequence] = SequenceState(blocks: [], length: 0)
        return sequence
    }

    public func fork(_ parent: SequenceID) throws(TextModelError) -> SequenceID {
        let state = try self.state(of: parent)
        for block in state.blocks { referenceCounts[block] += 1 }
        let child = SequenceID(rawValue: nextSequence)
        nextSequence += 1
        sequences[child] = state
        return child
    }

    public func truncate(_ sequence: SequenceID, to length: Int) throws(TextModelError) {
        var state = try self.state(of: sequence)
        guard length >= 0, length <= state.length else {
            throw TextModelError(kind: .invalidTruncation(sequence, length: length, sequenceLength: state.length))
        }
        let keep = (length + blockSize - 1) / blockSize
        for block in state.blocks[keep...] { releaseBlock(block) }
        state.blocks.removeSubrange(keep...)
        state.length = length
        sequences[sequence] = state
    }

    public func release(_ sequence: SequenceID) {
        guard let state = sequences.removeValue(forKey: sequence) else { return }
        for block in state.blocks { releaseBlock(block) }
    }

    public func length(of sequence: SequenceID) throws(TextModelError) -> Int {
        try state(of: sequence).length
    }

    /// The block table of `sequence`: block `i` holds positions `i·blockSize ..< (i+1)·blockSize`.
    public func blockTable(of sequence: SequenceID) throws(TextModelError) -> [Int] {
        try state(of: sequence).blocks
    }

    /// The reference count of `block` (0 when free); for tests.
    public func referenceCount(of block: Int) -> Int {
        block < referenceCounts.count ? referenceCounts[block] : 0
    }

    func state(of sequence: SequenceID) throws(TextModelError) -> SequenceState {
        guard let state = sequences[sequence] else { throw TextModelError(kind: .unknownSequence(sequence)) }
        return state
    }

    // MARK: Storage

    /// Keys of `layer` in `block`: `[blockSize × keyValueWidth]`.
    @inline(__always)
    public func keys(layer: Int, block: Int) -> UnsafeMutablePointer<Float> {
        storage[block] + (2 * layer) * blockSize * keyValueWidth
    }

    /// Values of `layer` in `block`: `[blockSize × keyValueWidth]`.
    @inline(__always)
    public func values(layer: Int, block: Int) -> UnsafeMutablePointer<Float> {
        storage[block] + (2 * layer + 1) * blockSize * keyValueWidth
    }

    /// A free block with reference count 1. Callers checked `freeBlockCount` first.
    func takeBlock() -> Int {
        if let block = freeBlocks.popLast() {
            referenceCounts[block] = 1
            return block
        }
        let memory = UnsafeMutablePointer<Float>.allocate(capacity: floatsPerBlock)
        memory.initialize(repeating: 0, count: floatsPerBlock)
        storage.append(memory)
        referenceCounts.append(1)
        return storage.count - 1
    }

    func releaseBlock(_ block: Int) {
        referenceCounts[block] -= 1
        if referenceCounts[block] == 0 { freeBlocks.append(block) }
    }
}
