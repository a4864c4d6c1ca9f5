import Testing
@testable import Inference

/// The general regex matcher and llama.cpp's hand-written splitters implement the same
/// patterns; on text where llama.cpp's own two paths agree, they must split identically.
@Suite("Pre-tokenizer splitting")
struct TokenizerPreTokenizerTests {
    static func words(_ text: String, _ lengths: [Int]) -> [String] {
        let scalars = Array(text.unicodeScalars)
        var start = 0
        return lengths.map { length in
            defer { start += length }
            return String(String.UnicodeScalarView(scalars[start..<(start + length)]))
        }
    }

    static func regexSplit(_ pattern: String, _ text: String) throws -> [String] {
        let regex = try SplitRegex(pattern)
        let scalars = text.unicodeScalars.map(\.value)
        return words(text, regex.split(units: regex.units(for: scalars), segments: [scalars.count]))
    }

    static func customSplit(_ pattern: String, _ text: String) throws -> [String] {
        let scalars = text.unicodeScalars.map(\.value)
        return words(text, try PreTokenizer(name: "test", patterns: [pattern]).split(scalars))
    }

    /// Letters, digits, ASCII punctuation and spaces, newlines, accented and CJK letters.
    static func samples() -> [String] {
        var generator = SeededGenerator(seed: 2024)
        let pool = Array("abcXYZ019 .,!?'\"-()\n\r\t  éÅß你好").map(String.init) + ["'s", "'LL", "'re", "  ", "\n\n", "123456"]
        return (0..<400).map { _ in
            (0..<Int.random(in: 1...24, using: &generator)).map { _ in pool.randomElement(using: &generator)! }.joined()
        }
    }

    @Test("the regex matcher agrees with the hand-written GPT-2, Llama 3 and Qwen2 splitters",
          arguments: [PreTokenizer.gpt2Pattern, PreTokenizer.llama3Pattern, PreTokenizer.qwen2Pattern])
    func agree(pattern: String) throws {
        for text in Self.samples() {
            #expect(try Self.regexSplit(pattern, text) == Self.customSplit(pattern, text), "\(shown(text))")
        }
    }

    @Test("regex features: classes, counted repeats, lookahead, alternation order")
    func features() throws {
        #expect(try Self.regexSplit("[0-9][0-9][0-9]", "1234567") == ["123", "456", "7"])
        #expect(try Self.regexSplit(#"\p{N}{1,3}"#, "ab12345") == ["ab", "123", "45"])
        #expect(try Self.regexSplit(#"\s+(?!\S)|\s+"#, "a   b  ") == ["a", "  ", " ", "b", "  "])
        #expect(try Self.regexSplit("ab|a", "aab") == ["a", "ab"])
        #expect(try Self.regexSplit(#"x(?=y)"#, "xxy") == ["x", "x", "y"])
        #expect(try Self.regexSplit(#"[^\s\p{L}]+"#, "hé!! 你?") == ["hé", "!!", " 你", "?"])
    }
}
