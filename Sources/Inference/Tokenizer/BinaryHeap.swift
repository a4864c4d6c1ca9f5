/// An element of a binary heap kept in an array: `precedes` is true when `self` must come out
/// before `other`. Both BPE and SentencePiece merge their best bigram first with it.
protocol HeapOrdered {
    func precedes(_ other: Self) -> Bool
}

extension Array where Element: HeapOrdered {
    /// Adds `element`, keeping the heap property.
    @inline(__always)
    mutating func heapPush(_ element: Element) {
        append(element)
        var child = count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard self[child].precedes(self[parent]) else { break }
            swapAt(child, parent)
            child = parent
        }
    }

    /// Removes and returns the element that precedes all others, or nil when empty.
    @inline(__always)
    mutating func heapPop() -> Element? {
        guard let last = popLast() else { return nil }
        guard !isEmpty else { return last }
        let top = self[0]
        self[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var best = parent
            if left < count && self[left].precedes(self[best]) { best = left }
            if right < count && self[right].precedes(self[best]) { best = right }
            if best == parent { break }
            swapAt(parent, best)
            parent = best
        }
        return top
    }
}
