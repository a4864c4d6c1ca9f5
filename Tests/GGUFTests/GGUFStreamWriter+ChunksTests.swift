import Foundation
import Testing
@testable import GGUF

/// Writing a tensor's data in pieces gives the same file as writing it whole; too many or
/// too few bytes are refused, and an error from the producer passes through unchanged.
@Suite struct GGUFStreamWriterChunkTests {
    struct ProducerFailure: Error, Equatable {}

    let directory: String = {
        let path = NSTemporaryDirectory() + "ponder-stream-chunks-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    func writer(_ name: String) throws -> GGUFStreamWriter {
        try GGUFStreamWriter(path: directory + "/" + name, metadata: [("general.architecture", .string("llama"))],
                             tensors: [.init(name: "x", dimensions: [5, 3], type: .f32), .init(name: "y", dimensions: [3], type: .f32)])
    }

    @Test func piecesMakeTheSameFileAsAWholeWrite() throws {
        let data = (0..<60).map { UInt8($0) }, tail = [UInt8](repeating: 7, count: 12)
        let whole = try writer("whole.gguf")
        try whole.write(data, for: "x")
        try whole.write(tail, for: "y")
        try whole.finish()
        let pieces = try writer("pieces.gguf")
        try pieces.write("x") { sink in
            for start in stride(from: 0, to: 60, by: 25) {
                try Array(data[start..<min(start + 25, 60)]).withUnsafeBytes { try sink($0) }
            }
        }
        try pieces.write("y") { sink in try tail.withUnsafeBytes { try sink($0) } }
        try pieces.finish()
        #expect(try Data(contentsOf: URL(fileURLWithPath: directory + "/whole.gguf"))
                == Data(contentsOf: URL(fileURLWithPath: directory + "/pieces.gguf")))
    }

    @Test func wrongByteCountsAndProducerErrors() throws {
        let tooMany = try writer("a.gguf")
        #expect(throws: GGUFError.self) {
            try tooMany.write("x") { sink in try [UInt8](repeating: 0, count: 64).withUnsafeBytes { try sink($0) } }
        }
        let tooFew = try writer("b.gguf")
        #expect(throws: GGUFError.self) {
            try tooFew.write("x") { sink in try [UInt8](repeating: 0, count: 59).withUnsafeBytes { try sink($0) } }
        }
        let failing = try writer("c.gguf")
        #expect(throws: ProducerFailure()) { try failing.write("x") { _ in throw ProducerFailure() } }
        #expect(throws: GGUFError.self) { try failing.write("y") { _ in } }   // out of order: x is still next
    }
}
