import Foundation
import GGUF

extension TokenizerConversion {
    /// A SentencePiece vocabulary (`tokenizer.ggml.model = llama`) from `tokenizer.model`, as
    /// llama.cpp's `_create_vocab_sentencepiece`: pieces with their scores and types (unknown,
    /// control, unused and byte kept; normal and user-defined pieces written as normal), ids
    /// the model does not fill as `[PADn]` (score −10000, unused), then `added_tokens.json` and
    /// `tokenizer_config.json`'s `added_tokens_decoder` (score −1000; control when special).
    func sentencePieceMetadata() throws(ConvertError) -> [(key: String, value: GGUFValue)] {
        let model = try SentencePieceModel(path: checkpoint.path("tokenizer.model"))
        var tokens = (0..<vocabularySize).map { "[PAD\($0)]" }
        var scores = [Float](repeating: -10000, count: vocabularySize)
        var types = [Int32](repeating: 5, count: vocabularySize)
        for (id, piece) in model.pieces.enumerated() where id < vocabularySize {
            tokens[id] = piece.text
            scores[id] = piece.score
            switch piece.type {
            case .unknown: types[id] = 2
            case .control: types[id] = 3
            case .unused: types[id] = 5
            case .byte: types[id] = 6
            case .normal, .userDefined: types[id] = 1
            }
        }
        if let added = try JSONFile.optional(checkpoint.path("added_tokens.json")) {
            for (text, value) in added.root {
                guard let id = (value as? NSNumber)?.intValue, id >= 0, id < vocabularySize else { continue }
                tokens[id] = text
                scores[id] = -1000
                types[id] = 4
            }
        }
        let decoder = checkpoint.tokenizerConfig?.root["added_tokens_decoder"] as? [String: Any] ?? [:]
        for (key, value) in decoder {
            guard let id = Int(key), id >= 0, id < vocabularySize, let entry = value as? [String: Any],
                  var text = entry["content"] as? String else { continue }
            if entry["special"] as? Bool == true || Self.looksSpecial(text) {
                types[id] = 3
            } else {
                text = text.replacingOccurrences(of: "\u{2581}", with: " ")
                types[id] = 4
            }
            scores[id] = -1000
            tokens[id] = text
        }
        var out: [(key: String, value: GGUFValue)] = [
            ("tokenizer.ggml.model", .string("llama")),
            ("tokenizer.ggml.pre", .string("default")),
            ("tokenizer.ggml.tokens", .array(.string(tokens))),
            ("tokenizer.ggml.scores", .array(.float32(scores))),
            ("tokenizer.ggml.token_type", .array(.int32(types))),
        ]
        appendCommon(to: &out, tokenizer: checkpoint.tokenizer)
        return out
    }
}
