/// Parses and validates the bytes of a GGUF file. Pure: no I/O, no global state.
enum GGUFParser {
    struct Result {
        var version: UInt32
        var metadata: [(key: String, value: GGUFValue)]
        var tensors: [GGUFTensorInfo]
        var alignment: Int
        var dataOffset: Int
    }

    static let defaultAlignment = 32
    /// Deeper nesting than this is refused, so a crafted file cannot exhaust the stack.
    static let maximumNesting = 16
    /// ggml's GGML_MAX_NAME is 64 including the terminating NUL.
    static let maximumTensorNameLength = 63
    static let maximumDimensions = 4

    static func parse(_ bytes: UnsafeRawBufferPointer, file: String) throws(GGUFError) -> Result {
        var reader = ByteReader(bytes: bytes, file: file)
        guard bytes.count > 0 else { throw reader.error(.emptyFile) }

        let magic = Array(try reader.readBytes(min(4, bytes.count), "the magic number"))
        guard magic == Array("GGUF".utf8) else { throw reader.error(.badMagic(found: magic), at: 0) }

        let versionOffset = reader.offset
        let version = try reader.read(UInt32.self, "the version")
        guard version == 2 || version == 3 else {
            throw reader.error(.unsupportedVersion(version), at: versionOffset)
        }

        // Each tensor info takes at least 24 bytes (empty name, 0 dims, type, offset);
        // each key/value at least 13 (empty key, type, one-byte value).
        let tensorCount = try reader.readCount("the tensor count", minimumSize: 24)
        let metadataCount = try reader.readCount("the metadata count", minimumSize: 13)

        var metadata: [(key: String, value: GGUFValue)] = []
        metadata.reserveCapacity(metadataCount)
        var seenKeys = Set<String>()
        for index in 0..<metadataCount {
            let keyOffset = reader.offset
            let key = try reader.readString("metadata key \(index)")
            guard seenKeys.insert(key).inserted else { throw reader.error(.duplicateKey(key), at: keyOffset) }
            let value = try readValue(&reader, key: key)
            metadata.append((key, value))
        }

        var alignment = defaultAlignment
        if let entry = metadata.first(where: { $0.key == "general.alignment" }) {
            guard case .uint32(let value) = entry.value else {
                throw GGUFError(file: file, kind: .typeMismatch(key: "general.alignment", expected: "u32",
                                                               found: entry.value.typeDescription))
            }
            guard value != 0, value & (value - 1) == 0 else {
                throw GGUFError(file: file, kind: .invalidAlignment(String(value)))
            }
            alignment = Int(value)
        }

        var tensors: [GGUFTensorInfo] = []
        tensors.reserveCapacity(tensorCount)
        var pending: [(info: PendingTensor, at: Int)] = []
        pending.reserveCapacity(tensorCount)
        var seenNames = Set<String>()
        for index in 0..<tensorCount {
            let start = reader.offset
            let tensor = try readTensorInfo(&reader, index: index)
            guard seenNames.insert(tensor.name).inserted else {
                throw reader.error(.duplicateTensor(tensor.name), at: start)
            }
            pending.append((tensor, start))
        }

        // The data section starts at the next multiple of the alignment.
        let infosEnd = reader.offset
        let (padded, overflow) = infosEnd.addingReportingOverflow(alignment - 1)
        let dataOffset = overflow ? Int.max : padded / alignment * alignment
        if tensorCount > 0 && dataOffset > bytes.count {
            throw reader.error(.truncated(what: "the padding before the tensor data",
                                          needed: UInt64(dataOffset - infosEnd),
                                          available: UInt64(bytes.count - infosEnd)))
        }

        for (tensor, infoOffset) in pending {
            guard tensor.offset % UInt64(alignment) == 0 else {
                throw reader.error(.misalignedTensor(tensor: tensor.name, offset: tensor.offset, alignment: alignment),
                                   at: infoOffset)
            }
            let (start, overflowStart) = UInt64(dataOffset).addingReportingOverflow(tensor.offset)
            let (end, overflowEnd) = start.addingReportingOverflow(tensor.byteCount)
            guard !overflowStart, !overflowEnd, end <= UInt64(bytes.count) else {
                throw reader.error(.tensorOutOfBounds(tensor: tensor.name,
                                                      end: overflowStart || overflowEnd ? UInt64.max : end,
                                                      fileSize: UInt64(bytes.count)),
                                   at: infoOffset)
            }
            tensors.append(GGUFTensorInfo(name: tensor.name, dimensions: tensor.dimensions, type: tensor.type,
                                          relativeOffset: tensor.offset, fileOffset: Int(start),
                                          elementCount: tensor.elementCount, byteCount: Int(tensor.byteCount)))
        }
        return Result(version: version, metadata: metadata, tensors: tensors, alignment: alignment,
                      dataOffset: min(dataOffset, bytes.count))
    }

    private struct PendingTensor {
        var name: String
        var dimensions: [Int]
        var type: GGMLType
        var offset: UInt64
        var elementCount: Int
        var byteCount: UInt64
    }

    private static func readTensorInfo(_ reader: inout ByteReader, index: Int) throws(GGUFError) -> PendingTensor {
        let start = reader.offset
        let name = try reader.readString("the name of tensor \(index)")
        guard name.utf8.count <= maximumTensorNameLength else {
            throw reader.error(.tensorNameTooLong(name), at: start)
        }
        let dimensionsOffset = reader.offset
        let dimensionCount = try reader.read(UInt32.self, "the dimension count of tensor '\(name)'")
        guard dimensionCount <= UInt32(maximumDimensions) else {
            throw reader.error(.tooManyDimensions(tensor: name, count: dimensionCount), at: dimensionsOffset)
        }
        var raw: [UInt64] = []
        for axis in 0..<Int(dimensionCount) {
            raw.append(try reader.read(UInt64.self, "dimension \(axis) of tensor '\(name)'"))
        }
        // Like ggml: every dimension non-negative as an int64, and the element count below INT64_MAX.
        var elements: UInt64 = 1
        for dimension in raw {
            let (product, overflow) = elements.multipliedReportingOverflow(by: dimension)
            guard dimension <= UInt64(Int64.max), !overflow, product < UInt64(Int64.max) else {
                throw reader.error(.invalidDimensions(tensor: name, dimensions: raw), at: dimensionsOffset)
            }
            elements = product
        }
        let typeOffset = reader.offset
        let rawType = try reader.read(UInt32.self, "the type of tensor '\(name)'")
        guard let type = GGMLType(rawValue: rawType) else {
            throw reader.error(.unknownTensorType(tensor: name, type: rawType), at: typeOffset)
        }
        let rowLength = raw.first ?? 1
        guard rowLength % UInt64(type.blockSize) == 0 else {
            throw reader.error(.rowNotMultipleOfBlock(tensor: name, rowLength: rowLength, blockSize: type.blockSize,
                                                      type: type.name), at: dimensionsOffset)
        }
        guard let byteCount = type.byteCount(elementCount: elements), byteCount < UInt64(Int.max) else {
            throw reader.error(.invalidDimensions(tensor: name, dimensions: raw), at: dimensionsOffset)
        }
        let offset = try reader.read(UInt64.self, "the data offset of tensor '\(name)'")
        return PendingTensor(name: name, dimensions: raw.map { Int($0) }, type: type, offset: offset,
                             elementCount: Int(elements), byteCount: byteCount)
    }

    private static func readValue(_ reader: inout ByteReader, key: String) throws(GGUFError) -> GGUFValue {
        let typeOffset = reader.offset
        let rawType = try reader.read(UInt32.self, "the type of '\(key)'")
        guard let type = GGUFValueType(rawValue: rawType) else {
            throw reader.error(.invalidValueType(rawType), at: typeOffset)
        }
        return try readValue(&reader, type: type, key: key, depth: 0)
    }

    private static func readValue(_ reader: inout ByteReader, type: GGUFValueType, key: String,
                                  depth: Int) throws(GGUFError) -> GGUFValue {
        let what = "the value of '\(key)'"
        switch type {
        case .uint8: return .uint8(try reader.read(UInt8.self, what))
        case .int8: return .int8(try reader.read(Int8.self, what))
        case .uint16: return .uint16(try reader.read(UInt16.self, what))
        case .int16: return .int16(try reader.read(Int16.self, what))
        case .uint32: return .uint32(try reader.read(UInt32.self, what))
        case .int32: return .int32(try reader.read(Int32.self, what))
        case .float32: return .float32(try reader.readFloat(what))
        case .bool: return .bool(try reader.read(UInt8.self, what) != 0)
        case .string: return .string(try reader.readString(what))
        case .uint64: return .uint64(try reader.read(UInt64.self, what))
        case .int64: return .int64(try reader.read(Int64.self, what))
        case .float64: return .float64(try reader.readDouble(what))
        case .array: return .array(try readArray(&reader, key: key, depth: depth + 1))
        }
    }

    private static func readArray(_ reader: inout ByteReader, key: String, depth: Int) throws(GGUFError) -> GGUFArray {
        let start = reader.offset
        guard depth <= maximumNesting else { throw reader.error(.nestingTooDeep(limit: maximumNesting)) }
        let rawType = try reader.read(UInt32.self, "the element type of '\(key)'")
        guard let type = GGUFValueType(rawValue: rawType) else {
            throw reader.error(.invalidValueType(rawType), at: start)
        }
        let count = try reader.readCount("the element count of '\(key)'", minimumSize: type.minimumEncodedSize)
        let what = "the elements of '\(key)'"
        switch type {
        case .uint8: return .uint8(try readScalars(&reader, count, what))
        case .int8: return .int8(try readScalars(&reader, count, what))
        case .uint16: return .uint16(try readScalars(&reader, count, what))
        case .int16: return .int16(try readScalars(&reader, count, what))
        case .uint32: return .uint32(try readScalars(&reader, count, what))
        case .int32: return .int32(try readScalars(&reader, count, what))
        case .uint64: return .uint64(try readScalars(&reader, count, what))
        case .int64: return .int64(try readScalars(&reader, count, what))
        case .float32: return .float32((try readScalars(&reader, count, what) as [UInt32]).map(Float.init(bitPattern:)))
        case .float64: return .float64((try readScalars(&reader, count, what) as [UInt64]).map(Double.init(bitPattern:)))
        case .bool: return .bool((try readScalars(&reader, count, what) as [UInt8]).map { $0 != 0 })
        case .string:
            var strings: [String] = []
            strings.reserveCapacity(count)
            for index in 0..<count { strings.append(try reader.readString("element \(index) of '\(key)'")) }
            return .string(strings)
        case .array:
            var arrays: [GGUFArray] = []
            arrays.reserveCapacity(count)
            for _ in 0..<count { arrays.append(try readArray(&reader, key: key, depth: depth + 1)) }
            return .array(arrays)
        }
    }

    private static func readScalars<T: FixedWidthInteger>(_ reader: inout ByteReader, _ count: Int,
                                                          _ what: String) throws(GGUFError) -> [T] {
        let raw = try reader.readBytes(count * MemoryLayout<T>.size, what)
        return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            for index in 0..<count {
                buffer[index] = T(littleEndian: raw.loadUnaligned(fromByteOffset: index * MemoryLayout<T>.size, as: T.self))
            }
            initialized = count
        }
    }
}
