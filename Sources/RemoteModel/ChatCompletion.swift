import Foundation

/// The OpenAI chat-completions wire format, as far as Ponder uses it.
struct ChatCompletionRequest: Encodable {
    struct Message: Encodable, Equatable, Sendable {
        var role: String
        var content: [Part]

        enum Part: Encodable, Equatable, Sendable {
            case text(String)
            case image(url: String)

            enum CodingKeys: String, CodingKey { case type, text, image_url }
            struct ImageURL: Encodable { var url: String }

            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                switch self {
                case .text(let text):
                    try container.encode("text", forKey: .type)
                    try container.encode(text, forKey: .text)
                case .image(let url):
                    try container.encode("image_url", forKey: .type)
                    try container.encode(ImageURL(url: url), forKey: .image_url)
                }
            }
        }

        /// Plain text content is sent as a string (every server takes that; some refuse parts
        /// in assistant messages).
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(role, forKey: .role)
            if content.count == 1, case .text(let text) = content[0] {
                try container.encode(text, forKey: .content)
            } else {
                try container.encode(content, forKey: .content)
            }
        }

        enum CodingKeys: String, CodingKey { case role, content }
    }

    struct StreamOptions: Encodable { var include_usage = true }

    var model: String
    var messages: [Message]
    var stream: Bool
    var n: Int?
    var max_tokens: Int
    var temperature: Double?
    var top_p: Double?
    var top_k: Int?
    var seed: UInt64?
    var stop: [String]?
    var logprobs: Bool?
    var top_logprobs: Int?
    var logit_bias: [String: Double]?
    var continue_final_message: Bool?
    var add_generation_prompt: Bool?
    var stream_options: StreamOptions?
}

/// One streamed chunk, or a whole response (`message` instead of `delta`).
struct ChatCompletionChunk: Decodable {
    struct Choice: Decodable {
        struct Delta: Decodable { var content: String? }
        struct LogProbs: Decodable { var content: [TokenLogProb]? }
        var index: Int?
        var delta: Delta?
        var message: Delta?
        var logprobs: LogProbs?
        var finish_reason: String?
        /// vLLM: the stop string that ended the choice (a string), or a token id.
        var stop_reason: StopReason?
    }

    var choices: [Choice]?
    var usage: Usage?
    /// llama-server: its own timings, with the prompt positions taken from its cache.
    var timings: Timings?
    var error: ServerError?

    struct Timings: Decodable { var cache_n: Int? }
    struct ServerError: Decodable { var message: String? }
}

struct TokenLogProb: Decodable {
    struct Top: Decodable {
        var token: String
        var logprob: Double
        var bytes: [UInt8]?
    }

    var token: String
    var logprob: Double
    var bytes: [UInt8]?
    var top_logprobs: [Top]?

    /// The token's text: from its bytes where given (a token may be part of a UTF-8 character).
    var bytesOrText: [UInt8] { bytes ?? Array(token.utf8) }
}

enum StopReason: Decodable, Equatable {
    case string(String)
    case token(Int)

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let string = try? container.decode(String.self) {
            self = .string(string)
        } else {
            self = .token(try container.decode(Int.self))
        }
    }
}

struct Usage: Decodable {
    struct Details: Decodable { var cached_tokens: Int? }
    var prompt_tokens: Int?
    var completion_tokens: Int?
    var prompt_tokens_details: Details?
}

/// `GET /v1/models`.
struct ModelList: Decodable {
    struct Entry: Decodable {
        var id: String
        var owned_by: String?
    }

    var data: [Entry]
}
