/// An open-addressing hash table from byte strings to dense indices (insertion order), so that
/// the encoders look up slices of their input without building `String`s.
struct ByteStringTable: Sendable {
    private var storage: [UInt8] = []
    private var starts: [Int] = [0]
    private var slots: [Int32]
    private var mask: Int

    init(capacity: Int) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = [Int32](repeating: -1, count: size)
        mask = size - 1
    }

    var count: Int { starts.count - 1 }

    @inline(__always)
    private static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        var value: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            value = (value ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        return Int(truncatingIfNeeded: value ^ (value >> 29))
    }

    /// The bytes of entry `index`.
    func key(at index: Int) -> ArraySlice<UInt8> {
        storage[starts[index]..<starts[index + 1]]
    }

    /// Inserts `bytes` unless present; returns its index either way.
    @discardableResult
    mutating func insert(_ bytes: [UInt8]) -> Int {
        if let existing = bytes.withUnsafeBufferPointer({ find($0) }) { return existing }
        if count * 2 >= slots.count { grow() }
        let index = count
        storage.append(contentsOf: bytes)
        starts.append(storage.count)
        place(index, hash: bytes.withUnsafeBufferPointer(Self.hash))
        return index
    }

    private mutating func place(_ index: Int, hash: Int) {
        var slot = hash & mask
        while slots[slot] >= 0 { slot = (slot + 1) & mask }
        slots[slot] = Int32(index)
    }

    private mutating func grow() {
        slots = [Int32](repeating: -1, count: slots.count * 2)
        mask = slots.count - 1
        for index in 0..<count {
            let hash = storage.withUnsafeBufferPointer { buffer in
                Self.hash(UnsafeBufferPointer(rebasing: buffer[starts[index]..<starts[index + 1]]))
            }
            place(index, hash: hash)
        }
    }

    /// The index of `bytes`, or nil.
    @inline(__always)
    func find(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        var slot = Self.hash(bytes) & mask
        return storage.withUnsafeBufferPointer { buffer in
            while true {
                let index = Int(slots[slot])
                if index < 0 { return nil }
                let start = starts[index]
                let length = starts[index + 1] - start
                if length == bytes.count && (length == 0 || memoryEqual(buffer.baseAddress! + start, bytes.baseAddress!, length)) {
                    return index
                }
                slot = (slot + 1) & mask
            }
        }
    }

    func find(_ bytes: [UInt8]) -> Int? {
        bytes.withUnsafeBufferPointer { find($0) }
    }
}

@inline(__always)
private func memoryEqual(_ left: UnsafePointer<UInt8>, _ right: UnsafePointer<UInt8>, _ count: Int) -> Bool {
    for offset in 0..<count where left[offset] != right[offset] { return false }
    return true
}

/// An open-addressing map from a pair of 32-bit ids to a pair of 32-bit values (BPE merges:
/// (left piece, right piece) → (rank, merged piece)).
struct PairTable: Sendable {
    private var keys: [UInt64]
    private var values: [UInt64]
    private var mask: Int
    private(set) var count = 0
    private static let empty = UInt64.max

    init(capacity: Int) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        keys = [UInt64](repeating: Self.empty, count: size)
        values = [UInt64](repeating: 0, count: size)
        mask = size - 1
    }

    @inline(__always) private static func slot(_ key: UInt64, _ mask: Int) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 32) & mask
    }

    /// Inserts unless the key is present (the first merge of a pair keeps its rank).
    mutating func insertIfAbsent(left: Int32, right: Int32, first: Int32, second: Int32) {
        let key = UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
        var slot = Self.slot(key, mask)
        while keys[slot] != Self.empty {
            if keys[slot] == key { return }
            slot = (slot + 1) & mask
        }
        keys[slot] = key
        values[slot] = UInt64(UInt32(bitPattern: first)) << 32 | UInt64(UInt32(bitPattern: second))
        count += 1
    }

    @inline(__always)
    func find(left: Int32, right: Int32) -> (Int32, Int32)? {
        let key = UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
        var slot = Self.slot(key, mask)
        while true {
            let stored = keys[slot]
            if stored == key {
                let value = values[slot]
                return (Int32(truncatingIfNeeded: value >> 32), Int32(truncatingIfNeeded: value))
            }
            if stored == Self.empty { return nil }
            slot = (slot + 1) & mask
        }
    }
}
