import Foundation
import GGUF
import Testing
@testable import Inference

/// Llama 3.2 Vision against transformers on the tiny random fixture, converted by Ponder's own
/// converter: vision states and logits at every position for images of 1 to 4 tiles (from the
/// PNG: preprocessing, encoder, projector, cross-attention), a text-only prompt and text before
/// the image; prompts rendered and tokenized as transformers' processor does.
@Suite(.serialized) struct MllamaParityTests {
    struct Message: Decodable {
        struct Part: Decodable { let type: String; let text: String? }
        let role: String
        let content: [Part]
    }
    struct Prompt: Decodable {
        let name: String
        let text: String
        let ids: [Int32]
        let messages: [Message]
        let image: String?
        let logits: Blob
    }
    struct Blob: Decodable { let file: String; let shape: [Int] }
    struct References: Decodable { let prompts: [Prompt] }

    static let directory = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/mllama")
    static let references = try! JSONDecoder().decode(References.self,
                                                      from: Data(contentsOf: directory.appendingPathComponent("references.json")))

    /// Suites of this file convert concurrently; one conversion at a time.
    static let conversionLock = NSLock()

    /// The fixture converted once per type into a temporary folder: (model, projector).
    static func converted(_ type: GGMLType) throws -> (String, String) {
        conversionLock.lock()
        defer { conversionLock.unlock() }
        let folder = NSTemporaryDirectory() + "ponder-mllama-\(type.name)-\(ProcessInfo.processInfo.processIdentifier)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let model = folder + "/tiny.gguf", projector = folder + "/mmproj-tiny.gguf"
        if !FileManager.default.fileExists(atPath: model) {
            _ = try HFConverter.convert(folder: directory.appendingPathComponent("hf").path,
                                        options: ConvertOptions(outputPath: model, type: type))
        }
        return (model, projector)
    }

    static func floats(_ name: String) throws -> [Float] {
        let data = try Data(contentsOf: directory.appendingPathComponent(name))
        return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    static func relativeError(_ mine: [Float], _ theirs: [Float]) -> Float {
        precondition(mine.count == theirs.count)
        let peak = theirs.map { abs($0) }.max() ?? 1
        return zip(mine, theirs).map { abs($0 - $1) }.max()! / peak
    }

    /// Logits of every position of `prompt`, the prompt built by `ChatModel` from its messages.
    static func logits(_ prompt: Prompt, chat: ChatModel) throws -> [Float] {
        let images = try prompt.image.map { [try chat.encodeImage(atPath: directory.appendingPathComponent($0).path)] } ?? []
        // The parts in order, each image as the media marker where it stands.
        let messages = prompt.messages.map { message in
            ChatMessage(role: ChatMessage.Role(rawValue: message.role)!,
                        content: message.content.map { $0.type == "image" ? ChatMessage.imageMarker : $0.text ?? "" }.joined())
        }
        let inputs = try chat.prompt(messages, images: images).inputs
        let ids = inputs.map { input -> Int32 in
            if case .token(let token) = input { return token }
            return Int32(chat.textModel.vocabularySize)
        }
        #expect(ids == prompt.ids, "token ids of \(prompt.name)")
        let model = chat.textModel
        let sequence = try model.makeSequence()
        defer { model.release(sequence) }
        let batch = Batch(items: inputs.enumerated().map {
            Batch.Item(sequence: sequence, position: $0.offset, input: $0.element, wantsLogits: true)
        })
        return try model.forward(batch).values
    }

    @Test(arguments: ["tiles1", "tiles2", "tiles3", "tiles4", "text_only", "text_before_image"])
    func f32LogitsMatchTransformers(name: String) throws {
        let prompt = try #require(Self.references.prompts.first { $0.name == name })
        let (model, projector) = try Self.converted(.f32)
        let chat = try ChatModel(model: model, mmproj: projector, options: TextModelOptions(threadCount: 2))
        let error = Self.relativeError(try Self.logits(prompt, chat: chat), try Self.floats(prompt.logits.file))
        #expect(error < 1e-3, "\(name): max|Δ|/max|ref| = \(error)")
    }

    @Test(arguments: ["tiles1", "tiles4"])
    func visionStatesMatchTransformers(name: String) throws {
        let prompt = try #require(Self.references.prompts.first { $0.name == name })
        let (_, projector) = try Self.converted(.f32)
        let encoder = try MllamaVisionEncoder(file: GGUFFile(path: projector), pool: ThreadPool(threadCount: 2))
        let image = try ImageDecoder.decode(contentsOf: Self.directory.appendingPathComponent(prompt.image!).path)
        let states = encoder.encode(image)
        let error = Self.relativeError(states.values, try Self.floats("cross_attention_states.\(name).f32.bin"))
        #expect(error < 1e-4, "\(name): max|Δ|/max|ref| = \(error)")
    }

    /// The image moves the logits: the same question about another image differs.
    @Test func theImageMovesTheLogits() throws {
        let (model, projector) = try Self.converted(.f32)
        let chat = try ChatModel(model: model, mmproj: projector, options: TextModelOptions(threadCount: 2))
        let first = try Self.logits(Self.references.prompts.first { $0.name == "tiles1" }!, chat: chat)
        var other = Self.references.prompts.first { $0.name == "tiles1" }!
        other = Prompt(name: other.name, text: other.text, ids: other.ids, messages: other.messages,
                       image: "images/tiles4_130x120.png", logits: other.logits)
        let second = try Self.logits(other, chat: chat)
        let imageRow = other.ids.firstIndex(of: 384)!
        let v = chat.textModel.vocabularySize
        // Rows before the image token see no image... but attend to its tokens unmasked, so
        // they move too; rows after it move the most.
        let moved = Self.relativeError(Array(first[(imageRow * v)...]), Array(second[(imageRow * v)...]))
        #expect(moved > 0.05)
    }
}
