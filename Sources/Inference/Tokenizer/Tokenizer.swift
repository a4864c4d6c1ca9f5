/// Text ↔ token ids. `VocabularyTokenizer` is the real one (llama.cpp-exact, from a GGUF
/// vocabulary); `CharacterTokenizer` is an in-memory fake for tests of later modules.
public protocol Tokenizer: Sendable {
    /// The number of token ids (valid ids are `0..<vocabularySize`).
    var vocabularySize: Int { get }
    var beginningOfSequenceToken: Int32? { get }
    var endOfSequenceToken: Int32? { get }
    var endOfTurnToken: Int32? { get }
    var paddingToken: Int32? { get }

    /// Token ids for `text`, as llama.cpp's `llama_tokenize`. `addSpecial` adds BOS/EOS as the
    /// model asks; `parseSpecial` turns the text of control tokens into those tokens (user-defined
    /// tokens are always recognised).
    func encode(_ text: String, addSpecial: Bool, parseSpecial: Bool) -> [Int32]

    /// The raw bytes of one token, as llama.cpp's `llama_token_to_piece` with no space strip.
    /// Control and unknown tokens give no bytes unless `special` is true. Ids out of range give
    /// no bytes.
    func piece(for token: Int32, special: Bool) -> [UInt8]

    /// The bytes of a token sequence, as llama.cpp's `llama_detokenize`: `removeSpecial` drops
    /// a leading BOS and trailing EOS the model adds; `renderSpecial` includes control tokens'
    /// text. The bytes may end in an incomplete UTF-8 sequence.
    func detokenize(_ tokens: [Int32], removeSpecial: Bool, renderSpecial: Bool) -> [UInt8]

    /// True for every token that ends generation (end of sequence, end of turn, …).
    func isEndOfGeneration(_ token: Int32) -> Bool
}

extension Tokenizer {
    /// `encode` with the model's BOS/EOS and without special-token parsing.
    public func encode(_ text: String) -> [Int32] {
        encode(text, addSpecial: true, parseSpecial: false)
    }

    /// Text of a token sequence; invalid UTF-8 becomes U+FFFD.
    public func decode(_ tokens: [Int32], removeSpecial: Bool = false, renderSpecial: Bool = false) -> String {
        String(decoding: detokenize(tokens, removeSpecial: removeSpecial, renderSpecial: renderSpecial), as: UTF8.self)
    }
}
