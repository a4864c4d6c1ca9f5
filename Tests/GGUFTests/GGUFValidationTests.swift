import Testing
@testable import GGUF

/// Raw little-endian bytes for hand-made (often malformed) files.
struct RawBytes {
    var bytes: [UInt8] = []
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func string(_ s: String) { u64(UInt64(s.utf8.count)); bytes += Array(s.utf8) }
    mutating func header(version: UInt32 = 3, tensors: UInt64, keys: UInt64) {
        bytes += Array("GGUF".utf8); u32(version); u64(tensors); u64(keys)
    }
}

private func parse(_ raw: RawBytes) -> GGUFError? {
    do { _ = try GGUFFile(bytes: raw.bytes, name: "bad.gguf"); return nil } catch { return error }
}

@Test func rejectsBadMagicAndVersions() throws {
    var raw = RawBytes(bytes: Array("GGML".utf8)); raw.u32(3); raw.u64(0); raw.u64(0)
    let magic = parse(raw)
    #expect(magic?.kind == .badMagic(found: Array("GGML".utf8)) && magic?.offset == 0)
    #expect(magic?.description == "bad.gguf: not a GGUF file: it starts with \"GGML\" instead of \"GGUF\" (at byte 0)")
    for version: UInt32 in [0, 1, 4, 0x0300_0000] {
        var raw = RawBytes(); raw.header(version: version, tensors: 0, keys: 0)
        let error = parse(raw)
        #expect(error?.kind == .unsupportedVersion(version) && error?.offset == 4)
    }
    var bigEndian = RawBytes(); bigEndian.header(version: 0x0300_0000, tensors: 0, keys: 0)
    #expect(parse(bigEndian)?.message.contains("big-endian") == true)
    #expect(throws: GGUFError.self) { try GGUFFile(bytes: [], name: "empty.gguf") }
}

@Test func rejectsCountsLargerThanTheFile() {
    var tensors = RawBytes(); tensors.header(tensors: 1 << 40, keys: 0)
    #expect(parse(tensors)?.kind == .countTooLarge(what: "the tensor count", count: 1 << 40, available: 8))
    var keys = RawBytes(); keys.header(tensors: 0, keys: UInt64.max)
    #expect(parse(keys)?.offset == 16)
    var string = RawBytes(); string.header(tensors: 0, keys: 1); string.u64(1 << 62); string.bytes += [0, 0, 0, 0, 0]
    #expect(parse(string)?.kind == .stringTooLong(length: 1 << 62, available: 5))
    // An array of 2^61 u64 in a tiny file must be refused before allocating.
    var array = RawBytes(); array.header(tensors: 0, keys: 1); array.string("k"); array.u32(9); array.u32(10)
    array.u64(1 << 61); array.u64(0)
    #expect(parse(array)?.kind == .countTooLarge(what: "the element count of 'k'", count: 1 << 61, available: 8))
}

@Test func rejectsBadMetadata() {
    var type = RawBytes(); type.header(tensors: 0, keys: 1); type.string("k"); type.u32(13); type.u32(0)
    #expect(parse(type)?.kind == .invalidValueType(13))
    var duplicate = RawBytes(); duplicate.header(tensors: 0, keys: 2)
    for _ in 0..<2 { duplicate.string("k"); duplicate.u32(4); duplicate.u32(1) }
    let dup = parse(duplicate)
    #expect(dup?.kind == .duplicateKey("k") && dup?.offset == 41)
    var deep = RawBytes(); deep.header(tensors: 0, keys: 1); deep.string("k"); deep.u32(9)
    for _ in 0..<100 { deep.u32(9); deep.u64(1) }
    deep.u32(0); deep.u64(0)
    #expect(parse(deep)?.kind == .nestingTooDeep(limit: GGUFParser.maximumNesting))
    for bad: UInt32 in [0, 3, 48] {
        var align = RawBytes(); align.header(tensors: 0, keys: 1); align.string("general.alignment"); align.u32(4); align.u32(bad)
        #expect(parse(align)?.kind == .invalidAlignment(String(bad)))
    }
    var alignType = RawBytes(); alignType.header(tensors: 0, keys: 1); alignType.string("general.alignment")
    alignType.u32(10); alignType.u64(32)
    #expect(parse(alignType)?.kind == .typeMismatch(key: "general.alignment", expected: "u32", found: "u64"))
}

/// One tensor info; `data` bytes are appended after padding to 32.
private func tensorFile(name: String = "t", dims: [UInt64], type: UInt32, offset: UInt64 = 0,
                        dataBytes: Int = 0, count: UInt32? = nil) -> RawBytes {
    var raw = RawBytes(); raw.header(tensors: 1, keys: 0)
    raw.string(name); raw.u32(count ?? UInt32(dims.count)); dims.forEach { raw.u64($0) }; raw.u32(type); raw.u64(offset)
    while raw.bytes.count % 32 != 0 { raw.bytes.append(0) }
    raw.bytes += [UInt8](repeating: 1, count: dataBytes)
    return raw
}

@Test func rejectsBadTensorInfos() {
    #expect(parse(tensorFile(dims: [4], type: 0, dataBytes: 16)) == nil)
    #expect(parse(tensorFile(name: String(repeating: "n", count: 64), dims: [4], type: 0, dataBytes: 16))?.kind
            == .tensorNameTooLong(String(repeating: "n", count: 64)))
    #expect(parse(tensorFile(dims: [1, 1, 1, 1, 1], type: 0, dataBytes: 4))?.kind == .tooManyDimensions(tensor: "t", count: 5))
    #expect(parse(tensorFile(dims: [UInt64.max], type: 0))?.kind == .invalidDimensions(tensor: "t", dimensions: [UInt64.max]))
    #expect(parse(tensorFile(dims: [1 << 32, 1 << 32], type: 0))?.kind
            == .invalidDimensions(tensor: "t", dimensions: [1 << 32, 1 << 32]))
    #expect(parse(tensorFile(dims: [32], type: 5, dataBytes: 64))?.kind == .unknownTensorType(tensor: "t", type: 5))
    #expect(parse(tensorFile(dims: [33], type: 2, dataBytes: 64))?.kind
            == .rowNotMultipleOfBlock(tensor: "t", rowLength: 33, blockSize: 32, type: "Q4_0"))
    #expect(parse(tensorFile(dims: [4], type: 0, offset: 8, dataBytes: 64))?.kind
            == .misalignedTensor(tensor: "t", offset: 8, alignment: 32))
    let outOfBounds = parse(tensorFile(dims: [8], type: 0, dataBytes: 16))
    #expect(outOfBounds?.kind == .tensorOutOfBounds(tensor: "t", end: 96, fileSize: 80))
    #expect(outOfBounds?.offset == 24)
    #expect(parse(tensorFile(dims: [4], type: 0, offset: UInt64.max - 31, dataBytes: 16))?.kind
            == .tensorOutOfBounds(tensor: "t", end: UInt64.max, fileSize: 80))
    var duplicate = RawBytes(); duplicate.header(tensors: 2, keys: 0)
    for _ in 0..<2 { duplicate.string("w"); duplicate.u32(1); duplicate.u64(1); duplicate.u32(0); duplicate.u64(0) }
    while duplicate.bytes.count % 32 != 0 { duplicate.bytes.append(0) }
    duplicate.bytes += [0, 0, 0, 0]
    #expect(parse(duplicate)?.kind == .duplicateTensor("w"))
}

/// Every prefix of a valid file that cuts into its content must fail with an error (never
/// crash), and the error's offset must lie inside the prefix. Only the padding after the last
/// tensor may be cut.
@Test(arguments: [UInt32(2), 3])
func everyTruncationIsAnError(version: UInt32) throws {
    let full = try sampleWriter(version: version).serialized()
    let parsed = try GGUFFile(bytes: full)
    let contentEnd = parsed.tensors.map { $0.fileOffset + $0.byteCount }.max() ?? full.count
    #expect(contentEnd < full.count && contentEnd > full.count - 32)
    for length in contentEnd..<full.count {
        #expect(try GGUFFile(bytes: Array(full[0..<length])).tensors.count == 4)
    }
    var failures = 0
    for length in 1..<contentEnd {
        do {
            _ = try GGUFFile(bytes: Array(full[0..<length]), name: "cut.gguf")
        } catch {
            failures += 1
            #expect(error.offset.map { $0 <= UInt64(length) } ?? false, "length \(length): \(error)")
            #expect(error.description.hasPrefix("cut.gguf: "))
        }
    }
    #expect(failures == contentEnd - 1)
}

@Test func errorsFromDiskNameThePath() throws {
    let missing = #expect(throws: GGUFError.self) { try GGUFFile(path: "/nonexistent/model.gguf") }
    #expect(missing?.description == "/nonexistent/model.gguf: cannot open the file: no such file or directory")
    let directory = #expect(throws: GGUFError.self) { try GGUFFile(path: "/") }
    #expect(directory?.kind == .cannotOpen(reason: "it is not a regular file"))
}
