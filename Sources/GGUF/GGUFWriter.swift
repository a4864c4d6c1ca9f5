import Foundation

/// Builds a GGUF file (version 3 by default): metadata in insertion order, then tensor infos,
/// then tensor data, each tensor padded to the alignment.
///
/// Tests build their fixtures with it; a converter can stream large files with
/// `write(to:)`.
public struct GGUFWriter: Sendable {
    public struct Tensor: Sendable {
        public var name: String
        public var dimensions: [Int]
        public var type: GGMLType
        public var data: [UInt8]
    }

    public var version: UInt32
    public private(set) var alignment: Int
    public private(set) var metadata: [(key: String, value: GGUFValue)] = []
    public private(set) var tensors: [Tensor] = []

    public init(version: UInt32 = 3, alignment: Int = 32) {
        self.version = version
        self.alignment = alignment
        if alignment != 32 { set("general.alignment", .uint32(UInt32(alignment))) }
    }

    /// Sets `key`, replacing an earlier value in place.
    public mutating func set(_ key: String, _ value: GGUFValue) {
        if let index = metadata.firstIndex(where: { $0.key == key }) {
            metadata[index].value = value
        } else {
            metadata.append((key, value))
        }
        if key == "general.alignment", case .uint32(let value) = value, value > 0, value & (value - 1) == 0 {
            alignment = Int(value)
        }
    }

    public mutating func set(_ key: String, _ text: String) { set(key, .string(text)) }
    public mutating func set(_ key: String, _ number: UInt32) { set(key, .uint32(number)) }
    public mutating func set(_ key: String, _ number: Float) { set(key, .float32(number)) }
    public mutating func set(_ key: String, _ flag: Bool) { set(key, .bool(flag)) }
    public mutating func set(_ key: String, strings: [String]) { set(key, .array(.string(strings))) }

    /// Adds a tensor whose data is already encoded in `type`. The byte count must match the shape.
    public mutating func addTensor(name: String, dimensions: [Int], type: GGMLType, data: [UInt8]) throws(GGUFError) {
        let elements = dimensions.reduce(1, *)
        guard dimensions.allSatisfy({ $0 >= 0 }), let expected = type.byteCount(elementCount: UInt64(elements)) else {
            throw GGUFError(file: name, kind: .invalidDimensions(tensor: name, dimensions: dimensions.map { UInt64(max($0, 0)) }))
        }
        guard UInt64(data.count) == expected else {
            throw GGUFError(file: name, kind: .writeFailed(
                reason: "tensor '\(name)' has \(data.count) bytes of data, but \(dimensions) elements of \(type) take \(expected)"))
        }
        guard !tensors.contains(where: { $0.name == name }) else {
            throw GGUFError(file: name, kind: .duplicateTensor(name))
        }
        tensors.append(Tensor(name: name, dimensions: dimensions, type: type, data: data))
    }

    /// Adds an F32 tensor.
    public mutating func addTensor(name: String, dimensions: [Int], values: [Float]) throws(GGUFError) {
        var bytes = [UInt8](repeating: 0, count: values.count * 4)
        for (index, value) in values.enumerated() {
            let bits = value.bitPattern.littleEndian
            bytes[4 * index] = UInt8(truncatingIfNeeded: bits)
            bytes[4 * index + 1] = UInt8(truncatingIfNeeded: bits >> 8)
            bytes[4 * index + 2] = UInt8(truncatingIfNeeded: bits >> 16)
            bytes[4 * index + 3] = UInt8(truncatingIfNeeded: bits >> 24)
        }
        try addTensor(name: name, dimensions: dimensions, type: .f32, data: bytes)
    }

    /// The whole file as bytes.
    public func serialized() -> [UInt8] {
        var out = Self.header(version: version, alignment: alignment, metadata: metadata,
                              tensors: tensors.map { ($0.name, $0.dimensions, $0.type, $0.data.count) })
        for tensor in tensors {
            out.append(contentsOf: tensor.data)
            out.append(contentsOf: [UInt8](repeating: 0, count: padded(tensor.data.count) - tensor.data.count))
        }
        return out
    }

    /// Writes the file atomically (to a temporary name, then renamed).
    public func write(to path: String) throws(GGUFError) {
        do {
            try Data(serialized()).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw GGUFError(file: path, kind: .writeFailed(reason: error.localizedDescription))
        }
    }

    private func padded(_ count: Int) -> Int { (count + alignment - 1) / alignment * alignment }

    /// Magic, counts, metadata and tensor infos (each tensor's data padded to `alignment`),
    /// padded up to the start of the data section.
    static func header(version: UInt32, alignment: Int, metadata: [(key: String, value: GGUFValue)],
                       tensors: [(name: String, dimensions: [Int], type: GGMLType, byteCount: Int)]) -> [UInt8] {
        let writer = GGUFWriter(version: version, alignment: alignment)
        func padded(_ count: Int) -> Int { (count + alignment - 1) / alignment * alignment }
        var out: [UInt8] = []
        out.append(contentsOf: Array("GGUF".utf8))
        writer.append(version, to: &out)
        writer.append(UInt64(tensors.count), to: &out)
        writer.append(UInt64(metadata.count), to: &out)
        for (key, value) in metadata {
            writer.appendString(key, to: &out)
            writer.append(value.type.rawValue, to: &out)
            writer.appendValue(value, to: &out)
        }
        var offset: UInt64 = 0
        for tensor in tensors {
            writer.appendString(tensor.name, to: &out)
            writer.append(UInt32(tensor.dimensions.count), to: &out)
            for dimension in tensor.dimensions { writer.append(UInt64(dimension), to: &out) }
            writer.append(tensor.type.rawValue, to: &out)
            writer.append(offset, to: &out)
            offset += UInt64(padded(tensor.byteCount))
        }
        out.append(contentsOf: [UInt8](repeating: 0, count: padded(out.count) - out.count))
        return out
    }

    func append<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }

    func appendString(_ text: String, to out: inout [UInt8]) {
        append(UInt64(text.utf8.count), to: &out)
        out.append(contentsOf: text.utf8)
    }

    func appendValue(_ value: GGUFValue, to out: inout [UInt8]) {
        switch value {
        case .uint8(let v): append(v, to: &out)
        case .int8(let v): append(v, to: &out)
        case .uint16(let v): append(v, to: &out)
        case .int16(let v): append(v, to: &out)
        case .uint32(let v): append(v, to: &out)
        case .int32(let v): append(v, to: &out)
        case .float32(let v): append(v.bitPattern, to: &out)
        case .bool(let v): append(UInt8(v ? 1 : 0), to: &out)
        case .string(let v): appendString(v, to: &out)
        case .uint64(let v): append(v, to: &out)
        case .int64(let v): append(v, to: &out)
        case .float64(let v): append(v.bitPattern, to: &out)
        case .array(let array): appendArray(array, to: &out)
        }
    }

    func appendArray(_ array: GGUFArray, to out: inout [UInt8]) {
        append(array.elementType.rawValue, to: &out)
        append(UInt64(array.count), to: &out)
        switch array {
        case .uint8(let a): a.forEach { append($0, to: &out) }
        case .int8(let a): a.forEach { append($0, to: &out) }
        case .uint16(let a): a.forEach { append($0, to: &out) }
        case .int16(let a): a.forEach { append($0, to: &out) }
        case .uint32(let a): a.forEach { append($0, to: &out) }
        case .int32(let a): a.forEach { append($0, to: &out) }
        case .float32(let a): a.forEach { append($0.bitPattern, to: &out) }
        case .bool(let a): a.forEach { append(UInt8($0 ? 1 : 0), to: &out) }
        case .string(let a): a.forEach { appendString($0, to: &out) }
        case .uint64(let a): a.forEach { append($0, to: &out) }
        case .int64(let a): a.forEach { append($0, to: &out) }
        case .float64(let a): a.forEach { append($0.bitPattern, to: &out) }
        case .array(let a): a.forEach { appendArray($0, to: &out) }
        }
    }
}
