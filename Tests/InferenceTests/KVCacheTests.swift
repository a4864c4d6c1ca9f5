import Testing
@testable import Inference

/// The paged cache's bookkeeping: sharing on fork, copy on write, rollback, release, capacity.
@Suite struct KVCacheTests {
    /// A cache of 2 layers, width 3, 4 positions per block, 8 blocks.
    func makeCache() -> PagedKVCache {
        PagedKVCache(layerCount: 2, keyValueWidth: 3, capacity: 32, blockSize: 4)
    }

    /// Appends `count` positions to `sequence`, writing `marker + position` into layer 1's keys.
    func append(_ cache: PagedKVCache, _ sequence: SequenceID, _ count: Int, marker: Float) throws {
        let start = try cache.length(of: sequence)
        let slots = try cache.appendSlots(for: Array(repeating: sequence, count: count))
        for (offset, slot) in slots.enumerated() {
            (cache.keys(layer: 1, block: slot.block) + slot.offset * 3).initialize(repeating: marker + Float(start + offset), count: 3)
        }
    }

    /// Layer 1's first key value at every position of `sequence`.
    func keys(_ cache: PagedKVCache, _ sequence: SequenceID) throws -> [Float] {
        let table = try cache.blockTable(of: sequence)
        return try (0..<cache.length(of: sequence)).map { p in
            cache.keys(layer: 1, block: table[p / 4])[(p % 4) * 3]
        }
    }

    @Test func forkSharesEveryBlockWithoutCopying() throws {
        let cache = makeCache()
        let parent = cache.makeSequence()
        try append(cache, parent, 10, marker: 100)
        #expect(cache.usedBlockCount == 3)
        let child = try cache.fork(parent)
        #expect(try cache.blockTable(of: child) == cache.blockTable(of: parent))
        #expect(cache.usedBlockCount == 3)
        for block in try cache.blockTable(of: parent) { #expect(cache.referenceCount(of: block) == 2) }
        #expect(try keys(cache, child) == keys(cache, parent))
    }

    @Test func writingIntoASharedPartialBlockCopiesItFirst() throws {
        let cache = makeCache()
        let parent = cache.makeSequence()
        try append(cache, parent, 6, marker: 100)
        let child = try cache.fork(parent)
        try append(cache, child, 3, marker: 500)
        try append(cache, parent, 1, marker: 900)
        let parentTable = try cache.blockTable(of: parent), childTable = try cache.blockTable(of: child)
        #expect(parentTable[0] == childTable[0])   // full block: still shared
        #expect(parentTable[1] != childTable[1])   // partial block: copied on write
        #expect(try keys(cache, parent) == [100, 101, 102, 103, 104, 105, 906])
        #expect(try keys(cache, child) == [100, 101, 102, 103, 104, 105, 506, 507, 508])
    }

    @Test func truncateRollsBackAndFreesBlocks() throws {
        let cache = makeCache()
        let sequence = cache.makeSequence()
        try append(cache, sequence, 13, marker: 0)
        #expect(cache.usedBlockCount == 4)
        let other = try cache.fork(sequence)
        try cache.truncate(sequence, to: 5)
        #expect(try cache.length(of: sequence) == 5 && cache.usedBlockCount == 4)
        try append(cache, sequence, 2, marker: 50)
        #expect(try keys(cache, sequence) == [0, 1, 2, 3, 4, 55, 56])
        #expect(try keys(cache, other) == (0..<13).map(Float.init))
        cache.release(other)
        // Left: the first block (no longer shared) and the copy of the second.
        #expect(cache.usedBlockCount == 2)
        #expect(try cache.blockTable(of: sequence).count == 2)
        #expect(throws: TextModelError.self) { try cache.truncate(sequence, to: 8) }
    }

    @Test func releaseReturnsBlocksForReuse() throws {
        let cache = makeCache()
        let a = cache.makeSequence()
        try append(cache, a, 32, marker: 0)
        #expect(cache.freeBlockCount == 0)
        cache.release(a)
        #expect(cache.freeBlockCount == 8 && cache.usedBlockCount == 0)
        let b = cache.makeSequence()
        try append(cache, b, 32, marker: 1)
        #expect(try keys(cache, b) == (0..<32).map { Float($0) + 1 })
    }

    @Test func capacityErrorIsTypedAndChangesNothing() throws {
        let cache = makeCache()
        let a = cache.makeSequence(), b = cache.makeSequence()
        try append(cache, a, 30, marker: 0)
        #expect(throws: TextModelError(kind: .cacheFull(neededBlocks: 2, freeBlocks: 0, capacity: 8))) {
            _ = try cache.appendSlots(for: [a, a, a, b])
        }
        #expect(try cache.length(of: a) == 30 && cache.length(of: b) == 0)
        #expect(throws: TextModelError(kind: .unknownSequence(SequenceID(rawValue: 99)))) {
            _ = try cache.fork(SequenceID(rawValue: 99))
        }
    }
}
