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
    /// The images attached to each sequence that has any, by position (cross-attention models).
    var attachedImages: [SequenceID: [AttachedImage]] = [:]
    /// The image spans of each sequence that has any, for M-RoPE positions (qwen2vl).
    var mropeSpans: [SequenceID: [MRopeSpan]] = [:]
    /// The cross-attention K/V of the images seen last, so that a new sequence showing the same
    /// image (a judge prompt, the next turn) does not compute them again.
    var recentImages: [(image: PromptImage, attached: AttachedImage)] = []
    /// How many times image K/V were computed (for tests and statistics).
    public internal(set) var imageKeyValueComputations = 0

    /// Loads `file`, refusing it (before touching the weights) when weights plus a full KV
    /// cache would not fit in physical memory.
    public convenience init(file: GGUFFile, options: TextModelOptions = TextModelOptions()) throws(TextModelError) {
        let configuration = try TextModelConfiguration(file: file, contextLength: options.contextLength)
        let capacity = options.cacheCapacity ?? configuration.contextLength
        if !options.skipMemoryCheck, let available = physicalMemoryBytes() {
            let needed = file.fileSize + options.reservedBytes + PagedKVCache.byteCount(
                layerCount: configuration.cachedLayerCount, keyValueWidth: configuration.keyValueWidth, capacity: capacity)
            guard needed <= available else {
                throw TextModelError(file: file.path, kind: .insufficientMemory(neededBytes: needed, availableBytes: available))
            }
        }
        let weights = try TextModelWeights(file: file, configuration: configuration, repack: options.repacksWeights)
        self.init(configuration: configuration, weights: weights, options: options)
    }

    /// A model over already-loaded weights. `options.contextLength` is ignored (the
    /// configuration carries it).
    public init(configuration: TextModelConfiguration, weights: TextModelWeights, options: TextModelOptions) {
        self.configuration = configuration
        self.weights = weights
        self.pool = ThreadPool(threadCount: options.threadCount)
        self.cache = PagedKVCache(layerCount: max(1, configuration.cachedLayerCount), keyValueWidth: configuration.keyValueWidth,
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
        let child = try cache.fork(sequence)
        if let images = attachedImages[sequence] { attachedImages[child] = images }
        if let spans = mropeSpans[sequence] { mropeSpans[child] = spans }
        return child
    }

    public func truncate(_ sequence: SequenceID, to length: Int) throws(TextModelError) {
        lock.lock()
        defer { lock.unlock() }
        try cache.truncate(sequence, to: length)
        if let images = attachedImages[sequence] {
            let kept = images.filter { $0.position < length }
            attachedImages[sequence] = kept.isEmpty ? nil : kept
        }
        if let spans = mropeSpans[sequence] {
            let kept = spans.filter { $0.start < length }
            mropeSpans[sequence] = kept.isEmpty ? nil : kept
        }
    }

    public func release(_ sequence: SequenceID) {
        lock.withLock {
            cache.release(sequence)
            attachedImages[sequence] = nil
            mropeSpans[sequence] = nil
        }
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
            case .image(let image, let index):
                try validate(image, index: index)
            }
            next[item.sequence] = expected + 1
        }
    }
}

extension TransformerTextModel {
    /// An image item fits the family: embedding rows for models without cross-attention, the
    /// one image token of a cross-attention image for those with it.
    private func validate(_ image: PromptImage, index: Int) throws(TextModelError) {
        guard index >= 0, index < image.spanLength else {
            throw TextModelError(kind: .imageInput(reason: "index \(index) is outside the \(image)"))
        }
        let crossAttention = !configuration.crossAttentionLayers.isEmpty
        switch image.content {
        case .embeddings(_, let width):
            guard !crossAttention else {
                throw TextModelError(kind: .imageInput(reason: "this \(configuration.architecture.rawValue) model reads images through cross-attention, not as embedding rows"))
            }
            guard width == embeddingLength else {
                throw TextModelError(kind: .embeddingLengthMismatch(expected: embeddingLength, found: width))
            }
        case .crossAttention(let states):
            guard crossAttention else {
                throw TextModelError(kind: .imageInput(reason: "this \(configuration.architecture.rawValue) model has no cross-attention layers"))
            }
            guard states.width == embeddingLength else {
                throw TextModelError(kind: .embeddingLengthMismatch(expected: embeddingLength, found: states.width))
            }
            guard configuration.embeddingRowCount > configuration.vocabularySize else {
                throw TextModelError(kind: .imageInput(reason: "the token embedding table has no row for the image token"))
            }
        }
    }
}

/// Physical memory in bytes, or nil when the system does not say.
func physicalMemoryBytes() -> Int? {
    let pages = sysconf(Int32(_SC_PHYS_PAGES)), pageSize = sysconf(Int32(_SC_PAGESIZE))
    guard pages > 0, pageSize > 0 else { return nil }
    return pages * pageSize
}
