import Foundation
import Reasoning

/// The self judge over a server: one token of the comparison's answer (`max_tokens: 1`,
/// `top_logprobs: 20`, greedy), and the verdict from the log-probabilities of `1` and `2`.
/// When an answer is not among the top ones, it is raised with `logit_bias` on its id (asked of
/// the server's tokenizer), else read from the generated token.
final class RemoteChoiceSession: ChoiceSession, @unchecked Sendable {
    let model: RemoteModel
    private(set) var promptTokens = 0

    init(model: RemoteModel) { self.model = model }

    func logProbabilities(_ conversation: ReasoningConversation, choices: [String]) async throws -> [Double] {
        let connection = model.connection
        var request = ChatCompletionRequest(
            model: connection.model, messages: model.messages(conversation), stream: false, n: nil, max_tokens: 1,
            temperature: 0, top_p: nil, top_k: nil, seed: 0, stop: nil, logprobs: true, top_logprobs: 20, logit_bias: nil,
            continue_final_message: nil, add_generation_prompt: nil, stream_options: nil)
        var reply = try await ask(request)
        var values = Self.read(reply, choices: choices)
        if values.contains(where: { $0 == nil }), let ids = await tokenIDs(choices) {
            // Raise every answer by the same amount: their order and differences stay.
            request.logit_bias = Dictionary(uniqueKeysWithValues: ids.map { (String($0), 30.0) })
            reply = try await ask(request)
            values = Self.read(reply, choices: choices)
        }
        if values.contains(where: { $0 == nil }) {
            // Fall back to the generated token: it is the answer the server liked best.
            let generated = reply.choices?.first?.message?.content?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            return choices.map { $0 == generated ? 0 : -.infinity }
        }
        return values.map { $0 ?? -.infinity }
    }

    private func ask(_ request: ChatCompletionRequest) async throws -> ChatCompletionChunk {
        let reply = try await model.connection.client.post("/v1/chat/completions", request, as: ChatCompletionChunk.self)
        guard let choices = reply.choices, !choices.isEmpty else { throw RemoteError.noChoices(server: model.connection.server) }
        promptTokens += reply.usage?.prompt_tokens ?? 0
        return reply
    }

    /// The log-probability of each choice among the first token's top list (nil: absent).
    static func read(_ reply: ChatCompletionChunk, choices: [String]) -> [Double?] {
        guard let first = reply.choices?.first?.logprobs?.content?.first else { return choices.map { _ in nil } }
        var tops = (first.top_logprobs ?? []).map { (String(decoding: $0.bytes ?? Array($0.token.utf8), as: UTF8.self), $0.logprob) }
        tops.append((String(decoding: first.bytesOrText, as: UTF8.self), first.logprob))
        return choices.map { choice in
            tops.filter { $0.0.trimmingCharacters(in: .whitespaces) == choice }.map(\.1).max()
        }
    }

    /// The token ids of `choices` from the server's tokenizer, where it has one.
    private func tokenIDs(_ choices: [String]) async -> [Int]? {
        let connection = model.connection
        guard let path = connection.dialect.tokenizePath else { return nil }
        struct Request: Encodable {
            var model: String
            var prompt: String
            var content: String
            var add_special_tokens = false
        }
        struct Reply: Decodable { var tokens: [Int] }
        var ids: [Int] = []
        for choice in choices {
            guard let reply = try? await connection.client.post(path, Request(model: connection.model, prompt: choice, content: choice),
                                                                as: Reply.self),
                  reply.tokens.count == 1 else { return nil }
            ids.append(reply.tokens[0])
        }
        return ids
    }
}
