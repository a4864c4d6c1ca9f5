import Foundation

/// What differs between the servers Ponder drives. Known by `/v1/models` (`owned_by`) and the
/// servers' own version endpoints.
public enum Dialect: String, Sendable, CaseIterable {
    case vllm, sglang, llamaServer = "llama-server", ollama, openAI = "openai-compatible"

    /// How the assistant text so far is continued: `continue_final_message` with no generation
    /// prompt (vLLM, SGLang, llama-server), or a trailing assistant message alone (Ollama, and
    /// servers not known to take the flags).
    var continuesWithFlags: Bool { [.vllm, .sglang, .llamaServer].contains(self) }

    /// Whether `n > 1` is tried first (a refusal or a short answer switches to one request per
    /// candidate for the rest of the session).
    var triesSeveralChoices: Bool { self != .ollama }

    /// llama-server returns the continued assistant text at the start of `content`.
    var echoesPrefix: Bool { self == .llamaServer }

    /// The path of the tokenizer endpoint, for the ids `logit_bias` needs.
    var tokenizePath: String? {
        switch self {
        case .vllm, .sglang: "/tokenize"
        case .llamaServer: "/tokenize"
        case .ollama, .openAI: nil
        }
    }

    /// The server behind `client`, from what its endpoints say.
    static func detect(_ client: OpenAIClient, models: ModelList) async -> Dialect {
        let owners = Set(models.data.compactMap { $0.owned_by?.lowercased() })
        if owners.contains("vllm") { return .vllm }
        if owners.contains("sglang") { return .sglang }
        if owners.contains("llamacpp") || owners.contains("llama.cpp") { return .llamaServer }
        if owners.contains("library") || owners.contains("ollama") { return .ollama }
        if let (status, _) = await client.probe("/api/version"), status == 200 { return .ollama }
        if let (status, body) = await client.probe("/props"), status == 200,
           String(decoding: body, as: UTF8.self).contains("default_generation_settings") { return .llamaServer }
        if let (status, _) = await client.probe("/get_server_info"), status == 200 { return .sglang }
        if let (status, body) = await client.probe("/version"), status == 200,
           String(decoding: body, as: UTF8.self).contains("version") { return .vllm }
        return .openAI
    }
}
