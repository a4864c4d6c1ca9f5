import Foundation
import GGUF

/// Loads the text model in `file` (`llama` or `qwen2`). The entry point for the CLI, the
/// generator and the parity tests.
public func loadTextModel(file: GGUFFile, options: TextModelOptions = TextModelOptions()) throws(TextModelError)
    -> TransformerTextModel {
    try TransformerTextModel(file: file, options: options)
}

/// Maps and loads the text model at `path`.
public func loadTextModel(path: String, options: TextModelOptions = TextModelOptions()) throws(TextModelError)
    -> TransformerTextModel {
    let file: GGUFFile
    do {
        file = try GGUFFile(path: path)
    } catch {
        throw TextModelError(kind: .file(error))
    }
    return try loadTextModel(file: file, options: options)
}

/// The llama/qwen2 decoder: configuration (a value), weights (immutable, mmapped) and run
/// state (the paged KV cache and the forward scratch), behind the `TextModel` seam.
public final class TransformerTextModel: TextModel, @unchecked Sendable {
    public let configuration: TextModelConfiguration
    public let weights: TextModelWeights
    public let pool: ThreadPool

    // Everything below is guarded by `lock`.
    private let lock = NSLock()
    let cache: PagedKVCache
    let runState: TextModelRunState
    private var observer: ActivationObserver?

    /// Loads `file`, refusing it (before touching the weights) when weights plus a full KV
    /// cache would not fit in physical memory.
    public convenience init(file: GGUFFile, options: TextModelOptions = TextModelOptions()) throws(TextModelError) {
        let configuration = try TextModelConfiguration(file: file, contextLength: options.contextLength)
        let capacity = options.cacheCapacity ?? configuration.contextLength
        if !options.skipMemoryCheck, let available = physicalMemoryBytes() {
            let needed = file.fileSize + PagedKVCache.byteCount(
                layerCount: configuration.blockCount, keyValueWidth: configuration.keyValueWidth, capacity: capacity)
            guard needed <= available else {
                throw TextModelError(file: file.path, kind: .insufficientMemory(neededBytes: needed, availableBytes: available))
            }
        }
        let weights = try TextModelWeights(file: file, configuration: configuration)
        self.init(configuration: configuration, weights: weights, options: options)
    }

    /// A model over already-loaded weights. `options.contextLength` is ignored (the
    /// configuration carries it).
    public init(configuration: TextModelConfiguration, weights: TextModelWeights, options: TextModelOptions) {
        self.configuration = configuration
        self.weights = weights
        self.pool = ThreadPool(threadCount: options.threadCount)
        self.cache = PagedKVCache(layerCount: configuration.blockCount, keyValueWidth: configuration.keyValueWidth,
                                  capacity: max(1, options.cacheCapacity ?? configuration.contextLength))
        self.runState = TextModelRunState(configuration: configuration)
    }

    public var vocabularySize: Int { configuration.vocabularySize }
    public var embeddingLength: Int { configuration.embeddingLength }
    public var contextLength: Int { configuration.contextLength }
    public var cacheCapacity: Int { cache.capacity }

    /// Called with every named activation of later forward passes (nil: none). Slow; for
    /// debugging parity.
    public var activationObserver: ActivationObserver? {
        get { lock.withLock { observer } }
        set { lock.withLock { observer = newValue } }
    }

    /// Blocks of the cache in use and in all (for tests and statistics).
    public var cacheUsage: (usedBlocks: Int, totalBlocks: Int, blockSize: Int) {
        lock.withLock { (cache.usedBlockCount, cache.blockCapacity, cache.blockSize) }
    }

    public func makeSequence() throws(TextModelError) -> SequenceID {
        lock.withLock { cache.makeSequence() }
    }

    public func fork(_ sequence: SequenceID) throws(TextModelError) -> SequenceID {
        lock.lock()
        defer { lock.unlock() }
        return try cache.fork(sequence)
    }

    public func truncate(_ sequence: SequenceID, to length: Int) throws(TextModelError) {
        lock.lock()
        defer { lock.unlock() }
        try cache.truncate(sequence, to: length)
    }

    public func release(_ sequence: SequenceID) {
        lock.withLock { cache.release(sequence) }
    }

    public func length(of sequence: SequenceID) throws(TextModelError) -> Int {
        lock.lock()
        defer { lock.unlock() }
        return try cache.length(of: sequence)
    }

    public func forward(_ batch: Batch) throws(TextModelError) -> Logits {
        lock.lock()
        defer { lock.unlock() }
        try validate(batch)
        let slots = try cache.appendSlots(for: batch.items.map(\.sequence))
        return run(batch, slots: slots, observer: observer)
    }

    /// Checks every item before anything changes: known sequences, consecutive positions,
    /// the context limit, token ids and embedding widths.
    private func validate(_ batch: Batch) throws(TextModelError) {
        var next: [SequenceID: Int] = [:]
        for item in batch.items {
            var expected = next[item.sequence] ?? 0
            if next[item.sequence] == nil { expected = try cache.length(of: item.sequence) }
            guard item.position == expected else {
                throw TextModelError(kind: .positionMismatch(item.sequence, expected: expected, found: item.position))
            }
            guard item.position < contextLength else {
                throw TextModelError(kind: .contextFull(item.sequence, contextLength: contextLength))
            }
            switch item.input {
            case .token(let token):
                guard token >= 0, Int(token) < vocabularySize else {
                    throw TextModelError(kind: .tokenOutOfRange(token: token, vocabularySize: vocabularySize))
                }
            case .embedding(let row):
                guard row.count == embeddingLength else {
                    throw TextModelError(kind: .embeddingLengthMismatch(expected: embeddingLength, found: row.count))
                }
            }
            next[item.sequence] = expected + 1
        }
    }
}

/// Physical memory in bytes, or nil when the system does not say.
func physicalMemoryBytes() -> Int? {
    let pages = sysconf(Int32(_SC_PHYS_PAGES)), pageSize = sysconf(Int32(_SC_PAGESIZE))
    guard pages > 0, pageSize > 0 else { return nil }
    return pages * pageSize
}
