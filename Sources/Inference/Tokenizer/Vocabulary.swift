/// A tokenizer vocabulary as llama.cpp loads it: token texts, scores, attributes, BPE merges,
/// special ids and flags, with llama.cpp's defaults and auto-detection applied.
///
/// Build one from a GGUF file (`Vocabulary(file:)`) or in memory for tests.
public struct Vocabulary: Sendable {
    public enum Model: String, Sendable {
        /// `gpt2`: byte-level BPE.
        case bytePairEncoding = "gpt2"
        /// `llama`: SentencePiece with byte fallback.
        case sentencePiece = "llama"
    }

    public let model: Model
    /// `tokenizer.ggml.pre`; empty when absent (llama.cpp then uses its default set).
    public let preTokenizerName: String
    public let tokens: [String]
    public let scores: [Float]
    public let attributes: [TokenAttributes]
    /// `tokenizer.ggml.merges`, split at the first space after the first character; the index
    /// is the merge rank.
    public let merges: [(String, String)]
    public let specialTokens: SpecialTokenIDs
    /// Tokens that end generation (end of sequence, end of turn, and llama.cpp's list).
    public let endOfGenerationTokens: Set<Int32>
    public let addBeginningOfSequence: Bool
    public let addEndOfSequence: Bool
    public let addSpacePrefix: Bool
    /// Llama-3-style: a pre-token that is already a token is not merged from its bytes.
    public let ignoreMerges: Bool
    /// llama.cpp's `clean_spaces` post-pass on detokenized text.
    public let cleanSpaces: Bool
    /// Where the vocabulary came from, for error messages.
    public let source: String

    let preTokenizerConfiguration: PreTokenizer.Configuration?
    /// Control, user-defined and unknown tokens, longest text first (llama.cpp's
    /// `cache_special_tokens`).
    let specialTokensByLength: [Int32]

    public var count: Int { tokens.count }

    /// Builds a vocabulary as llama.cpp would load it from the equivalent GGUF keys. Optional
    /// arguments left nil take llama.cpp's defaults for the model.
    public init(model: Model, tokens: [String], scores: [Float]? = nil, tokenTypes: [Int]? = nil,
                merges: [String] = [], preTokenizer: String? = nil, specialTokens: SpecialTokenIDs = SpecialTokenIDs(),
                addBeginningOfSequence: Bool? = nil, addEndOfSequence: Bool? = nil, addSpacePrefix: Bool? = nil,
                source: String = "<memory>") throws(TokenizerError) {
        func fail(_ kind: TokenizerError.Kind) -> TokenizerError { TokenizerError(file: source, kind: kind) }
        guard !tokens.isEmpty else { throw fail(.emptyVocabulary) }
        let count = tokens.count
        self.model = model
        self.source = source
        self.preTokenizerName = preTokenizer ?? ""

        // Defaults per model, then per pre-tokenizer (llama.cpp's `load`).
        var defaults = SpecialTokenIDs()
        var addBOS: Bool
        var spacePrefix: Bool
        switch model {
        case .sentencePiece:
            defaults.beginningOfSequence = 1
            defaults.endOfSequence = 2
            defaults.unknown = 0
            addBOS = true
            spacePrefix = true
            cleanSpaces = false
            ignoreMerges = false
            preTokenizerConfiguration = nil
        case .bytePairEncoding:
            defaults.beginningOfSequence = 11
            defaults.endOfSequence = 11
            guard let configuration = PreTokenizer.configuration(for: preTokenizerName) else {
                throw fail(.unsupportedPreTokenizer(preTokenizerName))
            }
            addBOS = configuration.addBeginningOfSequence
            spacePrefix = false
            cleanSpaces = configuration.cleanSpaces
            ignoreMerges = configuration.ignoreMerges
            preTokenizerConfiguration = configuration
        }
        self.addSpacePrefix = addSpacePrefix ?? spacePrefix
        self.addBeginningOfSequence = addBeginningOfSequence ?? addBOS
        self.addEndOfSequence = addEndOfSequence ?? false

        // Tokens, scores, attributes.
        var texts = tokens
        var index: [String: Int] = [:]
        index.reserveCapacity(count)
        for (id, text) in tokens.enumerated() {
            if text.isEmpty { texts[id] = "[EMPTY_\(id)]" }
            if let first = index.updateValue(id, forKey: texts[id]) {
                throw fail(.duplicateToken(text: texts[id], first: first, second: id))
            }
        }
        if let scores, scores.count < count {
            throw fail(.lengthMismatch(key: "tokenizer.ggml.scores", count: scores.count, tokenCount: count))
        }
        if let tokenTypes, tokenTypes.count < count {
            throw fail(.lengthMismatch(key: "tokenizer.ggml.token_type", count: tokenTypes.count, tokenCount: count))
        }
        self.tokens = texts
        self.scores = scores.map { Array($0.prefix(count)) } ?? [Float](repeating: 0, count: count)
        var attributes = tokenTypes.map { $0.prefix(count).map(TokenAttributes.init(tokenType:)) }
            ?? [TokenAttributes](repeating: .normal, count: count)

        // Merges.
        var pairs: [(String, String)] = []
        pairs.reserveCapacity(merges.count)
        for (rank, merge) in merges.enumerated() {
            let characters = merge.unicodeScalars
            guard !characters.isEmpty,
                  let space = characters[characters.index(after: characters.startIndex)...].firstIndex(of: " ")
            else { throw fail(.malformedMerge(index: rank, text: merge)) }
            pairs.append((String(characters[..<space]), String(characters[characters.index(after: space)...])))
        }
        self.merges = pairs

        // Special ids: defaults out of range are dropped; explicit ids out of range are errors.
        var special = defaults
        for (_, field) in SpecialTokenIDs.keys where (special[keyPath: field] ?? -1) >= count {
            special[keyPath: field] = nil
        }
        for (key, field) in SpecialTokenIDs.keys {
            guard let id = specialTokens[keyPath: field] else { continue }
            guard id >= 0 && id < count else { throw fail(.tokenOutOfRange(key: key, token: id, tokenCount: count)) }
            special[keyPath: field] = id
        }
        let eog = Self.detectSpecialTokens(texts: texts, index: index, special: &special, attributes: &attributes)
        self.specialTokens = special
        self.endOfGenerationTokens = eog
        self.attributes = attributes
        self.specialTokensByLength = (0..<count)
            .filter { !attributes[$0].isDisjoint(with: [.control, .userDefined, .unknown]) }
            .sorted { texts[$0].utf8.count > texts[$1].utf8.count || (texts[$0].utf8.count == texts[$1].utf8.count && $0 < $1) }
            .map(Int32.init)
    }

    /// llama.cpp's auto-detection of end-of-turn, fill-in-middle and end-of-generation tokens by
    /// their text, including its promotion of such tokens to control tokens.
    ///
    /// Where several texts match one field, llama.cpp's choice follows its hash map's order;
    /// Ponder takes the first text in llama.cpp's list (so `<|im_end|>` before `<|endoftext|>`).
    private static func detectSpecialTokens(texts: [String], index: [String: Int], special: inout SpecialTokenIDs,
                                            attributes: inout [TokenAttributes]) -> Set<Int32> {
        for (field, names) in SpecialTokenIDs.detectedNames where special[keyPath: field] == nil {
            guard let id = names.lazy.compactMap({ index[$0] }).first else { continue }
            special[keyPath: field] = id
            attributes[id].insert(.control)
        }
        for id in texts.indices where attributes[id].contains(.control) && texts[id].contains("unused") {
            attributes[id].insert(.unused)
        }
        var endOfGeneration = Set<Int>()
        for field in [\SpecialTokenIDs.fillInMiddlePadding, \.fillInMiddleRepository, \.fillInMiddleFileSeparator] {
            if let id = special[keyPath: field] { endOfGeneration.insert(id) }
        }
        for name in SpecialTokenIDs.endOfGenerationNames {
            guard let id = index[name] else { continue }
            endOfGeneration.insert(id)
            attributes[id].insert(.control)
        }
        for name in ["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"] {
            if let id = index[name] { attributes[id] = .userDefined }
        }
        for field in [\SpecialTokenIDs.endOfSequence, \.endOfTurn, \.endOfMessage] {
            if let id = special[keyPath: field] { endOfGeneration.insert(id) }
        }
        let present = Set(endOfGeneration.map { texts[$0] })
        let hasCall = present.contains("<|call|>") || present.contains("<|calls|>")
        if let end = index["<|end|>"], endOfGeneration.contains(end), hasCall,
           present.contains("<|return|>") || present.contains("<|flush|>") {
            endOfGeneration.remove(end)
            attributes[end] = .userDefined
        }
        if let slash = index["</s>"], endOfGeneration.contains(slash),
           present.contains("<|tool_response>") || present.contains("<|plamo:eos|>") {
            endOfGeneration.remove(slash)
            attributes[slash] = .normal
        }
        return Set(endOfGeneration.map(Int32.init))
    }
}
