import Foundation
import GGUF

/// A text model with its tokenizer, chat template and (optionally) vision projector, loaded
/// once: turns conversations with images into prompts. What `ask`, `eval` and the chat UI
/// share.
public final class ChatModel: Sendable {
    /// The text model's path.
    public let path: String
    public let textModel: any TextModel
    public let tokenizer: VocabularyTokenizer
    /// The vision encoder: the `mmproj` file's, or the model file's own (Ollama's single-file
    /// mllama models).
    public let vision: ChatVisionEncoder?
    /// The chat template in use, and the warning when it fell back to ChatML.
    public let template: ChatTemplateDetection
    /// Whether the model was trained to answer in the four tagged stages (the GGUF key
    /// `ponder.stage_format`), so it needs no instruction asking for them.
    public let knowsStageFormat: Bool
    /// Whether the chat template's generation prompt opens a `<think>` block (a thinking model,
    /// Qwen3-VL-Thinking's kind): its answers are reasoning in `<think>` … `</think>`, then the
    /// answer.
    public let opensThinking: Bool

    /// How many full contexts the KV cache holds by default.
    public static let cacheContexts = 3

    /// Loads `model` and, when given, the vision projector `mmproj`; `chatTemplate` names a
    /// family to use instead of the model's own template; `imagePixels` bounds the pixels of a
    /// resized image where the encoder resizes dynamically (Qwen2.5-VL; nil bounds: the file's
    /// keys, else llama.cpp's 8 to 4096 tokens).
    public init(model: String, mmproj: String?, options: TextModelOptions, chatTemplate: String? = nil,
                imagePixels: (min: Int?, max: Int?) = (nil, nil)) throws {
        let file = try GGUFFile(path: model)
        // Ollama's own Qwen3-VL conversion: one merged patch kernel, split q/k/v, renamed
        // deepstack mergers and no rope sections (see README, Qwen2.5-VL and Qwen3-VL).
        if file.architecture == "qwen3vl", file.tensor(named: "v.patch_embed.weight") != nil {
            throw ChatModelError.ollamaOneFileQwen3VL(path: model)
        }
        tokenizer = try VocabularyTokenizer(file: file)
        // Searches hold several sequences at once: the prompt, N candidates forked from the
        // accepted prefix, and the self judge's comparisons. Unless told otherwise the cache
        // holds three contexts' worth of positions (shared prefixes count once).
        var options = options
        if options.cacheCapacity == nil {
            let configuration = try TextModelConfiguration(file: file, contextLength: options.contextLength)
            options.cacheCapacity = Self.cacheContexts * configuration.contextLength
        }
        // A separate projector is loaded too: count it when checking that everything fits.
        if let mmproj, let size = try? FileManager.default.attributesOfItem(atPath: mmproj)[.size] as? Int {
            options.reservedBytes += size
        }
        textModel = try loadTextModel(file: file, options: options)
        template = try ChatTemplateFamily.resolve(name: chatTemplate, template: file.optionalString("tokenizer.chat_template"))
        knowsStageFormat = (try? file.bool("ponder.stage_format")) ?? false
        let templateText = (try? file.optionalString("tokenizer.chat_template")) ?? nil
        opensThinking = templateText.map { $0.contains("assistant\\n<think>") || $0.contains("assistant\n<think>") } ?? false
        path = model
        let source = mmproj ?? (ChatVisionEncoder.holdsVision(file) ? model : nil)
        if let source {
            let vision = try ChatVisionEncoder.load(path: source, threads: options.threadCount, imagePixels: imagePixels)
            guard vision.outputWidth == textModel.embeddingLength else {
                throw VisionError(file: source, kind: .textModelMismatch(
                    projectorWidth: vision.outputWidth, textWidth: textModel.embeddingLength))
            }
            if case .qwen3vl(let encoder) = vision,
               let text = textModel as? TransformerTextModel, encoder.deepstackLayers.count != text.configuration.deepstackLayerCount {
                throw VisionError(file: source, kind: .invalidValue(
                    key: "clip.vision.is_deepstack_layers", value: "\(encoder.deepstackLayers.count) layers",
                    reason: "the text model \(model) takes \(text.configuration.deepstackLayerCount) deepstack features"))
            }
            self.vision = vision
        } else {
            vision = nil
        }
        let isMllama = file.architecture == "mllama"
        if isMllama != (vision?.layout == .mllama), let source = mmproj {
            throw VisionError(file: source, kind: .invalidValue(
                key: "general.architecture", value: isMllama ? "clip" : "mllama",
                reason: "this projector does not go with the \(file.architecture ?? "unknown") text model \(model)"))
        }
    }

    /// How images are laid out in this model's prompts.
    public var imageLayout: ImagePromptLayout {
        vision?.layout ?? ((textModel as? TransformerTextModel)?.configuration.architecture == .mllama ? .mllama : .mlp)
    }

    /// Decodes and encodes the image at `path`. Throws when there is no vision encoder.
    public func encodeImage(atPath path: String, progress: MllamaVisionEncoder.Progress? = nil) throws -> EncodedImage {
        guard let vision else { throw ChatModelError.noVisionProjector(image: path) }
        do {
            return try vision.encode(try ImageDecoder.decode(contentsOf: path), progress: progress)
        } catch var error as VisionError {
            if error.file == nil { error.file = path }   // the image is at fault
            throw error
        }
    }

    /// `messages` rendered with the chat template and the generation prompt, each image
    /// marker replaced by the next of `images`. Llama 3.2 Vision's template has no system
    /// block when the conversation holds an image, so system messages are left out then.
    public func prompt(_ messages: [ChatMessage], images: [EncodedImage]) throws -> GenerationPrompt {
        var messages = messages
        if imageLayout == .mllama, !images.isEmpty { messages.removeAll { $0.role == .system } }
        let text = template.family.render(messages, addGenerationPrompt: true)
        return try MultimodalPrompt(tokenizer: tokenizer, layout: imageLayout).inputs(for: text, images: images)
    }

    /// The prompt of one question (with the stage instruction appended when given), after an
    /// optional system message and the earlier exchanges of the conversation (each question
    /// with the instruction too, each answer as the assistant turn). The images go in front of
    /// the first question.
    public func prompt(question: String, instruction: String?, system: String?, images: [EncodedImage],
                       history: [(question: String, answer: String)] = []) throws -> GenerationPrompt {
        var messages: [ChatMessage] = []
        if let system { messages.append(.system(system)) }
        func asked(_ text: String) -> String { instruction.map { text + "\n\n" + $0 } ?? text }
        for (index, earlier) in history.enumerated() {
            messages.append(.user(asked(earlier.question), images: index == 0 ? images.count : 0))
            messages.append(.assistant(earlier.answer))
        }
        messages.append(.user(asked(question), images: history.isEmpty ? images.count : 0))
        return try prompt(messages, images: images)
    }
}

/// Why a `ChatModel` cannot do what was asked. One sentence naming the value.
public enum ChatModelError: Error, Sendable, CustomStringConvertible {
    case noVisionProjector(image: String)
    /// Ollama's one-file Qwen3-VL (`qwen3vl` with its vision tower inside), which Ponder does
    /// not read.
    case ollamaOneFileQwen3VL(path: String)

    public var description: String {
        switch self {
        case .noVisionProjector(let image):
            "The image \(image) needs a vision projector (--mmproj) to go with the model."
        case .ollamaOneFileQwen3VL(let path):
            "\(path) is Ollama's one-file Qwen3-VL, whose layout Ponder does not read; use llama.cpp's files "
                + "(the model and its mmproj, e.g. from a Hugging Face GGUF repository)."
        }
    }
}
