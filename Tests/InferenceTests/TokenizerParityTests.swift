import Foundation
import Testing
@testable import Inference

/// Every fixture vocabulary × every corpus string × three special-token modes against
/// llama.cpp's own output.
@Suite("Tokenizer parity with llama.cpp")
struct TokenizerParityTests {
    static let names = TokenizerReferences.vocabularyNames

    @Test("encode matches llama_tokenize", arguments: names)
    func encode(name: String) throws {
        let tokenizer = try TokenizerReferences.tokenizer(named: name)
        let reference = TokenizerReferences.vocabulary(named: name)
        var mismatches = 0
        for (text, expected) in zip(TokenizerReferences.shared.strings, reference.cases) {
            let modes: [(String, Bool, Bool, [Int32])] = [
                ("special", true, true, expected.special), ("plain", true, false, expected.plain),
                ("bare", false, true, expected.bare),
            ]
            for (mode, addSpecial, parseSpecial, ids) in modes {
                let actual = tokenizer.encode(text, addSpecial: addSpecial, parseSpecial: parseSpecial)
                if actual != ids { mismatches += 1 }
                #expect(actual == ids, "\(name) \(mode) \(shown(text))")
            }
        }
        #expect(mismatches == 0)
    }

    @Test("encode matches llama_tokenize on seeded random strings", arguments: names)
    func encodeRandom(name: String) throws {
        let tokenizer = try TokenizerReferences.tokenizer(named: name)
        let reference = TokenizerReferences.vocabulary(named: name)
        for (text, expected) in zip(TokenizerReferences.shared.random_strings, reference.random_cases) {
            #expect(tokenizer.encode(text, addSpecial: true, parseSpecial: true) == expected, "\(name) \(shown(text))")
        }
    }

    @Test("pieces match llama_token_to_piece", arguments: names)
    func pieces(name: String) throws {
        let tokenizer = try TokenizerReferences.tokenizer(named: name)
        let reference = TokenizerReferences.vocabulary(named: name)
        #expect(tokenizer.vocabularySize == reference.n_tokens)
        for id in 0..<reference.n_tokens {
            let token = Int32(id)
            #expect(tokenizer.piece(for: token, special: true) == [UInt8](hex: reference.pieces[id]),
                    "\(name) token \(id) special")
            let plain = reference.pieces_without_special[String(id)] ?? reference.pieces[id]
            #expect(tokenizer.piece(for: token, special: false) == [UInt8](hex: plain), "\(name) token \(id)")
        }
    }

    @Test("detokenize matches llama_detokenize", arguments: names)
    func detokenize(name: String) throws {
        let tokenizer = try TokenizerReferences.tokenizer(named: name)
        let reference = TokenizerReferences.vocabulary(named: name)
        for (text, expected) in zip(TokenizerReferences.shared.strings, reference.cases) {
            let rendered = tokenizer.detokenize(expected.special, removeSpecial: false, renderSpecial: true)
            #expect(rendered == [UInt8](hex: expected.detokenized_special), "\(name) \(shown(text)) special")
            let plain = tokenizer.detokenize(expected.special, removeSpecial: true, renderSpecial: false)
            #expect(plain == [UInt8](hex: expected.detokenized_plain), "\(name) \(shown(text)) plain")
        }
    }

    @Test("special ids, flags, attributes and end-of-generation tokens match", arguments: names)
    func metadata(name: String) throws {
        let tokenizer = try TokenizerReferences.tokenizer(named: name)
        let reference = TokenizerReferences.vocabulary(named: name)
        let vocabulary = tokenizer.vocabulary
        func id(_ value: Int32) -> Int32? { value < 0 ? nil : value }
        #expect(tokenizer.beginningOfSequenceToken == id(reference.bos))
        #expect(tokenizer.endOfSequenceToken == id(reference.eos))
        #expect(tokenizer.paddingToken == id(reference.pad))
        #expect(vocabulary.addBeginningOfSequence == reference.add_bos)
        #expect(vocabulary.addEndOfSequence == reference.add_eos)
        #expect(vocabulary.attributes.map(\.rawValue) == reference.attributes)
        #expect(vocabulary.endOfGenerationTokens == Set(reference.end_of_generation))
        for token in 0..<Int32(reference.n_tokens) {
            #expect(tokenizer.isEndOfGeneration(token) == reference.end_of_generation.contains(token))
        }
        // llama.cpp picks among several end-of-turn texts in its hash map's order; Ponder takes
        // the first in llama.cpp's list. Both must be end-of-generation tokens.
        let candidates = SpecialTokenIDs.detectedNames[0].1.compactMap { vocabulary.tokens.firstIndex(of: $0) }
        if candidates.count > 1 {
            #expect(tokenizer.endOfTurnToken.map { candidates.contains(Int($0)) } == true)
            #expect(reference.end_of_generation.contains(tokenizer.endOfTurnToken ?? -1))
        } else {
            #expect(tokenizer.endOfTurnToken == id(reference.eot))
        }
    }

    @Test("the corpus covers every vocabulary and mode")
    func coverage() {
        let references = TokenizerReferences.shared
        #expect(references.vocabularies.count >= 8)
        #expect(references.strings.count >= 80)
        #expect(references.random_strings.count >= 100)
        for vocabulary in references.vocabularies {
            #expect(vocabulary.cases.count == references.strings.count)
            #expect(vocabulary.random_cases.count == references.random_strings.count)
        }
    }
}
