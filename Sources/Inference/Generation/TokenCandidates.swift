import Foundation

/// The tokens still in the running during one sampling step, with their (penalised, later
/// temperature-scaled) logits. Either the whole vocabulary in id order (`sorted == false`,
/// then `ids[i] == i`) or a prefix of the ranking: logit descending, lower id first on ties.
struct TokenCandidates: Sendable {
    private(set) var ids: [Int32] = []
    private(set) var logits: [Float] = []
    private(set) var sorted = false
    private var weights: [Float] = []

    var count: Int { ids.count }

    /// Starts from a row: the `topK` best tokens, ranked, or (with `topK ≤ 0` or at least the
    /// vocabulary size) every token in id order. NaN logits count as −∞.
    mutating func load(_ row: UnsafeBufferPointer<Float>, topK: Int) {
        ids.removeAll(keepingCapacity: true)
        logits.removeAll(keepingCapacity: true)
        if topK > 0 && topK < row.count {
            ids = Self.ranking(row, first: topK)
            for id in ids { logits.append(Self.clean(row[Int(id)])) }
            sorted = true
        } else {
            ids.reserveCapacity(row.count)
            logits.reserveCapacity(row.count)
            for index in row.indices {
                ids.append(Int32(index))
                logits.append(Self.clean(row[index]))
            }
            sorted = false
        }
    }

    /// Keeps the smallest ranked prefix whose probabilities (softmax over the current
    /// candidates) add up to at least `p`; always at least one token.
    mutating func keepTopP(_ p: Float) {
        guard count > 1 else { return }
        let maximum = sorted ? logits[0] : logits.withUnsafeBufferPointer(LogitMath.maximum)
        guard maximum.isFinite else { return }
        if weights.count < count { weights = [Float](repeating: 0, count: count) }
        let total = logits.withUnsafeBufferPointer { row in
            weights.withUnsafeMutableBufferPointer { LogitMath.exponentials(row, minus: maximum, into: $0) }
        }
        let scale = Float(1 / total)
        func cut(in order: some Collection<Int32>) -> Int? {
            var cumulative: Float = 0
            for (position, id) in order.enumerated() {
                cumulative += weights[sorted ? position : Int(id)] * scale
                if cumulative >= p { return position + 1 }
            }
            return nil
        }
        if sorted {
            let keep = cut(in: ids) ?? count
            truncate(to: keep)
            return
        }
        // Unsorted vocabulary: rank only the tokens within `delta` of the best logit, widening
        // `delta` until they hold at least `p` of the mass (usually a few hundred tokens).
        var ranked: [Int32] = []
        var keep: Int?
        var delta: Float = 1
        while keep == nil {
            let threshold = delta > 128 ? -Float.infinity : maximum - delta
            let mass = logits.withUnsafeBufferPointer { row in
                weights.withUnsafeBufferPointer { LogitMath.sum($0, where: row, atLeast: threshold) }
            }
            if mass / total >= Double(p) || threshold == -.infinity {
                ranked = logits.withUnsafeBufferPointer { Self.ranking($0, atLeast: threshold) }
                keep = cut(in: ranked) ?? (threshold == -.infinity ? ranked.count : nil)
            }
            delta *= 2
        }
        let prefix = ranked.prefix(keep ?? ranked.count)
        let keptLogits = prefix.map { logits[Int($0)] }
        ids = Array(prefix)
        logits = keptLogits
        sorted = true
    }

    /// Keeps tokens whose probability is at least `p` times the largest: logit ≥ max + log p.
    mutating func keepMinP(_ p: Float) {
        guard count > 1 else { return }
        let maximum = sorted ? logits[0] : logits.withUnsafeBufferPointer(LogitMath.maximum)
        let threshold = maximum + Foundation.log(p)
        if sorted {
            let keep = logits.firstIndex { $0 < threshold } ?? count
            truncate(to: max(1, keep))
            return
        }
        var kept = 0
        for index in 0..<count where logits[index] >= threshold {
            ids[kept] = ids[index]
            logits[kept] = logits[index]
            kept += 1
        }
        if kept > 0 { truncate(to: kept) }
    }

    mutating func divide(by temperature: Float) {
        for index in logits.indices { logits[index] /= temperature }
    }

    /// Draws one candidate with probability softmax(logits), walking the candidates in their
    /// current order until the running sum reaches `uniform × total`.
    mutating func draw(uniform: Double) -> Int32 {
        guard count > 1 else { return ids.first ?? 0 }
        let maximum = sorted ? logits[0] : logits.withUnsafeBufferPointer(LogitMath.maximum)
        guard maximum.isFinite else { return ids[0] }
        if weights.count < count { weights = [Float](repeating: 0, count: count) }
        let total = logits.withUnsafeBufferPointer { row in
            weights.withUnsafeMutableBufferPointer { LogitMath.exponentials(row, minus: maximum, into: $0) }
        }
        let target = total * uniform
        var running = 0.0
        for index in 0..<count {
            running += Double(weights[index])
            if running >= target && weights[index] > 0 { return ids[index] }
        }
        return ids[(0..<count).last { weights[$0] > 0 } ?? 0]
    }

    private mutating func truncate(to length: Int) {
        let excess = count - length
        if excess > 0 {
            ids.removeLast(excess)
            logits.removeLast(excess)
        }
    }

    @inline(__always)
    private static func clean(_ logit: Float) -> Float { logit.isNaN ? -.infinity : logit }

    /// The ids of the entries whose logit is at least `threshold` (all of them, NaN last, for
    /// −∞), ranked. Sorts packed integer keys: the logit's bits made order-preserving and
    /// inverted (high 32 bits), then the id (low 32 bits).
    static func ranking(_ row: UnsafeBufferPointer<Float>, atLeast threshold: Float) -> [Int32] {
        var keys: [UInt64] = []
        for index in row.indices where threshold == -.infinity || row[index] >= threshold {
            let bits = clean(row[index]).bitPattern
            let ascending = bits & 0x8000_0000 != 0 ? ~bits : bits | 0x8000_0000
            keys.append(UInt64(~ascending) << 32 | UInt64(index))
        }
        keys.sort()
        return keys.map { Int32(truncatingIfNeeded: $0) }
    }

    /// The ids of the `first` best entries of `row` (id = index), ranked: logit descending,
    /// lower id first on ties; NaN last. A heap of `first` entries whose worst is the bar every
    /// other logit must beat; 16 logits at a time are skipped while none beats it.
    static func ranking(_ row: UnsafeBufferPointer<Float>, first k: Int) -> [Int32] {
        let n = row.count
        let k = min(k, n)
        guard k > 0 else { return [] }
        if k * 4 >= n {
            return Array(ranking(row, atLeast: -.infinity).prefix(k))
        }
        var heap = MinimumHeap(capacity: k)
        for index in 0..<k { heap.insert(id: Int32(index), logit: clean(row[index])) }
        var index = k
        let width = LogitMath.Vector.scalarCount
        while index < n {
            if index % width == 0 && index + width <= n
                && !any(LogitMath.load(row, index) .> LogitMath.Vector(repeating: heap.worstLogit)) {
                index += width
                continue
            }
            // Ids arrive in increasing order, so a tie never beats what the heap holds.
            if row[index] > heap.worstLogit { heap.replaceWorst(id: Int32(index), logit: row[index]) }
            index += 1
        }
        return heap.rankedIDs()
    }
}

/// A fixed-size binary heap of (id, logit) whose root is the worst entry: lowest logit, and
/// among equal logits the highest id. Used to pick the best k of a vocabulary in one pass.
struct MinimumHeap {
    private var ids: [Int32] = []
    private var logits: [Float] = []

    init(capacity: Int) {
        ids.reserveCapacity(capacity)
        logits.reserveCapacity(capacity)
    }

    var worstLogit: Float { logits[0] }

    @inline(__always)
    private func isWorse(_ a: Int, than b: Int) -> Bool {
        logits[a] < logits[b] || (logits[a] == logits[b] && ids[a] > ids[b])
    }

    mutating func insert(id: Int32, logit: Float) {
        ids.append(id)
        logits.append(logit)
        var child = ids.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard isWorse(child, than: parent) else { break }
            ids.swapAt(child, parent)
            logits.swapAt(child, parent)
            child = parent
        }
    }

    mutating func replaceWorst(id: Int32, logit: Float) {
        ids[0] = id
        logits[0] = logit
        var parent = 0
        let n = ids.count
        while true {
            let left = 2 * parent + 1
            guard left < n else { break }
            var worst = left
            if left + 1 < n && isWorse(left + 1, than: left) { worst = left + 1 }
            guard isWorse(worst, than: parent) else { break }
            ids.swapAt(worst, parent)
            logits.swapAt(worst, parent)
            parent = worst
        }
    }

    /// The ids, best first.
    func rankedIDs() -> [Int32] {
        zip(ids, logits).sorted { $0.1 > $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }.map(\.0)
    }
}
