import Inference
import Reasoning
import TUI

/// The chat's model in-process: a loaded `ChatModel`, each image encoded once when loaded and
/// kept with the model that answers about it.
public struct LocalChatSource: ChatModelSource {
    public let chat: ChatModel
    public let name: String

    public init(chat: ChatModel, name: String) {
        self.chat = chat
        self.name = name
    }

    public var stagePlan: StagePlan { chat.opensThinking ? .thinking : .llavaCoT }
    public var wantsStageInstruction: Bool { !(chat.knowsStageFormat || chat.opensThinking) }

    public func textOnlyModel() throws -> any ReasoningModel { LocalReasoningModel(chat: chat, images: []) }

    public func attach(imageAt path: String, progress: @escaping @Sendable (String) -> Void) async throws
        -> (PreviewImage, any ReasoningModel) {
        do {
            let pixels = try ImageDecoder.decode(contentsOf: path)
            guard chat.vision != nil else { throw ChatModelError.noVisionProjector(image: path) }
            let embeddings = try chat.encodeImage(atPath: path) { done, total in
                progress("Encoding the image: layer \(done) of \(total)…")
            }
            return (PreviewImage(width: pixels.width, height: pixels.height, pixels: pixels.pixels),
                    LocalReasoningModel(chat: chat, images: [embeddings]))
        } catch {
            throw ChatFailure(String(describing: error))
        }
    }
}
