import Foundation
import GGUF

/// Turns a Hugging Face `tokenizer.json` (byte-level BPE) into GGUF `tokenizer.ggml.*` keys whose
/// ids equal the Hugging Face tokenizer's, following llama.cpp's converter (`get_vocab_base`,
/// `gguf.SpecialVocab`): tokens by id (gaps filled with `[PADn]`, type unused), added special
/// tokens as control, other added tokens as user-defined, merges, special token ids, the
/// add-BOS/EOS flags from the post-processor and `tokenizer_config.json`, the chat template.
/// `tokenizer.ggml.pre` comes from the pre-tokenizer's regex rather than llama.cpp's hash of
/// the tokenizer's output.
struct TokenizerConversion {
    let checkpoint: HFCheckpoint
    /// The text model's vocabulary size (rows of the embedding).
    let vocabularySize: Int
    /// llama.cpp's `LlamaModel` also writes `add_space_prefix` from `add_prefix_space`.
    var writesSpacePrefix = false

    static let supportedPreTokenizers = ["llama-bpe (Llama 3)", "qwen2", "smollm", "gpt-2"]

    func metadata() throws(ConvertError) -> [(key: String, value: GGUFValue)] {
        // llama.cpp's LlamaModel prefers a SentencePiece model (Llama 2, LLaVA-1.5) when there is one.
        if writesSpacePrefix, FileManager.default.fileExists(atPath: checkpoint.path("tokenizer.model")) {
            return try sentencePieceMetadata()
        }
        let file = checkpoint.path("tokenizer.json")
        guard let tokenizer = checkpoint.tokenizer else {
            throw ConvertError(file: file, kind: .missingFile)
        }
        guard let model = tokenizer.root["model"] as? [String: Any] else {
            throw ConvertError(file: file, kind: .missingKey("model"))
        }
        guard let type = model["type"] as? String, type == "BPE", model["byte_fallback"] as? Bool != true else {
            let kind = (model["type"] as? String) ?? "unknown"
            throw ConvertError(file: file, kind: .unsupportedTokenizer(
                reason: "model type \(kind)\(model["byte_fallback"] as? Bool == true ? " with byte fallback" : "") is not byte-level BPE, the only kind Ponder converts"))
        }
        guard let vocab = model["vocab"] as? [String: Any] else {
            throw ConvertError(file: file, kind: .missingKey("model.vocab"))
        }
        var byID: [Int: String] = [:]
        for (token, id) in vocab {
            guard let id = (id as? NSNumber)?.intValue, id >= 0 else {
                throw ConvertError(file: file, kind: .invalidValue(key: "model.vocab.\(token)", value: "\(id)", reason: "it must be a token id"))
            }
            byID[id] = token
        }
        struct Added { let content: String; let special: Bool }
        var added: [Int: Added] = [:]
        for entry in tokenizer.root["added_tokens"] as? [[String: Any]] ?? [] {
            guard let id = (entry["id"] as? NSNumber)?.intValue, let content = entry["content"] as? String else { continue }
            added[id] = Added(content: content, special: entry["special"] as? Bool ?? false)
            byID[id] = content
        }
        let largest = byID.keys.max() ?? -1
        guard largest < vocabularySize else {
            throw ConvertError(file: file, kind: .invalidValue(key: "model.vocab", value: "id \(largest)",
                                                               reason: "it is outside the model's \(vocabularySize)-token embedding"))
        }
        var tokens: [String] = []
        var types: [Int32] = []
        tokens.reserveCapacity(vocabularySize)
        for id in 0..<vocabularySize {
            guard var token = byID[id] else {
                tokens.append("[PAD\(id)]")
                types.append(5)
                continue
            }
            if let extra = added[id] {
                if extra.special || Self.looksSpecial(token) {
                    types.append(3)
                } else {
                    token = token.replacingOccurrences(of: "\u{2581}", with: " ")
                    types.append(4)
                }
            } else {
                types.append(1)
            }
            tokens.append(token)
        }
        var out: [(key: String, value: GGUFValue)] = [
            ("tokenizer.ggml.model", .string("gpt2")),
            ("tokenizer.ggml.pre", .string(try preTokenizer(tokenizer))),
            ("tokenizer.ggml.tokens", .array(.string(tokens))),
            ("tokenizer.ggml.token_type", .array(.int32(types))),
        ]
        let merges = try Self.merges(model["merges"], file: file)
        if !merges.isEmpty { out.append(("tokenizer.ggml.merges", .array(.string(merges)))) }
        appendCommon(to: &out, tokenizer: tokenizer)
        return out
    }

    /// Special token ids, add flags, `add_space_prefix` and the chat template.
    func appendCommon(to out: inout [(key: String, value: GGUFValue)], tokenizer: JSONFile?) {
        let special = SpecialTokens(checkpoint: checkpoint, tokenizer: tokenizer, vocabularySize: vocabularySize)
        for (name, id) in special.ids { out.append(("tokenizer.ggml.\(name)", .uint32(UInt32(id)))) }
        for (name, flag) in special.addFlags { out.append(("tokenizer.ggml.add_\(name)_token", .bool(flag))) }
        if writesSpacePrefix, let flag = checkpoint.tokenizerConfig?.root["add_prefix_space"] as? Bool {
            out.append(("tokenizer.ggml.add_space_prefix", .bool(flag)))
        }
        if let template = checkpoint.chatTemplate { out.append(("tokenizer.chat_template", .string(template))) }
    }

    /// llama.cpp's `does_token_look_special`.
    static func looksSpecial(_ token: String) -> Bool {
        if ["<pad>", "<mask>", "<2mass>", "[@BOS@]"].contains(token) { return true }
        if token.hasPrefix("<|") && token.hasSuffix("|>") { return true }
        if token.hasPrefix("<\u{FF5C}") && token.hasSuffix("\u{FF5C}>") { return true }
        return token.hasPrefix("<unused") && token.hasSuffix(">")
    }

    /// Merges as `"a b"` strings; the newer pair form has spaces inside a part written as `Ġ`.
    static func merges(_ value: Any?, file: String) throws(ConvertError) -> [String] {
        guard let list = value as? [Any] else { return [] }
        var out: [String] = []
        out.reserveCapacity(list.count)
        for item in list {
            if let text = item as? String {
                out.append(text)
            } else if let pair = item as? [String], pair.count == 2 {
                out.append(pair.map { $0.replacingOccurrences(of: " ", with: "\u{0120}") }.joined(separator: " "))
            } else {
                throw ConvertError(file: file, kind: .invalidValue(key: "model.merges", value: "\(item)",
                                                                   reason: "a merge must be \"a b\" or [\"a\", \"b\"]"))
            }
        }
        return out
    }

    // MARK: Pre-tokenizer

    static let llama3Regex =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let qwen2Regex =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// The llama.cpp pre-tokenizer name for the steps of `pre_tokenizer`.
    func preTokenizer(_ tokenizer: JSONFile) throws(ConvertError) -> String {
        var steps: [[String: Any]] = []
        func collect(_ value: Any?) {
            guard let step = value as? [String: Any] else { return }
            if step["type"] as? String == "Sequence" {
                for inner in step["pretokenizers"] as? [Any] ?? [] { collect(inner) }
            } else {
                steps.append(step)
            }
        }
        collect(tokenizer.root["pre_tokenizer"])
        let described = steps.map { step -> String in
            let type = step["type"] as? String ?? "?"
            switch type {
            case "Split": return "Split(\((step["pattern"] as? [String: Any])?["Regex"] as? String ?? "?"))"
            case "ByteLevel": return (step["use_regex"] as? Bool ?? true) ? "ByteLevel(regex)" : "ByteLevel"
            case "Digits": return (step["individual_digits"] as? Bool ?? false) ? "Digits(individual)" : "Digits"
            default: return type
            }
        }
        let prefixSpace = steps.contains { $0["type"] as? String == "ByteLevel" && $0["add_prefix_space"] as? Bool == true }
        let name: String?
        switch described {
        case ["Split(\(Self.llama3Regex))", "ByteLevel"]: name = "llama-bpe"
        case ["Split(\(Self.qwen2Regex))", "ByteLevel"]: name = "qwen2"
        case ["Digits(individual)", "ByteLevel(regex)"]: name = "smollm"
        case ["ByteLevel(regex)"]: name = "gpt-2"
        default: name = nil
        }
        guard let name, !prefixSpace else {
            throw ConvertError(file: tokenizer.path, kind: .unsupportedTokenizer(
                reason: "its pre-tokenizer [\(described.joined(separator: ", "))]\(prefixSpace ? " adds a prefix space and" : "") matches none that Ponder supports (\(Self.supportedPreTokenizers.joined(separator: ", ")))"))
        }
        return name
    }
}
