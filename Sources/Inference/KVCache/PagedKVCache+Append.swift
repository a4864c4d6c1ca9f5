extension PagedKVCache {
    /// Blocks `sequence` needs to grow by `count` positions: new blocks past its last one, plus
    /// one copy when its last block is shared and partially filled.
    func blocksNeeded(_ sequence: SequenceID, growingBy count: Int) throws(TextModelError) -> Int {
        let state = try state(of: sequence)
        guard count > 0 else { return 0 }
        let have = state.blocks.count
        let need = (state.length + count + blockSize - 1) / blockSize
        let copies = state.length % blockSize != 0 && referenceCount(of: state.blocks[have - 1]) > 1 ? 1 : 0
        return need - have + copies
    }

    /// Reserves the next positions of the sequences named by `items` (one entry per new
    /// position, in order) and returns where each is written. All or nothing: when the cache
    /// cannot hold them, it throws `cacheFull` and changes nothing.
    public func appendSlots(for items: [SequenceID]) throws(TextModelError) -> [Slot] {
        var counts: [SequenceID: Int] = [:]
        for sequence in items { counts[sequence, default: 0] += 1 }
        var needed = 0
        for (sequence, count) in counts { needed += try blocksNeeded(sequence, growingBy: count) }
        guard needed <= freeBlockCount else {
            throw TextModelError(kind: .cacheFull(neededBlocks: needed, freeBlocks: freeBlockCount, capacity: blockCapacity))
        }
        for sequence in counts.keys { makeLastBlockWritable(sequence) }
        var slots: [Slot] = []
        slots.reserveCapacity(items.count)
        for sequence in items {
            var state = sequences[sequence]!
            let position = state.length
            if position / blockSize == state.blocks.count { state.blocks.append(takeBlock()) }
            state.length += 1
            sequences[sequence] = state
            slots.append(Slot(block: state.blocks[position / blockSize], offset: position % blockSize))
        }
        return slots
    }

    /// Copy on write: gives `sequence` its own copy of a shared, partially filled last block.
    private func makeLastBlockWritable(_ sequence: SequenceID) {
        guard var state = sequences[sequence], state.length % blockSize != 0,
              let last = state.blocks.last, referenceCount(of: last) > 1 else { return }
        let copy = takeBlock()
        keys(layer: 0, block: copy).update(from: keys(layer: 0, block: last), count: floatsPerBlock)
        releaseBlock(last)
        state.blocks[state.blocks.count - 1] = copy
        sequences[sequence] = state
    }
}
