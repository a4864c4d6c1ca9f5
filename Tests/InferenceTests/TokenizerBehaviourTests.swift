import Foundation
import GGUF
import Testing
@testable import Inference

/// Round trips, streaming and property tests. Expected values here are the input text itself
/// or invariants, never output of the code under test.
@Suite("Tokenizer behaviour")
struct TokenizerBehaviourTests {
    static let byteLevel = ["llama-bpe", "qwen2", "smollm", "default", "no-pre"]

    /// Random strings over letters, digits, punctuation, spaces, accents, CJK, emoji and ZWJ.
    static func randomStrings(count: Int, seed: UInt64) -> [String] {
        var generator = SeededGenerator(seed: seed)
        let pools: [ClosedRange<UInt32>] = [0x20...0x7E, 0x20...0x20, 0x09...0x0D, 0xA0...0x17F, 0x370...0x3FF,
                                            0x400...0x4FF, 0x300...0x36F, 0x4E00...0x4FFF, 0x3040...0x30FF,
                                            0xAC00...0xAD00, 0x1F300...0x1F6FF, 0x200B...0x200D, 0x2000...0x206F]
        return (0..<count).map { _ in
            let length = Int.random(in: 0...30, using: &generator)
            var scalars = String.UnicodeScalarView()
            for _ in 0..<length {
                let pool = pools.randomElement(using: &generator)!
                if let scalar = Unicode.Scalar(UInt32.random(in: pool, using: &generator)) { scalars.append(scalar) }
            }
            return String(scalars)
        }
    }

    @Test("byte-level BPE decodes what it encoded", arguments: byteLevel)
    func roundTrip(name: String) throws {
        let tokenizer = try TokenizerReferences.tokenizer(named: name)
        let texts = TokenizerReferences.shared.strings + Self.randomStrings(count: 300, seed: 42)
        for text in texts {
            let tokens = tokenizer.encode(text, addSpecial: false, parseSpecial: false)
            // Byte-level text needs no clean-up pass to round-trip; compare the raw pieces.
            let bytes = tokens.flatMap { tokenizer.piece(for: $0, special: true) }
            #expect(bytes == Array(text.utf8), "\(name) \(shown(text))")
        }
    }

    /// Without BOS, llama.cpp's detokenize strips the space the SentencePiece prefix added (with a
    /// BOS it keeps it). A user-defined token in the text makes the next fragment get a prefix
    /// space of its own, so such texts do not round-trip (in llama.cpp either).
    @Test("SentencePiece decodes what it encoded", arguments: ["spm-bpe", "spm-unigram"])
    func sentencePieceRoundTrip(name: String) throws {
        let tokenizer = try TokenizerReferences.tokenizer(named: name)
        let texts = (TokenizerReferences.shared.strings + Self.randomStrings(count: 200, seed: 7))
            .filter { !$0.contains("<|user|>") }
        for text in texts {
            let tokens = tokenizer.encode(text, addSpecial: false, parseSpecial: false)
            #expect(tokenizer.decode(tokens) == text, "\(name) \(shown(text))")
        }
    }

    @Test("streaming never emits broken UTF-8 and adds up to the whole text", arguments: byteLevel + ["spm-bpe"])
    func streaming(name: String) throws {
        let tokenizer = try TokenizerReferences.tokenizer(named: name)
        for text in Self.randomStrings(count: 200, seed: 99) + ["👨‍👩‍👧‍👦 🏳️‍🌈 你好 é"] {
            let tokens = tokenizer.encode(text, addSpecial: false, parseSpecial: false)
            var stream = StreamingDetokenizer(tokenizer: tokenizer)
            var output = ""
            for token in tokens {
                let chunk = stream.append(token)
                #expect(!chunk.unicodeScalars.contains("\u{FFFD}"), "\(name) \(shown(text))")
                output += chunk
            }
            output += stream.finish()
            let whole = String(decoding: tokens.flatMap { tokenizer.piece(for: $0, special: false) }, as: UTF8.self)
            #expect(output == whole, "\(name) \(shown(text))")
        }
    }

    @Test("streaming byte tokens one at a time holds partial characters")
    func streamingBytes() {
        let tokenizer = CharacterTokenizer(alphabet: "ab")
        let text = "a😀b€é"
        let tokens = tokenizer.encode(text, addSpecial: false, parseSpecial: false)
        #expect(tokens.count == 2 + 4 + 3 + 2)  // a, b as letters; the rest as byte tokens
        var stream = StreamingDetokenizer(tokenizer: tokenizer)
        let chunks = tokens.map { stream.append($0) }
        #expect(chunks == ["a", "", "", "", "😀", "b", "", "", "€", "", "é"])
        #expect(stream.finish() == "")
    }

    @Test("a truncated character is flushed as U+FFFD at the end, and bad bytes never wait")
    func streamingInvalid() {
        let tokenizer = CharacterTokenizer(alphabet: "x")
        var stream = StreamingDetokenizer(tokenizer: tokenizer)
        #expect(stream.append(tokenizer.byteToken(0xF0)) == "")
        #expect(stream.append(tokenizer.byteToken(0x9F)) == "")
        #expect(stream.finish() == "\u{FFFD}")
        #expect(stream.append(tokenizer.byteToken(0xFF)) == "\u{FFFD}")
        #expect(stream.append(tokenizer.byteToken(0xE0)) == "")
        #expect(stream.append(tokenizer.byteToken(0x80)) == "\u{FFFD}\u{FFFD}")  // E0 80 is an overlong start
    }

    @Test("the fake tokenizer round-trips and knows its special tokens")
    func fake() {
        let tokenizer = CharacterTokenizer()
        let text = "Hi there! 你好 <|eot|>"
        let plain = tokenizer.encode(text, addSpecial: true, parseSpecial: false)
        #expect(plain.first == tokenizer.beginningOfSequenceToken)
        #expect(tokenizer.decode(plain, removeSpecial: true) == text)
        let special = tokenizer.encode(text, addSpecial: false, parseSpecial: true)
        #expect(special.last == tokenizer.endOfTurnToken)
        #expect(tokenizer.isEndOfGeneration(special.last!))
        #expect(tokenizer.decode(special) == "Hi there! 你好 ")
        #expect(tokenizer.decode(special, renderSpecial: true) == text)
        #expect(tokenizer.piece(for: -1, special: true).isEmpty)
    }

    @Test("out-of-range ids give no bytes instead of crashing", arguments: ["llama-bpe", "spm-bpe"])
    func outOfRange(name: String) throws {
        let tokenizer = try TokenizerReferences.tokenizer(named: name)
        #expect(tokenizer.piece(for: Int32(tokenizer.vocabularySize), special: true).isEmpty)
        #expect(tokenizer.detokenize([-5, Int32.max], removeSpecial: false, renderSpecial: true).isEmpty)
    }
}

/// SplitMix64, so random tests are reproducible.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
