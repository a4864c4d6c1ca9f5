import Foundation
import Testing
@testable import GGUF

/// The streaming writer produces the same bytes as the in-memory writer, checks order and
/// sizes, and leaves no file behind when it is not finished.
@Suite struct GGUFStreamWriterTests {
    let directory: String = {
        let path = NSTemporaryDirectory() + "ponder-stream-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    @Test(arguments: [32, 64])
    func matchesTheInMemoryWriter(alignment: Int) throws {
        let reference = try sampleWriter(alignment: alignment)
        let path = directory + "/a.gguf"
        let writer = try GGUFStreamWriter(
            path: path, metadata: reference.metadata,
            tensors: reference.tensors.map { .init(name: $0.name, dimensions: $0.dimensions, type: $0.type) },
            alignment: alignment)
        for tensor in reference.tensors { try writer.write(tensor.data, for: tensor.name) }
        try writer.finish()
        let written = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(written == reference.serialized())
        #expect(!FileManager.default.fileExists(atPath: path + ".partial"))
    }

    @Test func refusesOutOfOrderAndWrongSizes() throws {
        let path = directory + "/b.gguf"
        let writer = try GGUFStreamWriter(path: path, metadata: [("general.architecture", .string("llama"))],
                                          tensors: [.init(name: "x", dimensions: [2], type: .f32),
                                                    .init(name: "y", dimensions: [32], type: .q8_0)])
        #expect(throws: GGUFError.self) { try writer.write([UInt8](repeating: 0, count: 34), for: "y") }
        #expect(throws: GGUFError.self) { try writer.write([UInt8](repeating: 0, count: 7), for: "x") }
        try writer.write([UInt8](repeating: 0, count: 8), for: "x")
        #expect(throws: GGUFError.self) { try writer.finish() }
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func anUnfinishedWriterLeavesNoFile() throws {
        let path = directory + "/c.gguf"
        do {
            let writer = try GGUFStreamWriter(path: path, metadata: [], tensors: [.init(name: "x", dimensions: [2], type: .f32)])
            #expect(FileManager.default.fileExists(atPath: path + ".partial"))
            _ = writer
        }
        #expect(!FileManager.default.fileExists(atPath: path + ".partial"))
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func refusesAShapeThatDoesNotFitTheBlocks() {
        #expect(throws: GGUFError.self) {
            _ = try GGUFStreamWriter(path: directory + "/d.gguf", metadata: [],
                                     tensors: [.init(name: "x", dimensions: [33], type: .q8_0)])
        }
    }
}
