import GGUF

/// The one error type of the tokenizers: a bad vocabulary or an unsupported pre-tokenizer.
/// `description` is one sentence that names the file and the key or value at fault.
public struct TokenizerError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// A GGUF metadata problem (missing key, wrong type), as the GGUF module reported it.
        case metadata(GGUFError)
        case unsupportedModel(String)
        case unsupportedPreTokenizer(String)
        case unsupportedPattern(pattern: String, reason: String)
        case emptyVocabulary
        case lengthMismatch(key: String, count: Int, tokenCount: Int)
        case malformedMerge(index: Int, text: String)
        case tokenOutOfRange(key: String, token: Int, tokenCount: Int)
        case duplicateToken(text: String, first: Int, second: Int)
        case invalidTokenType(index: Int, value: Int)
        case missingSpecialToken(String)
    }

    /// The file (path or name) the vocabulary came from.
    public var file: String
    public var kind: Kind

    public init(file: String = "<memory>", kind: Kind) {
        self.file = file
        self.kind = kind
    }

    static func unsupportedPattern(pattern: String, reason: String) -> TokenizerError {
        TokenizerError(kind: .unsupportedPattern(pattern: pattern, reason: reason))
    }

    /// The same error, attributed to `file`.
    func attributed(to file: String) -> TokenizerError {
        var copy = self
        copy.file = file
        return copy
    }

    public var description: String {
        if case .metadata(let error) = kind { return error.description }
        return "\(file): \(message)"
    }

    public var message: String {
        switch kind {
        case .metadata(let error):
            return error.message
        case .unsupportedModel(let model):
            return "tokenizer.ggml.model is '\(model)'; only 'gpt2' (byte-level BPE) and 'llama' (SentencePiece) are supported"
        case .unsupportedPreTokenizer(let name):
            return "tokenizer.ggml.pre is '\(name)', a pre-tokenizer that llama.cpp does not know"
        case .unsupportedPattern(let pattern, let reason):
            return "the pre-tokenizer pattern '\(pattern)' uses \(reason), which is not supported"
        case .emptyVocabulary:
            return "tokenizer.ggml.tokens is empty"
        case .lengthMismatch(let key, let count, let tokenCount):
            return "\(key) has \(count) entries but tokenizer.ggml.tokens has \(tokenCount)"
        case .malformedMerge(let index, let text):
            return "tokenizer.ggml.merges entry \(index) ('\(text.prefix(40))') has no space between its two parts"
        case .tokenOutOfRange(let key, let token, let tokenCount):
            return "\(key) is \(token), outside the vocabulary of \(tokenCount) tokens"
        case .duplicateToken(let text, let first, let second):
            return "tokenizer.ggml.tokens holds '\(text.prefix(40))' twice (ids \(first) and \(second))"
        case .invalidTokenType(let index, let value):
            return "tokenizer.ggml.token_type entry \(index) is \(value); valid types are 0 to 6"
        case .missingSpecialToken(let name):
            return "the vocabulary asks for a \(name) token to be added but has none"
        }
    }
}
