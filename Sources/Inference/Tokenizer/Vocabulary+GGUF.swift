import GGUF

extension Vocabulary {
    /// Reads `tokenizer.ggml.*` from a GGUF file, as llama.cpp's `llama_vocab::load`.
    ///
    /// Throws a `TokenizerError` naming the file and key: a missing or mistyped key, a merges
    /// entry without a space, a special token id outside the vocabulary, duplicate tokens, an
    /// unsupported model or pre-tokenizer.
    public init(file: GGUFFile) throws(TokenizerError) {
        do {
            self = try Self.load(file)
        } catch let error as TokenizerError {
            throw error
        } catch let error as GGUFError {
            throw TokenizerError(file: file.path, kind: .metadata(error))
        } catch {
            throw TokenizerError(file: file.path, kind: .unsupportedModel("\(error)"))
        }
    }

    private static func load(_ file: GGUFFile) throws -> Vocabulary {
        let modelName = try file.string("tokenizer.ggml.model")
        guard let model = Model(rawValue: modelName) else {
            throw TokenizerError(file: file.path, kind: .unsupportedModel(modelName))
        }
        let tokens = try file.stringArray("tokenizer.ggml.tokens")
        var merges: [String] = []
        if model == .bytePairEncoding {
            // llama.cpp refuses a byte-level BPE vocabulary without merges.
            merges = try file.stringArray("tokenizer.ggml.merges")
        }
        var scores: [Float]?
        if file.value(forKey: "tokenizer.ggml.scores") != nil {
            scores = try file.floatArray("tokenizer.ggml.scores")
        }
        let tokenTypes = try file.optionalIntArray("tokenizer.ggml.token_type")
        var special = SpecialTokenIDs()
        for (key, field) in SpecialTokenIDs.keys {
            if let id = try file.optionalInt(key) { special[keyPath: field] = id }
        }
        return try Vocabulary(
            model: model, tokens: tokens, scores: scores, tokenTypes: tokenTypes, merges: merges,
            preTokenizer: try file.optionalString("tokenizer.ggml.pre"), specialTokens: special,
            addBeginningOfSequence: try file.optionalBool("tokenizer.ggml.add_bos_token"),
            addEndOfSequence: try file.optionalBool("tokenizer.ggml.add_eos_token"),
            addSpacePrefix: try file.optionalBool("tokenizer.ggml.add_space_prefix"),
            source: file.path)
    }
}
