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

    @Test func writesATensorInParts() throws {
        let reference = try sampleWriter(alignment: 32)
        let path = directory + "/parts.gguf"
        let writer = try GGUFStreamWriter(
            path: path, metadata: reference.metadata,
            tensors: reference.tensors.map { .init(name: $0.name, dimensions: $0.dimensions, type: $0.type) })
        for tensor in reference.tensors {
            // Pieces of 1, 2, 3, … bytes, then the rest.
            var start = 0, size = 1
            while start < tensor.data.count {
                let end = min(tensor.data.count, start + size)
                try Array(tensor.data[start..<end]).withUnsafeBytes { try writer.writePart($0, for: tensor.name) }
                start = end
                size += 1
            }
        }
        try writer.finish()
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) == reference.serialized())
    }

    @Test func refusesPartsBeyondTheTensor() throws {
        let writer = try GGUFStreamWriter(path: directory + "/e.gguf", metadata: [],
                                          tensors: [.init(name: "x", dimensions: [2], type: .f32)])
        try [UInt8](repeating: 0, count: 4).withUnsafeBytes { try writer.writePart($0, for: "x") }
        #expect(throws: GGUFError.self) {
            try [UInt8](repeating: 0, count: 5).withUnsafeBytes { try writer.writePart($0, for: "x") }
        }
        #expect(throws: GGUFError.self) { try writer.write([UInt8](repeating: 0, count: 8), for: "x") }
        #expect(throws: GGUFError.self) { try writer.finish() }
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
