import Foundation
import GGUF
@testable import Inference

/// The llama.cpp references written by `Scripts/make_tokenizer_fixtures.py`.
struct TokenizerReferences: Decodable {
    struct Case: Decodable {
        /// add_special = true, parse_special = true.
        let special: [Int32]
        /// add_special = true, parse_special = false.
        let plain: [Int32]
        /// add_special = false, parse_special = true.
        let bare: [Int32]
        /// `llama_detokenize(special, remove_special: false, unparse_special: true)`, hex.
        let detokenized_special: String
        /// `llama_detokenize(special, remove_special: true, unparse_special: false)`, hex.
        let detokenized_plain: String
    }

    struct Vocabulary: Decodable {
        let name: String
        let file: String
        let model: String
        let n_tokens: Int
        let bos: Int32
        let eos: Int32
        let eot: Int32
        let pad: Int32
        let add_bos: Bool
        let add_eos: Bool
        let end_of_generation: [Int32]
        let attributes: [UInt32]
        let pieces: [String]
        let pieces_without_special: [String: String]
        let cases: [Case]
        /// `llama_tokenize(random_strings[i], add_special: true, parse_special: true)`.
        let random_cases: [[Int32]]
    }

    let strings: [String]
    let random_strings: [String]
    let vocabularies: [Vocabulary]

    static let directory: URL = {
        guard let fixtures = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
            fatalError("the test bundle has no Fixtures folder")
        }
        return fixtures.appendingPathComponent("tokenizers")
    }()

    static let shared: TokenizerReferences = {
        do {
            let data = try Data(contentsOf: directory.appendingPathComponent("references.json"))
            return try JSONDecoder().decode(TokenizerReferences.self, from: data)
        } catch {
            fatalError("cannot read the tokenizer references: \(error)")
        }
    }()

    static var vocabularyNames: [String] { shared.vocabularies.map(\.name) }

    static func vocabulary(named name: String) -> Vocabulary {
        shared.vocabularies.first { $0.name == name }!
    }

    /// The tokenizer of a fixture GGUF, loaded once per name.
    static func tokenizer(named name: String) throws -> VocabularyTokenizer {
        let file = try GGUFFile(path: directory.appendingPathComponent(vocabulary(named: name).file).path)
        return try VocabularyTokenizer(file: file)
    }
}

extension Array where Element == UInt8 {
    init(hex: String) {
        var bytes: [UInt8] = []
        var iterator = hex.utf8.makeIterator()
        while let high = iterator.next(), let low = iterator.next() {
            bytes.append(UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)!)
        }
        self = bytes
    }

    var hex: String { map { String(format: "%02x", $0) }.joined() }
}

/// A short printable form of a string for failure messages.
func shown(_ text: String) -> String {
    text.debugDescription
}
