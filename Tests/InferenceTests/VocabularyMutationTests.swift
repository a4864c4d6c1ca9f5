import Foundation
import GGUF
import Testing
@testable import Inference

/// A seeded mutation harness for the whole path from file bytes to tokens: corrupt a real
/// fixture's header and metadata (bit flips, random bytes, huge lengths, truncation) and require
/// that loading either fails with an error or yields a tokenizer that encodes and decodes
/// without crashing. (The GGUF reader alone is fuzzed with libFuzzer, Scripts/fuzz-gguf.sh.)
@Suite("Vocabulary mutation harness")
struct VocabularyMutationTests {
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let samples = ["Hello, world! 12345", "  <|im_start|>user\ncafé 你好 😀", "<s>[INST] x [/INST]", ""]

    @Test(arguments: ["bpe-qwen2.gguf", "bpe-llama-bpe.gguf", "spm-bpe.gguf", "spm-unigram.gguf"])
    func mutatedVocabulariesNeverCrash(name: String) throws {
        let folder = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        let original = try [UInt8](Data(contentsOf: folder.appendingPathComponent("tokenizers/\(name)")))
        let metadataEnd = try GGUFFile(bytes: original).dataOffset
        var random = SplitMix64(state: UInt64(truncatingIfNeeded: name.utf8.reduce(0) { $0 &* 31 &+ Int($1) }))
        var loaded = 0, rejected = 0
        for _ in 0..<150 {
            var bytes = original
            switch random.next() % 4 {
            case 0: // flip a few bits in the header and metadata
                for _ in 0..<Int(random.next() % 8 + 1) {
                    let at = Int(random.next() % UInt64(metadataEnd))
                    bytes[at] ^= UInt8(1 << (random.next() % 8))
                }
            case 1: // overwrite a byte run with random bytes
                let at = Int(random.next() % UInt64(metadataEnd))
                for offset in at..<min(at + Int(random.next() % 16 + 1), bytes.count) {
                    bytes[offset] = UInt8(truncatingIfNeeded: random.next())
                }
            case 2: // plant a huge little-endian length or count
                let at = Int(random.next() % UInt64(metadataEnd - 8))
                withUnsafeBytes(of: (random.next() >> (random.next() % 40)).littleEndian) { huge in
                    for index in 0..<8 { bytes[at + index] = huge[index] }
                }
            default: // truncate inside the metadata
                bytes.removeLast(bytes.count - Int(random.next() % UInt64(metadataEnd)))
            }
            guard let file = try? GGUFFile(bytes: bytes, name: name),
                  let tokenizer = try? VocabularyTokenizer(file: file) else {
                rejected += 1
                continue
            }
            loaded += 1
            for text in Self.samples {
                for special in [false, true] {
                    let ids = tokenizer.encode(text, addSpecial: true, parseSpecial: special)
                    #expect(ids.allSatisfy { $0 >= 0 && Int($0) < tokenizer.vocabularySize })
                    _ = tokenizer.decode(ids, removeSpecial: special, renderSpecial: special)
                }
            }
        }
        // Both outcomes must occur, or the mutations are not exercising the loader.
        #expect(loaded > 0 && rejected > 0, "loaded \(loaded), rejected \(rejected)")
    }
}
