import Foundation
import Inference
import Reasoning

/// A server Ponder talks to: its client, its dialect, the served model, and whether it takes
/// `n > 1` (learnt on the first refusal or short answer, then kept).
public final class RemoteConnection: Sendable {
    let client: OpenAIClient
    public let dialect: Dialect
    public let model: String
    let log: @Sendable (String) -> Void
    private let state = Locked(several: true)

    init(client: OpenAIClient, dialect: Dialect, model: String, log: @escaping @Sendable (String) -> Void) {
        self.client = client
        self.dialect = dialect
        self.model = model
        self.log = log
        state.set(several: dialect.triesSeveralChoices)
    }

    public var server: String { client.base }
    var usesSeveralChoices: Bool { state.several }

    func useOneChoicePerRequest(because reason: String) {
        if state.several {
            state.set(several: false)
            log("\(server) (\(dialect.rawValue)): \(reason); sending one request per candidate, with seeds seed+i.")
        }
    }

    final class Locked: @unchecked Sendable {
        private let lock = NSLock()
        private var value: Bool
        init(several: Bool) { value = several }
        var several: Bool { lock.withLock { value } }
        func set(several: Bool) { lock.withLock { value = several } }
    }
}

/// `ReasoningModel` over an OpenAI-compatible server: a prefix is the conversation's messages
/// and the assistant text so far, sent as a continued final message; the server's prefix cache
/// does the sharing. One streamed request per stage group, with `n` candidates.
public struct RemoteModel: ReasoningModel {
    public let connection: RemoteConnection
    /// The conversation's image, as a data URL.
    public let imageURL: String?

    /// Connects to `server`: lists its models (the first is used when `servedModel` is nil)
    /// and finds its dialect. `log` receives what was chosen (`--verbose`).
    public static func connect(server: String, servedModel: String? = nil, keyVariable: String? = nil,
                               idleTimeout: Int = 120, log: @escaping @Sendable (String) -> Void = { _ in })
        async throws -> RemoteModel {
        let client = try OpenAIClient(server: server, keyVariable: keyVariable, idleTimeout: idleTimeout)
        let models = try await client.get("/v1/models", as: ModelList.self)
        let dialect = await Dialect.detect(client, models: models)
        guard let model = servedModel ?? models.data.first?.id else { throw RemoteError.noModel(server: client.base) }
        if let servedModel, !models.data.contains(where: { $0.id == servedModel }) {
            throw RemoteError.unknownModel(server: client.base, model: servedModel)
        }
        log("\(client.base): \(dialect.rawValue), model \(model)")
        return RemoteModel(connection: RemoteConnection(client: client, dialect: dialect, model: model, log: log), imageURL: nil)
    }

    /// The models `server` serves, with its dialect.
    public static func servedModels(server: String, keyVariable: String? = nil) async throws -> (Dialect, [String]) {
        let client = try OpenAIClient(server: server, keyVariable: keyVariable)
        let models = try await client.get("/v1/models", as: ModelList.self)
        return (await Dialect.detect(client, models: models), models.data.map(\.id))
    }

    public init(connection: RemoteConnection, imageURL: String?) {
        self.connection = connection
        self.imageURL = imageURL
    }

    /// The same server with the image at `path` in the conversation (sent as a data URL).
    public func attaching(imageAt path: String) throws -> RemoteModel {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw RemoteError.unreadableImage(path: path, detail: "no such file or not readable")
        }
        let mime: String
        if data.starts(with: [0xFF, 0xD8, 0xFF]) {
            mime = "image/jpeg"
        } else if data.starts(with: [0x89, 0x50, 0x4E, 0x47]) {
            mime = "image/png"
        } else {
            throw RemoteError.unreadableImage(path: path, detail: "not a JPEG or PNG file")
        }
        return RemoteModel(connection: connection, imageURL: "data:\(mime);base64,\(data.base64EncodedString())")
    }

    // MARK: - ReasoningModel

    public func prepare(_ conversation: ReasoningConversation) async throws -> any ReasoningPrefix {
        RemotePrefix(messages: messages(conversation), text: "")
    }

    public func extend(_ prefix: any ReasoningPrefix, with pieces: [PrefixPiece]) async throws -> any ReasoningPrefix {
        let prefix = try remote(prefix)
        return RemotePrefix(messages: prefix.messages, text: prefix.text + pieces.map(\.text).joined())
    }

    public func choiceSession(sharing: (any ReasoningPrefix)?) -> any ChoiceSession {
        RemoteChoiceSession(model: self)
    }

    func remote(_ prefix: any ReasoningPrefix) throws -> RemotePrefix {
        guard let remote = prefix as? RemotePrefix else {
            throw RemoteError.malformed(server: connection.server, detail: "a prefix made by another model")
        }
        return remote
    }

    /// The conversation as chat messages: the system prompt, the earlier turns (the image with
    /// the first question), and the question with the instruction.
    func messages(_ conversation: ReasoningConversation) -> [ChatCompletionRequest.Message] {
        typealias Message = ChatCompletionRequest.Message
        var out: [Message] = []
        if let system = conversation.system { out.append(Message(role: "system", content: [.text(system)])) }
        func asked(_ text: String) -> String { conversation.instruction.map { text + "\n\n" + $0 } ?? text }
        func user(_ text: String, image: Bool) -> Message {
            if image, conversation.withImage, let imageURL {
                return Message(role: "user", content: [.image(url: imageURL), .text(asked(text))])
            }
            return Message(role: "user", content: [.text(asked(text))])
        }
        for (index, turn) in conversation.history.enumerated() {
            out.append(user(turn.question, image: index == 0))
            out.append(Message(role: "assistant", content: [.text(turn.answer)]))
        }
        out.append(user(conversation.question, image: conversation.history.isEmpty))
        return out
    }

    /// A chat request continuing `prefix` after `opening`.
    func body(_ prefix: RemotePrefix, opening: String, n: Int, request: SampleRequest, seedOffset: Int)
        -> ChatCompletionRequest {
        let dialect = connection.dialect
        let assistant = prefix.text + opening
        var messages = prefix.messages
        if !assistant.isEmpty { messages.append(.init(role: "assistant", content: [.text(assistant)])) }
        let parameters = request.parameters
        let extras = dialect.continuesWithFlags
        return ChatCompletionRequest(
            model: connection.model, messages: messages, stream: true, n: n > 1 ? n : nil,
            max_tokens: request.maxTokens, temperature: Double(parameters.temperature),
            top_p: parameters.topP < 1 ? Double(parameters.topP) : nil,
            top_k: extras && parameters.topK > 0 ? parameters.topK : nil,
            seed: parameters.seed &+ UInt64(seedOffset),
            stop: Array((request.stops + Self.serverCuts(request.cuts)).prefix(Self.maxStops)), logprobs: true,
            top_logprobs: nil, logit_bias: nil,
            continue_final_message: extras && !assistant.isEmpty ? true : nil,
            add_generation_prompt: extras && !assistant.isEmpty ? false : nil,
            stream_options: .init())
    }
}

extension RemoteModel {
    /// The most stop strings a request carries (OpenAI's limit, which vLLM enforces); the other
    /// cut tags are found in the streamed text.
    static let maxStops = 4

    /// The cut tags worth sending as stop strings: opening tags first (a candidate that runs on
    /// writes the next stage's opening tag before anything else).
    static func serverCuts(_ cuts: [String]) -> [String] {
        cuts.filter { !$0.hasPrefix("</") } + cuts.filter { $0.hasPrefix("</") }
    }
}

/// The messages of a conversation and the assistant text written after them.
public final class RemotePrefix: ReasoningPrefix {
    let messages: [ChatCompletionRequest.Message]
    public let text: String
    public var promptPositions: Int { 0 }

    init(messages: [ChatCompletionRequest.Message], text: String) {
        self.messages = messages
        self.text = text
    }
}
