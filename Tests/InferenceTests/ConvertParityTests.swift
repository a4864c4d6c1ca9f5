import Foundation
import GGUF
import Testing
@testable import Inference

/// `ponder convert` against llama.cpp's `convert_hf_to_gguf.py` and transformers, on the tiny
/// checkpoints of `Scripts/make_convert_fixtures.py` (llama with Llama 3 rope scaling and BF16
/// weights, qwen2 with biases and a tied output, SmolVLM/idefics3 with F16 weights, LLaVA-1.5 in BF16 with a SentencePiece tokenizer):
/// - every tensor (name, dimensions, type, FNV-1a hash of its bytes) and every metadata key
///   and value equals llama.cpp's, at every output type llama.cpp was run at. Deliberate
///   difference: the tensor order (Ponder writes block by block, llama.cpp in checkpoint order);
/// - the converted text model's logits match transformers' within 1e-3 of max |logit|;
/// - the projector file's image embeddings (SmolVLM/idefics3, LLaVA/mlp) match transformers'
///   image features for the same normalized pixels within 1e-3 (LLaVA-1.5 projectors have no
///   llama.cpp reference: its current converter no longer writes them);
/// - Ponder's tokenizer, loaded from the converted file, gives the original tokenizer's ids
///   (HF `tokenizers`; `sentencepiece` for LLaVA's Llama 2-style `tokenizer.model`).
@Suite("ponder convert parity with llama.cpp and transformers")
struct ConvertParityTests {
    @Test("tensors and metadata equal llama.cpp's converter", arguments: ConvertFixtures.outputs)
    func matchesLlamaCpp(output: String) throws {
        let parts = output.split(separator: "/").map(String.init)
        let (name, typeName) = (parts[0], parts[1])
        let type = try #require(GGMLType(name: typeName))
        let folder = try ConvertFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let textPath = try ConvertFixtures.convert(name, type: type, into: folder)
        let expected = (ConvertFixtures.fixture(name)["outputs"] as! [String: Any])[typeName] as! [String: Any]
        for (role, path) in [("text", textPath), ("mmproj", HFConverter.outputPath(for: .projector, textPath))] {
            guard let reference = expected[role] as? [String: Any] else {
                // LLaVA-1.5 projectors have no llama.cpp reference (see ConvertLlava); the
                // projector test checks them against transformers.
                let hasImage = ConvertFixtures.fixture(name)["image"] != nil
                #expect(FileManager.default.fileExists(atPath: path) == (role == "mmproj" && hasImage), "\(output): \(role) file")
                continue
            }
            let file = try GGUFFile(path: path)
            compareMetadata(file, reference["metadata"] as! [String: [String: Any]], label: "\(output) \(role)")
            compareTensors(file, reference["tensors"] as! [[String: Any]], label: "\(output) \(role)")
        }
    }

    private func compareMetadata(_ file: GGUFFile, _ reference: [String: [String: Any]], label: String) {
        let mine = Set(file.metadata.map(\.key))
        #expect(mine == Set(reference.keys), """
            \(label): keys only Ponder writes \(mine.subtracting(reference.keys).sorted()), \
            only llama.cpp writes \(Set(reference.keys).subtracting(mine).sorted())
            """)
        for (key, value) in reference.sorted(by: { $0.key < $1.key }) {
            guard let actual = file.value(forKey: key) else { continue }
            #expect(ConvertFixtures.matches(value, actual),
                    "\(label): \(key) is \(String(describing: ConvertFixtures.recorded(actual)).prefix(200)), llama.cpp wrote \(String(describing: value).prefix(200))")
        }
    }

    private func compareTensors(_ file: GGUFFile, _ reference: [[String: Any]], label: String) {
        #expect(Set(file.tensors.map(\.name)) == Set(reference.map { $0["name"] as! String }), "\(label): tensor names differ")
        for expected in reference {
            let name = expected["name"] as! String
            guard let tensor = file.tensor(named: name) else { continue }
            #expect(tensor.dimensions == expected["dimensions"] as! [Int], "\(label): \(name) dimensions")
            #expect(tensor.type.name == expected["type"] as! String, "\(label): \(name) is \(tensor.type), llama.cpp wrote \(expected["type"]!)")
            #expect(ConvertFixtures.fnv1a64(file.data(for: tensor)) == expected["fnv1a64"] as! String,
                    "\(label): the bytes of \(name) differ from llama.cpp's")
        }
    }

    @Test("the converted text model's logits match transformers'", arguments: ConvertFixtures.names)
    func logitsMatchTransformers(name: String) throws {
        let fixture = ConvertFixtures.fixture(name)
        let folder = try ConvertFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = try ConvertFixtures.convert(name, type: .f32, into: folder)
        let prompt = (fixture["prompt_ids"] as! [Int]).map(Int32.init)
        let vocabulary = fixture["n_vocab"] as! Int
        let model = try loadTextModel(file: GGUFFile(path: path),
                                      options: TextModelOptions(contextLength: prompt.count + 16, threadCount: 2))
        #expect(model.vocabularySize == vocabulary)
        let data = try Data(contentsOf: ConvertFixtures.directory.appendingPathComponent("\(name).logits.bin"))
        let values: [Float] = data.withUnsafeBytes { raw in
            (0..<(raw.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        }
        let expected = stride(from: 0, to: values.count, by: vocabulary).map { Array(values[$0..<($0 + vocabulary)]) }
        let actual = try model.prefillLogits(prompt)
        try #require(actual.count == expected.count)
        let error = ParityMeasure.maxRelative(actual, expected)
        let tolerance = ConvertFixtures.references["logit_tolerance"] as! Double
        print("convert-parity: {\"fixture\": \"\(name)\", \"max_relative\": \(error), \"bound\": \(tolerance)}")
        #expect(error <= tolerance, "\(name): max|Δ|/max|ref| = \(error) against transformers")
    }

    static var visionNames: [String] { ConvertFixtures.fixtures.filter { $0["image"] != nil }.map { $0["name"] as! String } }

    @Test("the converted projector's image embeddings match transformers' image features", arguments: visionNames)
    func projectorMatchesTransformers(name: String) throws {
        let image = ConvertFixtures.fixture(name)["image"] as! [String: Any]
        let folder = try ConvertFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let text = try ConvertFixtures.convert(name, type: .f32, into: folder)
        let encoder = try loadVisionEncoder(path: HFConverter.outputPath(for: .projector, text), threads: 2)
        func floats(_ file: String) throws -> [Float] {
            let data = try Data(contentsOf: ConvertFixtures.directory.appendingPathComponent(file))
            return data.withUnsafeBytes { raw in
                (0..<(raw.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
            }
        }
        let expected = try floats(image["features"] as! String)
        let actual = encoder.encode(tile: try floats(image["pixels"] as! String))
        try #require(actual.count == expected.count, "\(name): \(actual.count) values, transformers gives \(expected.count)")
        let error = relativeError(actual, expected)
        print("convert-parity: {\"fixture\": \"\(name)\", \"image_max_relative\": \(error)}")
        #expect(error <= 1e-3, "\(name): image embeddings max|Δ|/max|ref| = \(error) against transformers")
    }

    @Test("Ponder's tokenizer on the converted vocabulary gives the HF tokenizer's ids", arguments: ConvertFixtures.names)
    func tokenizerIDsMatch(name: String) throws {
        let fixture = ConvertFixtures.fixture(name)
        let folder = try ConvertFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = try ConvertFixtures.convert(name, type: .f16, into: folder)
        let tokenizer = try VocabularyTokenizer(file: GGUFFile(path: path))
        let cases = fixture["tokenizer_cases"] as! [[String: Any]]
        #expect(cases.count > 50)
        var mismatches = 0
        for entry in cases {
            let text = entry["text"] as! String
            let expected = (entry["ids"] as! [Int]).map(Int32.init)
            let actual = tokenizer.encode(text, addSpecial: true, parseSpecial: true)
            if actual != expected { mismatches += 1 }
            #expect(actual == expected, "\(name): \(text.debugDescription) → \(actual), HF gives \(expected)")
        }
        #expect(mismatches == 0)
    }
}
