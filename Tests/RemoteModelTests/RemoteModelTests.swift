import Foundation
import Inference
import Reasoning
@testable import RemoteModel
import Testing

/// JSON of one streamed chunk: `text` for choice `index`, with one log-probability per word,
/// and a finish reason (and vLLM's stop reason) when given.
func chunk(_ index: Int, _ text: String, finish: String? = nil, stop: String? = nil) -> String {
    let logprobs = text.split(separator: " ").map { #"{"token": \#(jsonString(String($0))), "logprob": -0.5}"# }
        .joined(separator: ",")
    var choice = #"{"index": \#(index), "delta": {"content": \#(jsonString(text))}, "logprobs": {"content": [\#(logprobs)]}"#
    choice += ", \"finish_reason\": " + (finish.map(jsonString) ?? "null")
    if let stop { choice += ", \"stop_reason\": \(jsonString(stop))" }
    return #"{"choices": [\#(choice)}]}"#
}

func jsonString(_ text: String) -> String {
    String(decoding: try! JSONEncoder().encode(text), as: UTF8.self)
}

func models(_ owner: String) -> FaultServer.Reply {
    .status(200, #"{"object": "list", "data": [{"id": "tiny", "owned_by": "\#(owner)"}]}"#)
}

let usage = #"{"choices": [], "usage": {"prompt_tokens": 40, "completion_tokens": 3, "prompt_tokens_details": {"cached_tokens": 32}}}"#

@Suite("Remote model over a test server")
struct RemoteModelTests {
    static let conversation = ReasoningConversation(question: "How many?", system: "Be brief.")

    @Test("a stage group is one streamed request: continued final message, n, stop tags, logprobs; the closing tag goes back")
    func stageRequest() async throws {
        let server = try FaultServer([
            "/v1/models": [models("vllm")],
            "/v1/chat/completions": [.events([chunk(0, "Count"), chunk(1, "Guess"), chunk(0, " them.", finish: "stop", stop: "</SUMMARY>"),
                                              chunk(1, " \n", finish: "stop", stop: "<CAPTION>"), usage])],
        ])
        let model = try await RemoteModel.connect(server: server.url)
        #expect(model.connection.dialect == .vllm && model.connection.model == "tiny")
        let prefix = try await model.extend(try await model.prepare(Self.conversation), with: [PrefixPiece(text: "Hi ")])
        var texts: [Int: String] = [:]
        let result = try await model.sample(SampleRequest(groups: [.init(prefix: prefix, count: 2)], opening: "<SUMMARY>",
                                                          stops: ["</SUMMARY>"], cuts: ["<CAPTION>"], closing: "</SUMMARY>",
                                                          parameters: .greedy, maxTokens: 32, keepsContinuations: true)) { event in
            if case .token(let k, let text) = event { texts[k, default: ""] += text }
        }
        #expect(texts == [0: "Count them.", 1: "Guess \n"])
        #expect(result.candidates.map(\.text) == ["Count them.", "Guess"])
        #expect(result.candidates.map(\.cutAt) == [nil, "<CAPTION>"])
        #expect(result.candidates[0].logProbabilities == [-0.5, -0.5])
        #expect(result.continuations.map { $0?.text } == ["Hi <SUMMARY>Count them.</SUMMARY>", "Hi <SUMMARY>Guess</SUMMARY>"])
        #expect(result.promptTokens == 40 && result.cachedTokens == 32)
        let body = try #require(server.posted("/v1/chat/completions").first)
        #expect(body["n"] as? Int == 2 && body["stream"] as? Bool == true && body["logprobs"] as? Bool == true)
        #expect(body["continue_final_message"] as? Bool == true && body["add_generation_prompt"] as? Bool == false)
        #expect(body["stop"] as? [String] == ["</SUMMARY>", "<CAPTION>"])
        let messages = try #require(body["messages"] as? [[String: Any]])
        #expect(messages.map { $0["role"] as? String } == ["system", "user", "assistant"])
        #expect(messages.last?["content"] as? String == "Hi <SUMMARY>")
    }

    @Test("a server that refuses n > 1 gets one request per candidate, with seeds seed+i, from then on")
    func refusedChoices() async throws {
        let server = try FaultServer([
            "/v1/models": [models("llamacpp")],
            "/v1/chat/completions": [.status(400, #"{"error": {"message": "Only one completion choice is allowed"}}"#),
                                     .events([chunk(0, "<SUMMARY>A", finish: "stop")])],
        ])
        let log = Log()
        let model = try await RemoteModel.connect(server: server.url, log: log.add)
        #expect(model.connection.dialect == .llamaServer)
        let prefix = try await model.prepare(Self.conversation)
        var parameters = SamplingParameters.greedy
        parameters.seed = 10
        let result = try await model.sample(SampleRequest(groups: [.init(prefix: prefix, count: 3)], opening: "<SUMMARY>",
                                                          stops: ["</SUMMARY>"], parameters: parameters, maxTokens: 8)) { _ in }
        // llama-server echoes the assistant text: it is stripped.
        #expect(result.candidates.map(\.text) == ["A", "A", "A"])
        let seeds = server.posted("/v1/chat/completions").dropFirst().compactMap { $0["seed"] as? Int }
        #expect(Set(seeds) == [10, 11, 12] && server.count("/v1/chat/completions") == 4)
        #expect(log.lines.contains { $0.contains("one request per candidate") })
        #expect(!model.connection.usesSeveralChoices)
    }

    @Test("the self judge reads 1 and 2 from the top log-probabilities, raising them with logit_bias when absent")
    func selfJudge() async throws {
        let top = #"{"choices": [{"message": {"content": "2"}, "logprobs": {"content": [{"token": "2", "logprob": -0.2, "top_logprobs": [{"token": "2", "logprob": -0.2}, {"token": "1", "logprob": -1.9}]}]}}], "usage": {"prompt_tokens": 50}}"#
        let absent = #"{"choices": [{"message": {"content": "The"}, "logprobs": {"content": [{"token": "The", "logprob": -0.1, "top_logprobs": [{"token": "The", "logprob": -0.1}]}]}}], "usage": {"prompt_tokens": 50}}"#
        let server = try FaultServer([
            "/v1/models": [models("vllm")],
            "/v1/chat/completions": [.status(200, top), .status(200, absent), .status(200, top)],
            "/tokenize": [.status(200, #"{"tokens": [16]}"#), .status(200, #"{"tokens": [17]}"#)],
        ])
        let model = try await RemoteModel.connect(server: server.url)
        let session = model.choiceSession(sharing: nil)
        let judge = ReasoningConversation(question: "Which response is better?", system: nil)
        #expect(try await session.logProbabilities(judge, choices: ["1", "2"]) == [-1.9, -0.2])
        #expect(try await session.logProbabilities(judge, choices: ["1", "2"]) == [-1.9, -0.2])
        let bodies = server.posted("/v1/chat/completions")
        #expect(bodies[0]["max_tokens"] as? Int == 1 && bodies[0]["top_logprobs"] as? Int == 20)
        #expect(bodies[2]["logit_bias"] as? [String: Double] == ["16": 30, "17": 30])
        #expect(session.promptTokens == 150)
    }

    @Test("faults: each is one sentence naming the server")
    func faults() async throws {
        let cases: [(FaultServer.Reply, (RemoteError) -> Bool)] = [
            (.status(401, #"{"error": {"message": "bad key"}}"#), { if case .unauthorized = $0 { true } else { false } }),
            (.status(404, #"{"error": {"message": "The model `big` does not exist."}}"#),
             { if case .unknownModel(_, "big") = $0 { true } else { false } }),
            (.status(503, "{}"), { if case .busy(_, 503, 3) = $0 { true } else { false } }),
            (.events([chunk(0, "<SUMMARY>half")], cut: true), { if case .streamCut = $0 { true } else { false } }),
            (.events(["{not json"]), { if case .malformed = $0 { true } else { false } }),
            (.events([#"{"choices": []}"#]), { if case .noChoices = $0 { true } else { false } }),
            (.silence(seconds: 3), { if case .timeout = $0 { true } else { false } }),
        ]
        for (reply, matches) in cases {
            let server = try FaultServer(["/v1/models": [models("vllm")], "/v1/chat/completions": [reply]])
            let client = try OpenAIClient(server: server.url, keyVariable: nil, idleTimeout: 1, tries: 3, backoff: 0.01)
            let model = RemoteModel(connection: RemoteConnection(client: client, dialect: .vllm, model: "tiny", log: { _ in }),
                                    imageURL: nil)
            let prefix = try await model.prepare(Self.conversation)
            do {
                _ = try await model.sample(SampleRequest(groups: [.init(prefix: prefix, count: 1)], parameters: .greedy,
                                                         maxTokens: 8)) { _ in }
                Issue.record("no error for \(reply)")
            } catch let error as RemoteError {
                #expect(matches(error), "\(error)")
                #expect(error.description.contains(server.url) && error.description.hasSuffix("."), "\(error)")
            }
        }
    }

    @Test("429 is retried with backoff, then answered")
    func retries() async throws {
        let server = try FaultServer([
            "/v1/models": [models("sglang")],
            "/v1/chat/completions": [.status(429, "{}", headers: [("Retry-After", "0")]), .status(429, "{}"),
                                     .events([chunk(0, "ok", finish: "stop")])],
        ])
        let client = try OpenAIClient(server: server.url, keyVariable: nil, tries: 3, backoff: 0.01)
        let model = RemoteModel(connection: RemoteConnection(client: client, dialect: .sglang, model: "tiny", log: { _ in }),
                                imageURL: nil)
        let result = try await model.sample(SampleRequest(groups: [.init(prefix: try await model.prepare(Self.conversation), count: 1)],
                                                          parameters: .greedy, maxTokens: 8)) { _ in }
        #expect(result.candidates.map(\.text) == ["ok"] && server.count("/v1/chat/completions") == 3)
    }

    @Test("connection refused, unknown host and a TLS failure are told apart")
    func transportFaults() async throws {
        // A port that is bound but not listening refuses connections, and nothing else can take
        // it while it is held (a stopped server's port could be reused by a parallel test).
        let closed = try ClosedPort()
        let url = "http://127.0.0.1:\(closed.port)"
        await #expect(throws: RemoteError.connectionRefused(server: url)) { _ = try await RemoteModel.connect(server: url) }
        withExtendedLifetime(closed) {}   // held until the refused connection is made
        do {
            _ = try await RemoteModel.connect(server: "http://no-such-host.invalid:9", idleTimeout: 3)
            Issue.record("connected to an unknown host")
        } catch let error as RemoteError {
            if case .unknownHost = error {} else { Issue.record("\(error)") }
        }
        let plain = try FaultServer(["/v1/models": [models("vllm")]])
        do {
            _ = try await RemoteModel.connect(server: plain.url.replacingOccurrences(of: "http:", with: "https:"), idleTimeout: 3)
            Issue.record("TLS to a plain HTTP server succeeded")
        } catch let error as RemoteError {
            if case .tls = error {} else { Issue.record("\(error)") }
        }
    }

    @Test("the API key comes from the named variable, is sent as a bearer token and never appears in errors")
    func apiKey() async throws {
        setenv("PONDER_TEST_KEY", "sk-secret-123", 1)
        let server = try FaultServer(["/v1/models": [.status(401, #"{"error": "invalid key sk-secret-123"}"#)]])
        do {
            _ = try await RemoteModel.connect(server: server.url, keyVariable: "PONDER_TEST_KEY")
            Issue.record("no error")
        } catch let error as RemoteError {
            #expect(error == .unauthorized(server: server.url, status: 401, keyVariable: "PONDER_TEST_KEY"))
            #expect(!error.description.contains("sk-secret"))
        }
        await #expect(throws: RemoteError.missingKey(variable: "PONDER_NO_SUCH_KEY")) {
            _ = try await RemoteModel.connect(server: server.url, keyVariable: "PONDER_NO_SUCH_KEY")
        }
    }

    @Test("cancelling mid-stream closes the request and returns the candidates as far as they got, at once")
    func cancellation() async throws {
        // The server stays silent for 60 s. Returning well before that (the bound allows for a loaded CI
        // machine whose parallel tests hold the cooperative threads) shows that the cancel closed the request.
        let server = try FaultServer(["/v1/models": [models("vllm")], "/v1/chat/completions": [.silence(seconds: 60)]])
        let model = try await RemoteModel.connect(server: server.url)
        let prefix = try await model.prepare(Self.conversation)
        let task = Task {
            try await model.sample(SampleRequest(groups: [.init(prefix: prefix, count: 1)], parameters: .greedy, maxTokens: 8)) { _ in }
        }
        try await Task.sleep(nanoseconds: 200_000_000)
        let cancelledAt = Date()
        task.cancel()
        let result = try await task.value
        #expect(result.candidates.map(\.text) == [""])
        #expect(Date().timeIntervalSince(cancelledAt) < 30)
    }

    @Test("an image goes with the first question as a data URL")
    func image() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-remote-\(getpid()).png").path
        try Data([0x89, 0x50, 0x4E, 0x47, 1, 2, 3]).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let server = try FaultServer(["/v1/models": [models("vllm")]])
        let model = try await RemoteModel.connect(server: server.url).attaching(imageAt: path)
        let messages = model.messages(ReasoningConversation(question: "Then?", history: [.init(question: "What?", answer: "A cat.")]))
        #expect(messages.count == 3 && messages[0].content.first == .image(url: "data:image/png;base64,iVBORwECAw=="))
        #expect(messages[2].content == [.text("Then?")])
        #expect(throws: RemoteError.self) { _ = try model.attaching(imageAt: path + ".missing") }
    }
}

final class Log: @unchecked Sendable {
    private let lock = NSLock()
    private var all: [String] = []
    func add(_ line: String) { lock.withLock { all.append(line) } }
    var lines: [String] { lock.withLock { all } }
}
