import Testing
@testable import GGUF

/// A file with every metadata type, nested arrays and tensors of several types.
func sampleWriter(version: UInt32 = 3, alignment: Int = 32) throws -> GGUFWriter {
    var writer = GGUFWriter(version: version, alignment: alignment)
    writer.set("general.architecture", "llama")
    writer.set("test.u8", .uint8(200))
    writer.set("test.i8", .int8(-100))
    writer.set("test.u16", .uint16(60000))
    writer.set("test.i16", .int16(-30000))
    writer.set("test.u32", .uint32(4_000_000_000))
    writer.set("test.i32", .int32(-2_000_000_000))
    writer.set("test.f32", .float32(3.25))
    writer.set("test.bool", .bool(true))
    writer.set("test.string", .string("héllo, 世界 🌍"))
    writer.set("test.u64", .uint64(UInt64.max))
    writer.set("test.i64", .int64(Int64.min))
    writer.set("test.f64", .float64(-1.5e300))
    writer.set("test.strings", strings: ["a", "", "▁b", "<0x0A>"])
    writer.set("test.floats", .array(.float32([1, -2.5, .infinity])))
    writer.set("test.ints", .array(.int32([1, -2, 3])))
    writer.set("test.nested", .array(.array([.uint8([1, 2]), .uint8([]), .uint8([3])])))
    writer.set("test.deep", .array(.array([.array([.string(["x", "y"])])])))
    try writer.addTensor(name: "a", dimensions: [4, 2], values: [1, 2, 3, 4, 5, 6, 7, 8])
    try writer.addTensor(name: "b", dimensions: [64], type: .q8_0, data: [UInt8](repeating: 7, count: 68))
    try writer.addTensor(name: "c", dimensions: [], values: [42])
    try writer.addTensor(name: "d", dimensions: [3, 1, 1, 1], type: .f16, data: [0, 60, 0, 64, 0, 66])
    return writer
}

@Test(arguments: [(UInt32(3), 32), (UInt32(2), 32), (UInt32(3), 64), (UInt32(3), 1)])
func writerOutputReadsBack(version: UInt32, alignment: Int) throws {
    let writer = try sampleWriter(version: version, alignment: alignment)
    let file = try GGUFFile(bytes: writer.serialized(), name: "sample.gguf")
    #expect(file.version == version)
    #expect(file.alignment == alignment)
    #expect(file.dataOffset % alignment == 0)
    #expect(file.metadata.map(\.key) == writer.metadata.map(\.key))
    for (key, value) in writer.metadata {
        #expect(file.value(forKey: key) == value, "\(key)")
    }
    #expect(file.tensors.map(\.name) == ["a", "b", "c", "d"])
    let a = try #require(file.tensor(named: "a"))
    #expect(a.dimensions == [4, 2] && a.rowLength == 4 && a.rowCount == 2 && a.elementCount == 8)
    let data = file.data(for: a)
    let floats = (0..<8).map { data.loadUnaligned(fromByteOffset: 4 * $0, as: Float.self) }
    #expect(floats == [1, 2, 3, 4, 5, 6, 7, 8])
    let b = try #require(file.tensor(named: "b"))
    #expect(b.type == .q8_0 && b.byteCount == 68 && b.fileOffset % alignment == 0)
    #expect(Array(file.data(for: b)) == [UInt8](repeating: 7, count: 68))
    let c = try #require(file.tensor(named: "c"))
    #expect(c.dimensions == [] && c.elementCount == 1 && c.rowCount == 1)
    #expect(Array(file.data(for: try file.requireTensor("d"))) == [0, 60, 0, 64, 0, 66])
}

@Test func typedAccessors() throws {
    let file = try GGUFFile(bytes: sampleWriter().serialized(), name: "sample.gguf")
    #expect(try file.string("test.string") == "héllo, 世界 🌍")
    #expect(try file.int("test.u32") == 4_000_000_000)
    #expect(try file.int("test.i8") == -100)
    #expect(try file.float("test.f32") == 3.25)
    #expect(try file.float("test.u16") == 60000)
    #expect(try file.bool("test.bool"))
    #expect(try file.stringArray("test.strings") == ["a", "", "▁b", "<0x0A>"])
    #expect(try file.floatArray("test.floats") == [1, -2.5, .infinity])
    #expect(try file.intArray("test.ints") == [1, -2, 3])
    #expect(try file.optionalInt("absent.key") == nil)
    #expect(file.architecture == "llama")
}

@Test func accessorErrorsNameKeyAndTypes() throws {
    let file = try GGUFFile(bytes: sampleWriter().serialized(), name: "sample.gguf")
    let mismatch = #expect(throws: GGUFError.self) { try file.int("test.string") }
    #expect(mismatch?.kind == .typeMismatch(key: "test.string", expected: "an integer", found: "string"))
    #expect(mismatch?.description == "sample.gguf: metadata key 'test.string' is string, expected an integer")
    let arrayMismatch = #expect(throws: GGUFError.self) { try file.stringArray("test.floats") }
    #expect(arrayMismatch?.kind == .typeMismatch(key: "test.floats", expected: "array of string", found: "array of f32"))
    let missing = #expect(throws: GGUFError.self) { try file.string("general.name") }
    #expect(missing?.description == "sample.gguf: metadata key 'general.name' is missing")
    let range = #expect(throws: GGUFError.self) { try file.int("test.u64") }
    #expect(range?.kind == .valueOutOfRange(key: "test.u64", value: "uint64(18446744073709551615)"))
    #expect(throws: GGUFError.self) { try file.requireTensor("output.weight") }
}

@Test func writerRejectsWrongByteCountAndDuplicates() throws {
    var writer = GGUFWriter()
    #expect(throws: GGUFError.self) { try writer.addTensor(name: "x", dimensions: [32], type: .q4_0, data: [1, 2]) }
    #expect(throws: GGUFError.self) { try writer.addTensor(name: "x", dimensions: [31], type: .q4_0, data: []) }
    try writer.addTensor(name: "x", dimensions: [2], values: [1, 2])
    #expect(throws: GGUFError.self) { try writer.addTensor(name: "x", dimensions: [2], values: [1, 2]) }
}
