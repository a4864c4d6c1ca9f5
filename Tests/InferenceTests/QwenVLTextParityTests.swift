import Foundation
import GGUF
import Testing
@testable import Inference

/// The Qwen2-VL, Qwen2.5-VL and Qwen3-VL text models (M-RoPE; Qwen3-VL's interleaved sections, q/k norms
/// and deepstack) against transformers on the tiny fixtures (`Scripts/make_qwenvl_fixtures.py`,
/// converted by llama.cpp's own converter), with the image rows (and deepstack features) taken
/// from transformers' merged image embeddings: logits at every position of image prompts (an
/// image scaled down, one scaled up, 57 tokens of text after an image) and a text-only prompt,
/// and the rope positions through forks, decode steps and truncation.
@Suite(.serialized) struct QwenVLTextParityTests {
    struct Blob: Decodable { let file: String; let shape: [Int] }
    struct Prompt: Decodable {
        let name: String
        let image: String?
        let ids: [Int32]
        let logits: Blob
        let image_grid_thw: [Int]?
        let image_token_span: [Int]?
    }
    struct References: Decodable { let prompts: [Prompt] }

    static let families = ["qwen2_vl", "qwen2_5_vl", "qwen3_vl"]
    static func directory(_ family: String) -> URL { Bundle.module.resourceURL!.appendingPathComponent("Fixtures/\(family)") }
    static func references(_ family: String) throws -> References {
        try JSONDecoder().decode(References.self, from: Data(contentsOf: directory(family).appendingPathComponent("references.json")))
    }

    static func floats(_ family: String, _ name: String) throws -> [Float] {
        let data = try Data(contentsOf: directory(family).appendingPathComponent(name))
        return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    static func relativeError(_ mine: some Collection<Float>, _ theirs: some Collection<Float>) -> Float {
        precondition(mine.count == theirs.count, "\(mine.count) values against \(theirs.count)")
        let peak = theirs.map { abs($0) }.max() ?? 1
        return zip(mine, theirs).map { abs($0 - $1) }.max()! / peak
    }

    static func model(_ family: String) throws -> TransformerTextModel {
        try loadTextModel(path: directory(family).appendingPathComponent("model.gguf").path, options: TextModelOptions(threadCount: 2))
    }

    /// The prompt's inputs: its tokens, the image span as rows of transformers' embeddings
    /// (with Qwen3-VL's deepstack features).
    static func inputs(_ family: String, _ prompt: Prompt, width: Int) throws -> [Batch.Input] {
        guard let name = prompt.image, let span = prompt.image_token_span, let grid = prompt.image_grid_thw else {
            return prompt.ids.map { .token($0) }
        }
        let values = try floats(family, "vision.\(name).f32.bin")
        var deepstack: [[Float]] = []
        if FileManager.default.fileExists(atPath: directory(family).appendingPathComponent("deepstack.\(name).f32.bin").path) {
            let all = try floats(family, "deepstack.\(name).f32.bin")
            deepstack = stride(from: 0, to: all.count, by: values.count).map { Array(all[$0..<($0 + values.count)]) }
        }
        let image = PromptImage(.embeddings(values: values, width: width), grid: .init(rows: grid[1] / 2, columns: grid[2] / 2),
                                deepstack: deepstack)
        #expect(image.spanLength == span[1] - span[0])
        return prompt.ids.enumerated().map { offset, id in
            span[0] <= offset && offset < span[1] ? .image(image, index: offset - span[0]) : .token(id)
        }
    }

    static func batch(_ inputs: ArraySlice<Batch.Input>, _ sequence: SequenceID) -> Batch {
        Batch(items: inputs.enumerated().map {
            Batch.Item(sequence: sequence, position: inputs.startIndex + $0.offset, input: $0.element, wantsLogits: true)
        })
    }

    @Test(arguments: families, ["image_down", "image_up", "long_after_image", "text_only"])
    func f32LogitsMatchTransformers(family: String, name: String) throws {
        let prompt = try #require(try Self.references(family).prompts.first { $0.name == name })
        let model = try Self.model(family)
        let inputs = try Self.inputs(family, prompt, width: model.embeddingLength)
        let logits = try model.forward(Self.batch(inputs[...], try model.makeSequence()))
        let error = Self.relativeError(logits.values, try Self.floats(family, prompt.logits.file))
        print("\(family) \(name) logits, any image rows from transformers: max|Δ|/max|ref| = \(error)")
        #expect(error < 1e-3, "\(family) \(name): max|Δ|/max|ref| = \(error)")
    }

    /// Without the deepstack features Qwen3-VL's logits after the image move.
    @Test func deepstackMatters() throws {
        let prompt = try #require(try Self.references("qwen3_vl").prompts.first { $0.name == "image_down" })
        let model = try Self.model("qwen3_vl")
        let inputs = try Self.inputs("qwen3_vl", prompt, width: model.embeddingLength).map { input -> Batch.Input in
            guard case .image(let image, let index) = input else { return input }
            return .image(PromptImage(image.content, grid: image.grid), index: index)
        }
        let logits = try model.forward(Self.batch(inputs[...], try model.makeSequence()))
        #expect(Self.relativeError(logits.values, try Self.floats("qwen3_vl", prompt.logits.file)) > 1e-2)
    }

    /// 1-D positions instead of M-RoPE's would give other logits after the image: the test can fail.
    @Test(arguments: families) func theImagePositionsMatter(family: String) throws {
        let prompt = try #require(try Self.references(family).prompts.first { $0.name == "long_after_image" })
        let model = try Self.model(family)
        var inputs = try Self.inputs(family, prompt, width: model.embeddingLength)
        // The same rows without a grid: one row of positions, advancing by the span's length.
        inputs = inputs.map { input in
            guard case .image(let image, let index) = input, case .embeddings(let values, let width) = image.content else { return input }
            return .image(PromptImage(.embeddings(values: values, width: width), deepstack: image.deepstack), index: index)
        }
        let logits = try model.forward(Self.batch(inputs[...], try model.makeSequence()))
        let last = (prompt.ids.count - 1) * model.vocabularySize
        let reference = try Self.floats(family, prompt.logits.file)
        #expect(Self.relativeError(logits.values[last...], reference[last...]) > 1e-2)
    }

    /// A fork after the image, and a prompt fed in pieces, then decode steps: the positions
    /// after the image continue from the image's, as in one pass.
    @Test(arguments: families) func forksAndPiecesKeepThePositions(family: String) throws {
        let prompt = try #require(try Self.references(family).prompts.first { $0.name == "long_after_image" })
        let model = try Self.model(family)
        let inputs = try Self.inputs(family, prompt, width: model.embeddingLength)
        let whole = try model.forward(Self.batch(inputs[...], try model.makeSequence()))
        let v = model.vocabularySize, end = prompt.image_token_span![1]
        let parent = try model.makeSequence()
        _ = try model.forward(Self.batch(inputs[..<(end + 3)], parent))
        let child = try model.fork(parent)
        let rest = try model.forward(Self.batch(inputs[(end + 3)...], child))
        #expect(Self.relativeError(rest.values, whole.values[((end + 3) * v)...]) < 1e-5)
        // Token by token on the parent.
        for position in (end + 3)..<(end + 8) {
            let step = try model.forward(Self.batch(inputs[position...position], parent))
            #expect(Self.relativeError(step.values, whole.values[(position * v)..<((position + 1) * v)]) < 1e-5)
        }
        // Truncated back into the text before the image and refed: the same logits again.
        try model.truncate(child, to: 10)
        let refed = try model.forward(Self.batch(inputs[10...], child))
        #expect(Self.relativeError(refed.values, whole.values[(10 * v)...]) < 1e-5)
    }
}

/// Qwen2-VL, Qwen2.5-VL and Qwen3-VL end to end through `ChatModel`: the PNG resized and encoded by
/// Ponder (with Qwen3-VL's deepstack features), the prompt rendered by the chat template and
/// laid out with `<|vision_start|>` … `<|vision_end|>`.
@Suite(.serialized) struct QwenVLChatParityTests {
    struct Message: Decodable {
        struct Part: Decodable { let type: String; let text: String? }
        let role: String
        let content: [Part]

        enum Keys: String, CodingKey { case role, content }
        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: Keys.self)
            role = try container.decode(String.self, forKey: .role)
            if let text = try? container.decode(String.self, forKey: .content) {
                content = [Part(type: "text", text: text)]
            } else {
                content = try container.decode([Part].self, forKey: .content)
            }
        }
    }
    struct Prompt: Decodable {
        let name: String
        let image: String?
        let ids: [Int32]
        let logits: QwenVLTextParityTests.Blob
        let messages: [Message]
    }
    struct Image: Decodable { let image: String }
    struct References: Decodable {
        let prompts: [Prompt]
        let images: [String: Image]
    }

    /// Per family: the fixture's processor limits (preprocessor_config.json); the Qwen2-VL and
    /// Qwen2.5-VL template adds a default system message, Qwen3-VL-Thinking's generation prompt
    /// `<think>\n` (llama.cpp's ChatML neither), so the test supplies them.
    static let settings: [String: (pixels: (Int, Int), system: String?, suffix: String)] = [
        "qwen2_vl": ((9408, 23520), "You are a helpful assistant.", ""),
        "qwen2_5_vl": ((9408, 23520), "You are a helpful assistant.", ""),
        "qwen3_vl": ((12288, 30720), nil, "<think>\n"),
    ]

    /// The fixture pair of `family`, with its processor's pixel limits.
    static func chat(_ family: String) throws -> ChatModel {
        let directory = QwenVLTextParityTests.directory(family)
        return try ChatModel(model: directory.appendingPathComponent("model.gguf").path,
                             mmproj: directory.appendingPathComponent("mmproj.gguf").path,
                             options: TextModelOptions(threadCount: 2), imagePixels: settings[family]!.pixels)
    }

    @Test(arguments: QwenVLTextParityTests.families, ["image_down", "image_up", "long_after_image"])
    func logitsFromThePNGMatchTransformers(family: String, name: String) throws {
        let error = try Self.logitsError(family: family, name: name, chat: Self.chat(family))
        print("\(family) \(name) logits from the PNG (chat path): max|Δ|/max|ref| = \(error)")
        #expect(error < 1e-3, "\(family) \(name): max|Δ|/max|ref| = \(error)")
    }

    /// max|Δ|/max|ref| of `chat`'s logits of prompt `name` (the image read from its PNG)
    /// against transformers', after checking the prompt's token ids.
    static func logitsError(family: String, name: String, chat: ChatModel) throws -> Float {
        let directory = QwenVLTextParityTests.directory(family), setting = Self.settings[family]!
        let references = try JSONDecoder().decode(References.self,
                                                  from: Data(contentsOf: directory.appendingPathComponent("references.json")))
        let prompt = try #require(references.prompts.first { $0.name == name })
        let image = try chat.encodeImage(atPath: directory.appendingPathComponent(references.images[prompt.image!]!.image).path)
        let system = setting.system.map { [ChatMessage(role: .system, content: $0)] } ?? []
        let messages = system + prompt.messages.map { message in
            ChatMessage(role: ChatMessage.Role(rawValue: message.role)!,
                        content: message.content.map { $0.type == "image" ? ChatMessage.imageMarker : $0.text ?? "" }.joined())
        }
        let inputs = try chat.prompt(messages, images: [image]).inputs
            + chat.tokenizer.encode(setting.suffix, addSpecial: false, parseSpecial: true).map { .token($0) }
        let ids = inputs.map { input -> Int32 in
            if case .token(let token) = input { return token }
            return 372   // <|image_pad|>
        }
        #expect(ids == prompt.ids, "token ids of \(family) \(name)")
        let model = chat.textModel
        let sequence = try model.makeSequence()
        let logits = try model.forward(Batch(items: inputs.enumerated().map {
            Batch.Item(sequence: sequence, position: $0.offset, input: $0.element, wantsLogits: true)
        }))
        return QwenVLTextParityTests.relativeError(logits.values, try QwenVLTextParityTests.floats(family, prompt.logits.file))
    }
}

/// The chat template of the Qwen VL fixtures (their real templates, in the GGUF) renders as
/// `llama_chat_apply_template` does: ChatML, no default system message.
@Suite struct QwenVLChatTemplateTests {
    struct Case: Decodable {
        struct Turn: Decodable { let role: String; let content: String }
        let messages: [Turn]
        let llama_cpp: String
    }
    struct References: Decodable { let chat_templates: [String: Case] }

    @Test(arguments: QwenVLTextParityTests.families)
    func templatesMatchLlamaCpp(family: String) throws {
        let directory = QwenVLTextParityTests.directory(family)
        let references = try JSONDecoder().decode(References.self, from: Data(contentsOf: directory.appendingPathComponent("references.json")))
        let file = try GGUFFile(path: directory.appendingPathComponent("model.gguf").path)
        let template = try ChatTemplateFamily.resolve(name: nil, template: file.optionalString("tokenizer.chat_template"))
        #expect(references.chat_templates.count == 3)
        for (name, reference) in references.chat_templates {
            let messages = reference.messages.map { ChatMessage(role: ChatMessage.Role(rawValue: $0.role)!, content: $0.content) }
            #expect(template.family.render(messages, addGenerationPrompt: true) == reference.llama_cpp, "\(family) \(name)")
        }
    }
}
