import GGUF
import Testing
@testable import Inference

/// Bad vocabularies give one clear error naming the file and key, never a crash.
@Suite("Tokenizer errors")
struct TokenizerErrorTests {
    typealias Edit = @Sendable (inout [String: GGUFValue]) -> Void

    /// A small valid byte-level BPE vocabulary, then `edit` applied.
    static func file(_ edit: Edit) throws -> GGUFFile {
        let keys = ["general.architecture", "tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.tokens",
                    "tokenizer.ggml.token_type", "tokenizer.ggml.merges", "tokenizer.ggml.eos_token_id"]
        var values: [String: GGUFValue] = [
            "general.architecture": .string("llama"), "tokenizer.ggml.model": .string("gpt2"),
            "tokenizer.ggml.pre": .string("gpt-2"),
            "tokenizer.ggml.tokens": .array(.string(["a", "b", "ab", "<|endoftext|>"])),
            "tokenizer.ggml.token_type": .array(.int32([1, 1, 1, 3])),
            "tokenizer.ggml.merges": .array(.string(["a b"])), "tokenizer.ggml.eos_token_id": .uint32(3),
        ]
        edit(&values)
        var writer = GGUFWriter()
        for key in keys + values.keys.filter({ !keys.contains($0) }).sorted() {
            if let value = values[key] { writer.set(key, value) }
        }
        return try GGUFFile(bytes: writer.serialized(), name: "bad.gguf")
    }

    static func message(_ edit: Edit) throws -> String? {
        do {
            _ = try VocabularyTokenizer(file: file(edit))
            return nil
        } catch let error as TokenizerError {
            return error.description
        }
    }

    @Test("the unedited vocabulary loads and merges")
    func valid() throws {
        let tokenizer = try VocabularyTokenizer(file: Self.file { _ in })
        #expect(tokenizer.encode("ab", addSpecial: false, parseSpecial: false) == [2])
        #expect(tokenizer.isEndOfGeneration(3))
    }

    static let cases: [(String, String, Edit)] = [
        ("missing tokens", "'tokenizer.ggml.tokens' is missing", { $0["tokenizer.ggml.tokens"] = nil }),
        ("tokens of the wrong type", "tokenizer.ggml.tokens", { $0["tokenizer.ggml.tokens"] = .array(.int32([1, 2])) }),
        ("missing model", "'tokenizer.ggml.model' is missing", { $0["tokenizer.ggml.model"] = nil }),
        ("unknown model", "tokenizer.ggml.model is 'wordpiece-ish'", { $0["tokenizer.ggml.model"] = .string("wordpiece-ish") }),
        ("unknown pre-tokenizer", "tokenizer.ggml.pre is 'no-such-pre'", { $0["tokenizer.ggml.pre"] = .string("no-such-pre") }),
        ("missing merges", "'tokenizer.ggml.merges' is missing", { $0["tokenizer.ggml.merges"] = nil }),
        ("merge without a space", "merges entry 1 ('ab')", { $0["tokenizer.ggml.merges"] = .array(.string(["a b", "ab"])) }),
        ("special id out of range", "tokenizer.ggml.eos_token_id is 9", { $0["tokenizer.ggml.eos_token_id"] = .uint32(9) }),
        ("special id of the wrong type", "tokenizer.ggml.bos_token_id", { $0["tokenizer.ggml.bos_token_id"] = .string("one") }),
        ("short scores", "tokenizer.ggml.scores has 2 entries", { $0["tokenizer.ggml.scores"] = .array(.float32([0, 0])) }),
        ("short token types", "tokenizer.ggml.token_type has 1 entries", { $0["tokenizer.ggml.token_type"] = .array(.int32([1])) }),
        ("duplicate token", "holds 'a' twice", { $0["tokenizer.ggml.tokens"] = .array(.string(["a", "b", "a", "x"])) }),
        ("empty vocabulary", "tokenizer.ggml.tokens is empty", { $0["tokenizer.ggml.tokens"] = .array(.string([])) }),
        ("flag of the wrong type", "tokenizer.ggml.add_bos_token", { $0["tokenizer.ggml.add_bos_token"] = .uint32(1) }),
    ]

    @Test("bad vocabularies are reported", arguments: cases.indices)
    func bad(index: Int) throws {
        let (label, expected, edit) = Self.cases[index]
        let message = try Self.message(edit)
        #expect(message?.contains(expected) == true, "\(label): \(message ?? "no error")")
        #expect(message?.contains("bad.gguf") == true, "\(label) names the file")
    }

    @Test("an unsupported regex feature is an error, not a crash")
    func unsupportedPattern() {
        #expect(throws: TokenizerError.self) { try SplitRegex(#"\p{Han}+"#) }
        #expect(throws: TokenizerError.self) { try SplitRegex("(a*)*") }
        #expect(throws: TokenizerError.self) { try SplitRegex("(?<name>x)") }
        #expect(throws: TokenizerError.self) { try SplitRegex("[a") }
    }
}
