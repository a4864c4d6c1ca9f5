import Inference
import Reasoning
import RemoteModel
import TUI

/// The chat's model on a server: images decoded here for the preview and sent with the
/// question as data URLs.
public struct RemoteChatSource: ChatModelSource {
    public let model: RemoteModel

    public init(model: RemoteModel) { self.model = model }

    /// Connects to `server` (see `RemoteModel.connect`).
    public static func connect(server: String, servedModel: String? = nil, keyVariable: String? = nil,
                               log: @escaping @Sendable (String) -> Void = { _ in }) async throws -> RemoteChatSource {
        do {
            return RemoteChatSource(model: try await RemoteModel.connect(server: server, servedModel: servedModel,
                                                                         keyVariable: keyVariable, log: log))
        } catch {
            throw ChatFailure(String(describing: error))
        }
    }

    public var name: String { "\(model.connection.model) @ \(model.connection.server)" }
    public var stagePlan: StagePlan { .llavaCoT }
    public var wantsStageInstruction: Bool { true }

    public func textOnlyModel() throws -> any ReasoningModel { model }

    public func attach(imageAt path: String, progress: @escaping @Sendable (String) -> Void) async throws
        -> (PreviewImage, any ReasoningModel) {
        do {
            let pixels = try ImageDecoder.decode(contentsOf: path)
            return (PreviewImage(width: pixels.width, height: pixels.height, pixels: pixels.pixels),
                    try model.attaching(imageAt: path))
        } catch {
            throw ChatFailure(String(describing: error))
        }
    }
}
