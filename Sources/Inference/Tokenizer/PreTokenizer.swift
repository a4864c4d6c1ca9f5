/// Splits text into words before byte-level BPE, as llama.cpp's `unicode_regex_split` does for
/// the pattern list that `tokenizer.ggml.pre` selects.
///
/// Each step refines the segments the previous step produced. Patterns llama.cpp handles with
/// a hand-written splitter use the same splitter here; the others run on `SplitRegex`.
struct PreTokenizer: Sendable {
    enum Step: Sendable {
        case gpt2
        case llama3
        case qwen2
        case regex(SplitRegex)
    }

    /// What a `tokenizer.ggml.pre` value selects besides the patterns.
    struct Configuration: Sendable {
        var patterns: [String]
        var ignoreMerges = false
        var addBeginningOfSequence = false
        var cleanSpaces = true
    }

    let name: String
    let steps: [Step]

    static let gpt2Pattern = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)"#
    static let llama3Pattern =
        #"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let qwen2Pattern =
        #"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// llama.cpp's settings for a pre-tokenizer name; nil when Ponder does not support it.
    static func configuration(for name: String) -> Configuration? {
        switch name {
        case "", "default":
            return Configuration(patterns: [#"[\p{P}\$\+<=>\^~\|]+"#, gpt2Pattern, #"\p{N}+"#, "[0-9][0-9][0-9]"])
        case "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano":
            return Configuration(patterns: [llama3Pattern], ignoreMerges: true, addBeginningOfSequence: true)
        case "dbrx", "smaug-bpe":
            return Configuration(patterns: [llama3Pattern])
        case "qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "hunyuan", "solar-open", "grok-2":
            return Configuration(patterns: [qwen2Pattern], cleanSpaces: false)
        case "stablelm2", "megrez":
            return Configuration(patterns: [qwen2Pattern])
        case "smollm", "command-r":
            return Configuration(patterns: [#"\p{N}"#, gpt2Pattern], cleanSpaces: false)
        case "starcoder", "refact", "codeshell", "exaone", "minerva-7b", "mellum2":
            return Configuration(patterns: [#"\p{N}"#, gpt2Pattern])
        case "gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0", "mellum",
             "modern-bert", "exaone4", "mpt", "olmo", "jais", "jina-v1-en", "jina-v2-code", "roberta-bpe":
            return Configuration(patterns: [gpt2Pattern])
        case "trillion", "granite-docling":
            return Configuration(patterns: [gpt2Pattern], cleanSpaces: false)
        case "falcon":
            return Configuration(patterns: [#"[\p{P}\$\+<=>\^~\|`]+"#,
                                            #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)"#,
                                            "[0-9][0-9][0-9]"])
        case "seed-coder":
            return Configuration(patterns: [
                #"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1}| ?[^\s\p{L}\p{N}\r\n]+|\s*[\r\n]+|\s+(?!\S)|\s+"#,
            ], cleanSpaces: false)
        case "bailingmoe", "bailingmoe2", "llada-moe":
            return Configuration(patterns: [
                #"'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+"#,
            ], cleanSpaces: false)
        case "deepseek-coder":
            return Configuration(patterns: ["[\r\n]", #"\s?\p{L}+"#, #"\s?\p{P}+"#, "[一-龥ࠀ-一가-퟿]+", #"\p{N}"#],
                                 cleanSpaces: false)
        default:
            return nil
        }
    }

    init(name: String, patterns: [String]) throws(TokenizerError) {
        self.name = name
        var steps: [Step] = []
        for pattern in patterns {
            switch pattern {
            case Self.gpt2Pattern: steps.append(.gpt2)
            case Self.llama3Pattern: steps.append(.llama3)
            case Self.qwen2Pattern: steps.append(.qwen2)
            default: steps.append(.regex(try SplitRegex(pattern)))
            }
        }
        self.steps = steps
    }

    /// The words of `scalars`, as consecutive lengths in codepoints.
    func split(_ scalars: [UInt32]) -> [Int] {
        var segments = [scalars.count]
        if scalars.isEmpty { return [] }
        for step in steps {
            var next: [Int] = []
            next.reserveCapacity(max(16, scalars.count / 3))
            switch step {
            case .regex(let regex):
                next = regex.split(units: regex.units(for: scalars), segments: segments)
            case .gpt2, .llama3, .qwen2:
                scalars.withUnsafeBufferPointer { buffer in
                    var start = 0
                    for length in segments {
                        let segment = Segment(scalars: buffer, start: start, end: start + length)
                        switch step {
                        case .gpt2: Self.splitGPT2(segment, into: &next)
                        case .llama3: Self.splitLlama3(segment, digitGroup: 3, into: &next)
                        default: Self.splitLlama3(segment, digitGroup: 1, into: &next)
                        }
                        start += length
                    }
                }
            }
            segments = next
        }
        return segments
    }
}
