import Foundation
import GGUF
import Testing
@testable import Inference

/// Gemma 3 against transformers on the tiny random fixture (`Scripts/make_gemma3_fixtures.py`),
/// converted by llama.cpp's own `convert_hf_to_gguf.py`: logits at every position of text-only,
/// image and two-turn chat prompts (from the PNG: Pillow-bilinear resize, SigLIP, pooling,
/// soft-embedding norm, projection; sliding-window and global layers; image rows that attend
/// both ways), the preprocessed pixels, the vision tower and the projected image embeddings,
/// the prompt token ids as `Gemma3Processor` makes them, and the chat template as
/// `llama_chat_apply_template` renders it.
@Suite(.serialized) struct Gemma3ParityTests {
    struct Message: Decodable {
        struct Part: Decodable { let type: String; let text: String? }
        let role: String
        let content: [Part]
    }
    struct Blob: Decodable { let file: String; let shape: [Int] }
    struct Prompt: Decodable {
        let name: String
        let image: String?
        let messages: [Message]
        let ids: [Int32]
        let logits: Blob
    }
    struct Image: Decodable {
        let name: String
        let image: String
        let pixel_values: Blob
        let vision_output: Blob
        let image_embeddings: Blob
    }
    struct TemplateCase: Decodable {
        struct Turn: Decodable { let role: String; let content: String }
        let name: String
        let messages: [Turn]
        let llama_cpp_text: String
    }
    struct Model: Decodable { let image_token_id: Int32 }
    struct References: Decodable {
        let model: Model
        let images: [Image]
        let prompts: [Prompt]
        let chat_templates: [TemplateCase]
    }

    static let directory = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/gemma3")
    static let references = try! JSONDecoder().decode(References.self,
                                                      from: Data(contentsOf: directory.appendingPathComponent("references.json")))
    static var model: String { directory.appendingPathComponent("gemma3-text-f32.gguf").path }
    static var projector: String { directory.appendingPathComponent("mmproj-gemma3-f32.gguf").path }

    static func floats(_ name: String) throws -> [Float] {
        let data = try Data(contentsOf: directory.appendingPathComponent(name))
        return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    static func relativeError(_ mine: [Float], _ theirs: [Float]) -> Float {
        precondition(mine.count == theirs.count, "\(mine.count) values against \(theirs.count)")
        let peak = theirs.map { abs($0) }.max() ?? 1
        return zip(mine, theirs).map { abs($0 - $1) }.max()! / peak
    }

    /// Logits of every position of `prompt`, the prompt built by `ChatModel` from its messages.
    static func logits(_ prompt: Prompt, chat: ChatModel, imagePath: String? = nil) throws -> [Float] {
        let path = imagePath ?? prompt.image.map { name in
            directory.appendingPathComponent(references.images.first { $0.name == name }!.image).path
        }
        let images = try path.map { [try chat.encodeImage(atPath: $0)] } ?? []
        let messages = prompt.messages.map { message in
            ChatMessage(role: ChatMessage.Role(rawValue: message.role == "model" ? "assistant" : message.role)!,
                        content: message.content.map { $0.type == "image" ? ChatMessage.imageMarker : $0.text ?? "" }.joined())
        }
        let inputs = try chat.prompt(messages, images: images).inputs
        let ids = inputs.map { input -> Int32 in
            if case .token(let token) = input { return token }
            return references.model.image_token_id
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

    static func chat() throws -> ChatModel {
        try ChatModel(model: model, mmproj: projector, options: TextModelOptions(threadCount: 2))
    }

    @Test(arguments: ["text_only", "image_landscape", "image_portrait", "two_turn"])
    func f32LogitsMatchTransformers(name: String) throws {
        let prompt = try #require(Self.references.prompts.first { $0.name == name })
        let error = Self.relativeError(try Self.logits(prompt, chat: try Self.chat()), try Self.floats(prompt.logits.file))
        #expect(error < 1e-3, "\(name): max|Δ|/max|ref| = \(error)")
    }

    @Test(arguments: ["landscape", "portrait"])
    func pixelsVisionAndEmbeddingsMatchTransformers(name: String) throws {
        let reference = try #require(Self.references.images.first { $0.name == name })
        let encoder = try loadVisionEncoder(path: Self.projector, threads: 2)
        let image = try ImageDecoder.decode(contentsOf: Self.directory.appendingPathComponent(reference.image).path)
        let tiles = ImagePreprocessor(configuration: encoder.configuration).tiles(of: image)
        #expect(tiles.count == 1)
        let pixels = Self.relativeError(tiles[0].pixels, try Self.floats(reference.pixel_values.file))
        #expect(pixels < 1e-6, "\(name) pixels: max|Δ|/max|ref| = \(pixels)")
        let embeddings = encoder.encode(image).flattened
        let error = Self.relativeError(embeddings, try Self.floats(reference.image_embeddings.file))
        #expect(error < 1e-4, "\(name) embeddings: max|Δ|/max|ref| = \(error)")
    }

    @Test func theChatTemplateMatchesLlamaCpp() throws {
        let chat = try Self.chat()
        for template in Self.references.chat_templates {
            let messages = template.messages.map {
                ChatMessage(role: ChatMessage.Role(rawValue: $0.role == "model" ? "assistant" : $0.role)!, content: $0.content)
            }
            #expect(chat.template.family.render(messages, addGenerationPrompt: true) == template.llama_cpp_text, "\(template.name)")
        }
    }

    /// The image moves the logits after it; the text before it is untouched.
    @Test func theImageMovesTheLogits() throws {
        let chat = try Self.chat()
        let prompt = try #require(Self.references.prompts.first { $0.name == "image_landscape" })
        let first = try Self.logits(prompt, chat: chat)
        let portrait = Self.directory.appendingPathComponent(Self.references.images.first { $0.name == "portrait" }!.image).path
        let second = try Self.logits(prompt, chat: chat, imagePath: portrait)
        let imageRow = prompt.ids.firstIndex(of: Self.references.model.image_token_id)!
        let v = chat.textModel.vocabularySize
        #expect(Self.relativeError(Array(first[..<(imageRow * v)]), Array(second[..<(imageRow * v)])) < 1e-6)
        #expect(Self.relativeError(Array(first[(imageRow * v)...]), Array(second[(imageRow * v)...])) > 0.05)
    }
}

/// Ollama's one-file Gemma 3: the fixture pair rewritten in Ollama's layout (its converter's
/// names for the vision tensors, `gemma3.vision.*` keys, no projector file) answers exactly as
/// the llama.cpp pair does.
@Suite struct Gemma3OllamaLayoutTests {
    /// Ollama's name of a llama.cpp vision tensor.
    static func ollamaName(_ name: String) -> String {
        if name.hasPrefix("mm.") { return "mm.mm_" + name.dropFirst(3) }
        var result = name
        for (from, to) in [("v.patch_embd.", "v.patch_embedding."), ("v.position_embd.", "v.position_embedding."),
                           ("v.post_ln.", "v.post_layernorm."), (".ln1.", ".layer_norm1."), (".ln2.", ".layer_norm2."),
                           (".attn_out.", ".attn_output."), (".ffn_up.", ".mlp.fc1."), (".ffn_down.", ".mlp.fc2.")] {
            result = result.replacingOccurrences(of: from, with: to)
        }
        return result
    }

    static func oneFile() throws -> String {
        let text = try GGUFFile(path: Gemma3ParityTests.model), projector = try GGUFFile(path: Gemma3ParityTests.projector)
        var writer = GGUFWriter()
        for entry in text.metadata { writer.set(entry.key, entry.value) }
        for entry in projector.metadata where entry.key.hasPrefix("clip.vision.") && !["clip.vision.image_mean", "clip.vision.image_std"].contains(entry.key) {
            writer.set("gemma3.vision." + entry.key.dropFirst("clip.vision.".count), entry.value)
        }
        writer.set("gemma3.mm.tokens_per_image", UInt32(9))
        for (file, rename) in [(text, { (name: String) in name }), (projector, ollamaName)] {
            for tensor in file.tensors {
                try writer.addTensor(name: rename(tensor.name), dimensions: tensor.dimensions, type: tensor.type,
                                     data: Array(file.data(for: tensor)))
            }
        }
        let path = NSTemporaryDirectory() + "ponder-gemma3-ollama-\(ProcessInfo.processInfo.processIdentifier).gguf"
        try writer.write(to: path)
        return path
    }

    @Test func oneFileAnswersAsThePair() throws {
        let path = try Self.oneFile()
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(ChatVisionEncoder.holdsVision(try GGUFFile(path: path)))
        let single = try ChatModel(model: path, mmproj: nil, options: TextModelOptions(threadCount: 2))
        let pair = try Gemma3ParityTests.chat()
        let prompt = try #require(Gemma3ParityTests.references.prompts.first { $0.name == "image_landscape" })
        let a = try Gemma3ParityTests.logits(prompt, chat: single), b = try Gemma3ParityTests.logits(prompt, chat: pair)
        #expect(a == b)
        #expect(Gemma3ParityTests.relativeError(a, try Gemma3ParityTests.floats(prompt.logits.file)) < 1e-3)
    }
}
