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
    public let encoder: VisionTransformer?
    /// The chat template in use, and the warning when it fell back to ChatML.
    public let template: ChatTemplateDetection
    /// Whether the model was trained to answer in the four tagged stages (the GGUF key
    /// `ponder.stage_format`), so it needs no instruction asking for them.
    public let knowsStageFormat: Bool

    /// How many full contexts the KV cache holds by default.
    public static let cacheContexts = 3

    /// Loads `model` and, when given, the vision projector `mmproj`; `chatTemplate` names a
    /// family to use instead of the model's own template.
    public init(model: String, mmproj: String?, options: TextModelOptions, chatTemplate: String? = nil) throws {
        let file = try GGUFFile(path: model)
        tokenizer = try VocabularyTokenizer(file: file)
        // Searches hold several sequences at once: the prompt, N candidates forked from the
        // accepted prefix, and the self judge's comparisons. Unless told otherwise the cache
        // holds three contexts' worth of positions (shared prefixes count once).
        var options = options
        if options.cacheCapacity == nil {
            let configuration = try TextModelConfiguration(file: file, contextLength: options.contextLength)
            options.cacheCapacity = Self.cacheContexts * configuration.contextLength
        }
        textModel = try loadTextModel(file: file, options: options)
        template = try ChatTemplateFamily.resolve(name: chatTemplate, template: file.optionalString("tokenizer.chat_template"))
        knowsStageFormat = (try? file.bool("ponder.stage_format")) ?? false
        path = model
        if let mmproj {
            let encoder = try loadVisionEncoder(path: mmproj, threads: options.threadCount)
            guard encoder.embeddingWidth == textModel.embeddingLength else {
                throw VisionError(file: mmproj, kind: .textModelMismatch(
                    projectorWidth: encoder.embeddingWidth, textWidth: textModel.embeddingLength))
            }
            self.encoder = encoder
        } else {
            encoder = nil
        }
    }

    /// Decodes and encodes the image at `path`. Throws when there is no vision projector.
    public func encodeImage(atPath path: String) throws -> ImageEmbeddings {
        guard let encoder else { throw ChatModelError.noVisionProjector(image: path) }
        return encoder.encode(try ImageDecoder.decode(contentsOf: path))
    }

    /// `messages` rendered with the chat template and the generation prompt, each image
    /// marker replaced by the next of `images`.
    public func prompt(_ messages: [ChatMessage], images: [ImageEmbeddings]) throws -> GenerationPrompt {
        let text = template.family.render(messages, addGenerationPrompt: true)
        let projector = encoder?.configuration.projectorType ?? .mlp
        return try MultimodalPrompt(tokenizer: tokenizer, projectorType: projector).inputs(for: text, images: images)
    }

    /// The prompt of one question (with the stage instruction appended when given), an
    /// optional system message first and the images in front of the question.
    public func prompt(question: String, instruction: String?, system: String?, images: [ImageEmbeddings]) throws -> GenerationPrompt {
        var messages: [ChatMessage] = []
        if let system { messages.append(.system(system)) }
        let asked = instruction.map { question + "\n\n" + $0 } ?? question
        messages.append(.user(asked, images: images.count))
        return try prompt(messages, images: images)
    }
}

/// Why a `ChatModel` cannot do what was asked. One sentence naming the value.
public enum ChatModelError: Error, Sendable, CustomStringConvertible {
    case noVisionProjector(image: String)

    public var description: String {
        switch self {
        case .noVisionProjector(let image):
            "The image \(image) needs a vision projector (--mmproj) to go with the model."
        }
    }
}
