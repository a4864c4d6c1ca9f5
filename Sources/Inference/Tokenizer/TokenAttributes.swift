/// Per-token attributes, numbered as llama.cpp's `llama_token_attr`.
public struct TokenAttributes: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let unknown = TokenAttributes(rawValue: 1 << 0)
    public static let unused = TokenAttributes(rawValue: 1 << 1)
    public static let normal = TokenAttributes(rawValue: 1 << 2)
    public static let control = TokenAttributes(rawValue: 1 << 3)
    public static let userDefined = TokenAttributes(rawValue: 1 << 4)
    public static let byte = TokenAttributes(rawValue: 1 << 5)
    public static let normalized = TokenAttributes(rawValue: 1 << 6)
    public static let leftStrip = TokenAttributes(rawValue: 1 << 7)
    public static let rightStrip = TokenAttributes(rawValue: 1 << 8)
    public static let singleWord = TokenAttributes(rawValue: 1 << 9)

    /// The attributes of a GGUF `tokenizer.ggml.token_type` value (1 normal, 2 unknown,
    /// 3 control, 4 user-defined, 5 unused, 6 byte); any other value is undefined (no bits).
    public init(tokenType: Int) {
        switch tokenType {
        case 1: self = .normal
        case 2: self = .unknown
        case 3: self = .control
        case 4: self = .userDefined
        case 5: self = .unused
        case 6: self = .byte
        default: self = []
        }
    }
}

/// The ids of a vocabulary's special tokens. A nil field means "not set": the vocabulary then
/// applies llama.cpp's default or auto-detection for it.
public struct SpecialTokenIDs: Sendable, Equatable {
    public var beginningOfSequence: Int?
    public var endOfSequence: Int?
    public var endOfTurn: Int?
    public var endOfMessage: Int?
    public var unknown: Int?
    public var separator: Int?
    public var padding: Int?
    public var mask: Int?
    public var fillInMiddlePrefix: Int?
    public var fillInMiddleSuffix: Int?
    public var fillInMiddleMiddle: Int?
    public var fillInMiddlePadding: Int?
    public var fillInMiddleRepository: Int?
    public var fillInMiddleFileSeparator: Int?

    public init(beginningOfSequence: Int? = nil, endOfSequence: Int? = nil, endOfTurn: Int? = nil,
                endOfMessage: Int? = nil, unknown: Int? = nil, separator: Int? = nil, padding: Int? = nil) {
        self.beginningOfSequence = beginningOfSequence
        self.endOfSequence = endOfSequence
        self.endOfTurn = endOfTurn
        self.endOfMessage = endOfMessage
        self.unknown = unknown
        self.separator = separator
        self.padding = padding
    }

    /// Each field with the GGUF key that sets it, in llama.cpp's order.
    static var keys: [(String, WritableKeyPath<SpecialTokenIDs, Int?>)] { [
        ("tokenizer.ggml.bos_token_id", \.beginningOfSequence),
        ("tokenizer.ggml.eos_token_id", \.endOfSequence),
        ("tokenizer.ggml.eot_token_id", \.endOfTurn),
        ("tokenizer.ggml.eom_token_id", \.endOfMessage),
        ("tokenizer.ggml.unknown_token_id", \.unknown),
        ("tokenizer.ggml.seperator_token_id", \.separator),
        ("tokenizer.ggml.padding_token_id", \.padding),
        ("tokenizer.ggml.mask_token_id", \.mask),
        ("tokenizer.ggml.fim_pre_token_id", \.fillInMiddlePrefix),
        ("tokenizer.ggml.fim_suf_token_id", \.fillInMiddleSuffix),
        ("tokenizer.ggml.fim_mid_token_id", \.fillInMiddleMiddle),
        ("tokenizer.ggml.fim_pad_token_id", \.fillInMiddlePadding),
        ("tokenizer.ggml.fim_rep_token_id", \.fillInMiddleRepository),
        ("tokenizer.ggml.fim_sep_token_id", \.fillInMiddleFileSeparator),
        ("tokenizer.ggml.prefix_token_id", \.fillInMiddlePrefix),
        ("tokenizer.ggml.suffix_token_id", \.fillInMiddleSuffix),
        ("tokenizer.ggml.middle_token_id", \.fillInMiddleMiddle),
    ] }

    /// Token texts llama.cpp recognises when the id is not set, per field.
    static var detectedNames: [(WritableKeyPath<SpecialTokenIDs, Int?>, [String])] { [
        (\.endOfTurn, ["<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
                       "<EOT>", "_<EOT>", "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>"]),
        (\.endOfMessage, ["<|eom_id|>"]),
        (\.fillInMiddlePrefix, ["<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>",
                                "<|code_prefix|>", "<|prefix|>"]),
        (\.fillInMiddleSuffix, ["<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>",
                                "<|code_suffix|>", "<|suffix|>"]),
        (\.fillInMiddleMiddle, ["<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>",
                                "<|code_middle|>", "<|middle|>"]),
        (\.fillInMiddlePadding, ["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"]),
        (\.fillInMiddleRepository, ["<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"]),
        (\.fillInMiddleFileSeparator, ["<|file_sep|>"]),
    ] }

    /// Token texts that end generation (llama.cpp's list).
    static let endOfGenerationNames: Set<String> = [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>",
        "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>",
        "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>", "<｜end▁of▁sentence｜>", "[e~[",
    ]
}
