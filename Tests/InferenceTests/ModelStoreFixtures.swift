import Foundation
import GGUF
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
@testable import Inference

/// A folder under the system's temporary folder, removed when the value goes away; the fake
/// stores (Ollama, Hugging Face, LM Studio, plain folders) are built inside it.
final class StoreSandbox {
    let root: String

    init() throws {
        root = FileManager.default.temporaryDirectory
            .appendingPathComponent("ponder-store-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    deinit {
        // Folders made unreadable by a test must be readable again to be removed.
        if let items = FileManager.default.subpaths(atPath: root) {
            for item in items { chmod(root + "/" + item, 0o755) }
        }
        try? FileManager.default.removeItem(atPath: root)
    }

    /// `root/relative`.
    func path(_ relative: String) -> String { root + "/" + relative }

    /// Writes `bytes` at `relative`, making its folders; returns the full path.
    @discardableResult
    func write(_ relative: String, _ bytes: [UInt8]) throws -> String {
        let full = path(relative)
        try FileManager.default.createDirectory(atPath: URL(fileURLWithPath: full).deletingLastPathComponent().path,
                                                withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: full))
        return full
    }

    @discardableResult
    func write(_ relative: String, text: String) throws -> String {
        try write(relative, Array(text.utf8))
    }

    /// A symbolic link at `relative` whose target is `destination` as written (relative or not).
    @discardableResult
    func link(_ relative: String, to destination: String) throws -> String {
        let full = path(relative)
        try FileManager.default.createDirectory(atPath: URL(fileURLWithPath: full).deletingLastPathComponent().path,
                                                withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: full, withDestinationPath: destination)
        return full
    }

    func makeFolder(_ relative: String) throws {
        try FileManager.default.createDirectory(atPath: path(relative), withIntermediateDirectories: true)
    }

    /// Sets the modification time of `relative` to `secondsAgo` in the past.
    func age(_ relative: String, secondsAgo: Double) throws {
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -secondsAgo)],
                                              ofItemAtPath: path(relative))
    }
}

/// Tiny GGUF files: a text model, a projector, a model that embeds its vision tower.
enum TinyGGUF {
    /// A text model of `architecture` with `general.file_type` (15 = Q4_K_M) when given.
    static func textModel(architecture: String = "llama", fileType: UInt32? = 15, embeddingLength: UInt32 = 16,
                          visionTensors: Bool = false, visionKeys: Bool = false) -> [UInt8] {
        var writer = GGUFWriter()
        writer.set("general.architecture", architecture)
        if let fileType { writer.set("general.file_type", fileType) }
        writer.set("\(architecture).embedding_length", embeddingLength)
        if visionKeys { writer.set("\(architecture).vision.block_count", UInt32(2)) }
        try! writer.addTensor(name: "token_embd.weight", dimensions: [4, 2], values: [Float](repeating: 0.5, count: 8))
        if visionTensors {
            try! writer.addTensor(name: "v.patch_embd.weight", dimensions: [4], values: [1, 2, 3, 4])
        }
        return writer.serialized()
    }

    /// A clip projector of `projectorType`, whose output width is `projectionWidth` when given.
    static func projector(projectorType: String? = "mlp", projectionWidth: UInt32? = 16, fileType: UInt32 = 1) -> [UInt8] {
        var writer = GGUFWriter()
        writer.set("general.architecture", "clip")
        writer.set("general.file_type", fileType)
        if let projectorType { writer.set("clip.projector_type", projectorType) }
        if let projectionWidth { writer.set("clip.vision.projection_dim", projectionWidth) }
        try! writer.addTensor(name: "mm.0.weight", dimensions: [4], values: [1, 2, 3, 4])
        return writer.serialized()
    }

    /// Starts like a GGUF file and then stops.
    static let truncated: [UInt8] = Array("GGUF".utf8) + [3, 0, 0, 0, 9, 0]
    /// Not a GGUF file at all.
    static let notGGUF: [UInt8] = Array("<html>rate limited</html>".utf8)
}

/// A 64-hex-digit digest made from `seed`, for fake Ollama blobs.
func fakeDigest(_ seed: Int) -> String {
    String(repeating: String(format: "%02x", seed % 256), count: 32)
}

/// An Ollama manifest naming a model blob and, when given, a projector blob.
func ollamaManifest(model: String, projector: String? = nil, extra: String = "") -> String {
    var layers = [#"{"mediaType":"application/vnd.ollama.image.model","digest":"sha256:\#(model)","size":1}"#]
    if let projector {
        layers.append(#"{"mediaType":"application/vnd.ollama.image.projector","digest":"sha256:\#(projector)","size":1}"#)
    }
    layers.append(#"{"mediaType":"application/vnd.ollama.image.template","digest":"sha256:\#(fakeDigest(250))","size":1}"#)
    return #"{"schemaVersion":2,"config":{"digest":"sha256:\#(fakeDigest(251))"},"layers":[\#(layers.joined(separator: ","))]\#(extra)}"#
}
