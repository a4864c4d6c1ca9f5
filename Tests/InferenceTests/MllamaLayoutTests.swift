import Foundation
import GGUF
import Testing
@testable import Inference

/// mllama files as Ponder writes them and as Ollama lays them out: the HF tokenizer's ids, one
/// file holding text and vision (Ollama ≥ 0.7), a projector with the legacy names (Ollama's
/// llama.cpp-fork blobs), and the errors of files that do not go together.
@Suite(.serialized) struct MllamaLayoutTests {
    struct Entry: Decodable { let text: String; let ids_with_special: [Int32]; let ids_without_special: [Int32] }
    struct References: Decodable { let tokenizer: [Entry] }

    @Test func tokenIDsEqualTheHFTokenizers() throws {
        let references = try JSONDecoder().decode(References.self, from: Data(contentsOf:
            MllamaParityTests.directory.appendingPathComponent("references.json")))
        let (model, _) = try MllamaParityTests.converted(.f32)
        let tokenizer = try VocabularyTokenizer(file: GGUFFile(path: model))
        #expect(references.tokenizer.count >= 30)
        for entry in references.tokenizer {
            #expect(tokenizer.encode(entry.text, addSpecial: true, parseSpecial: true) == entry.ids_with_special, "\(entry.text.debugDescription)")
            #expect(tokenizer.encode(entry.text, addSpecial: false, parseSpecial: true) == entry.ids_without_special, "\(entry.text.debugDescription)")
        }
    }

    /// Rewrites `source` into `path` with tensors renamed by `rename` (nil drops one) and the
    /// metadata of `extra` files appended.
    static func rewrite(_ sources: [String], to path: String, rename: (String) -> String? = { $0 }) throws {
        var writer = GGUFWriter()
        var seen = Set<String>()
        for source in sources {
            let file = try GGUFFile(path: source)
            for (key, value) in file.metadata where !seen.contains(key) {
                writer.set(key, value)
                seen.insert(key)
            }
            for tensor in file.tensors {
                guard let name = rename(tensor.name) else { continue }
                let data = file.data(for: tensor)
                try writer.addTensor(name: name, dimensions: tensor.dimensions, type: tensor.type, data: Array(data))
            }
        }
        try writer.write(to: path)
    }

    static func lastLogits(_ chat: ChatModel) throws -> [Float] {
        let prompt = MllamaParityTests.references.prompts.first { $0.name == "tiles2" }!
        return try MllamaParityTests.logits(prompt, chat: chat)
    }

    @Test func oneFileHoldingTextAndVisionLoadsWithoutAProjector() throws {
        let (model, projector) = try MllamaParityTests.converted(.f32)
        let single = NSTemporaryDirectory() + "ponder-mllama-single-\(UUID().uuidString).gguf"
        defer { try? FileManager.default.removeItem(atPath: single) }
        try Self.rewrite([model, projector], to: single)
        let separate = try Self.lastLogits(ChatModel(model: model, mmproj: projector, options: TextModelOptions(threadCount: 2)))
        let together = try ChatModel(model: single, mmproj: nil, options: TextModelOptions(threadCount: 2))
        #expect(together.imageLayout == .mllama)
        #expect(try Self.lastLogits(together) == separate)
    }

    @Test func aProjectorWithOllamasLegacyNamesGivesTheSameLogits() throws {
        let (model, projector) = try MllamaParityTests.converted(.f32)
        let legacy = NSTemporaryDirectory() + "ponder-mllama-legacy-\(UUID().uuidString).gguf"
        defer { try? FileManager.default.removeItem(atPath: legacy) }
        // ln1/ln2/attn_out, and fc1 under ffn_down, fc2 under ffn_up (clip.cpp's swap).
        try Self.rewrite([projector], to: legacy) { name in
            guard name.hasPrefix("v.blk.") || name.hasPrefix("v.global.blk.") else { return name }
            return name.replacingOccurrences(of: ".attn_norm.", with: ".ln1.")
                .replacingOccurrences(of: ".ffn_norm.", with: ".ln2.")
                .replacingOccurrences(of: ".attn_output.", with: ".attn_out.")
                .replacingOccurrences(of: ".ffn_up.", with: ".ffn_TMP.")
                .replacingOccurrences(of: ".ffn_down.", with: ".ffn_up.")
                .replacingOccurrences(of: ".ffn_TMP.", with: ".ffn_down.")
        }
        let expected = try Self.lastLogits(ChatModel(model: model, mmproj: projector, options: TextModelOptions(threadCount: 2)))
        #expect(try Self.lastLogits(ChatModel(model: model, mmproj: legacy, options: TextModelOptions(threadCount: 2))) == expected)
    }

    @Test func aClipProjectorWithAnMllamaModelIsOneSentence() throws {
        let (model, _) = try MllamaParityTests.converted(.f32)
        let clip = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/vision/clip-mlp.gguf").path
        #expect {
            _ = try ChatModel(model: model, mmproj: clip, options: TextModelOptions(threadCount: 1))
        } throws: { error in
            let text = String(describing: error)
            return text.contains("clip-mlp.gguf") && !text.contains("\n")
        }
    }

    @Test func aMissingVisionTensorNamesTheTensor() throws {
        let (_, projector) = try MllamaParityTests.converted(.f32)
        let broken = NSTemporaryDirectory() + "ponder-mllama-broken-\(UUID().uuidString).gguf"
        defer { try? FileManager.default.removeItem(atPath: broken) }
        try Self.rewrite([projector], to: broken) { $0 == "v.global.blk.1.attn_gate" ? nil : $0 }
        #expect {
            _ = try MllamaVisionEncoder(file: GGUFFile(path: broken))
        } throws: { error in
            String(describing: error).contains("v.global.blk.1.attn_gate")
        }
    }
}

/// The vision K/V of an image is computed once: forks share it, and a new sequence showing the
/// same image reuses it.
@Suite struct MllamaImageKeyValueTests {
    @Test func computedOncePerImage() throws {
        let (model, projector) = try MllamaParityTests.converted(.f32)
        let chat = try ChatModel(model: model, mmproj: projector, options: TextModelOptions(threadCount: 2))
        let text = try #require(chat.textModel as? TransformerTextModel)
        let image = try chat.encodeImage(atPath: MllamaParityTests.directory.appendingPathComponent("images/tiles2_142x71.png").path)
        let prompt = try chat.prompt(question: "What is this?", instruction: nil, system: nil, images: [image])
        let sequence = try text.makeSequence()
        _ = try text.forward(Batch(items: prompt.inputs.enumerated().map {
            Batch.Item(sequence: sequence, position: $0.offset, input: $0.element, wantsLogits: false)
        }))
        #expect(text.imageKeyValueComputations == 1)
        // Four candidates forked from the prompt decode a step together.
        var batch = Batch()
        var forks: [SequenceID] = []
        for i in 0..<4 {
            let fork = try text.fork(sequence)
            forks.append(fork)
            batch.add(token: Int32(10 + i), sequence: fork, position: prompt.count, wantsLogits: true)
        }
        let step = try text.forward(batch)
        #expect(step.values.count == 4 * text.vocabularySize)
        // A second sequence prefilled with the same image, as a judge prompt would be.
        let again = try text.makeSequence()
        let judged = try text.forward(Batch(items: prompt.inputs.enumerated().map {
            Batch.Item(sequence: again, position: $0.offset, input: $0.element, wantsLogits: $0.offset == prompt.count - 1)
        }))
        #expect(text.imageKeyValueComputations == 1)
        #expect(judged.values.count == text.vocabularySize)
        for fork in forks { text.release(fork) }
        // A truncated sequence drops the image when cut before its token, and a release frees it.
        try text.truncate(again, to: 3)
        #expect(text.attachedImages[again] == nil)
        text.release(sequence)
        #expect(text.attachedImages[sequence] == nil)
    }
}

/// Bad values in mllama files are one sentence naming the key, never a crash.
@Suite(.serialized) struct MllamaBadFileTests {
    /// A copy of `source` with `key` set to `value`.
    static func withValue(_ source: String, _ key: String, _ value: GGUFValue) throws -> String {
        let file = try GGUFFile(path: source)
        var writer = GGUFWriter()
        for (name, old) in file.metadata { writer.set(name, name == key ? value : old) }
        if file.value(forKey: key) == nil { writer.set(key, value) }
        for tensor in file.tensors {
            try writer.addTensor(name: tensor.name, dimensions: tensor.dimensions, type: tensor.type, data: Array(file.data(for: tensor)))
        }
        let path = NSTemporaryDirectory() + "ponder-mllama-bad-\(UUID().uuidString).gguf"
        try writer.write(to: path)
        return path
    }

    @Test(arguments: [
        ("mllama.attention.cross_attention_layers", GGUFValue.array(.int32([1, 9])), "cross_attention_layers"),
        ("mllama.attention.cross_attention_layers", GGUFValue.array(.int32([1, 1])), "cross_attention_layers"),
        ("mllama.attention.cross_attention_layers", GGUFValue.string("1,3"), "cross_attention_layers"),
        ("mllama.attention.head_count", GGUFValue.uint32(3), "head_count"),
        ("mllama.block_count", GGUFValue.uint32(0), "block_count"),
    ])
    func textModel(key: String, value: GGUFValue, named: String) throws {
        let (model, _) = try MllamaParityTests.converted(.f32)
        let path = try Self.withValue(model, key, value)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect {
            _ = try loadTextModel(path: path, options: TextModelOptions(threadCount: 1))
        } throws: { error in
            let text = String(describing: error)
            return text.contains(named) && !text.contains("\n")
        }
    }

    @Test(arguments: [
        ("mllama.vision.intermediate_layers_indices", GGUFValue.array(.int32([1, 7])), "intermediate_layers_indices"),
        ("mllama.vision.max_num_tiles", GGUFValue.uint32(0), "max_num_tiles"),
        ("mllama.vision.max_num_tiles", GGUFValue.uint32(3), "tile_position_embd"),
        ("mllama.vision.image_size", GGUFValue.uint32(57), "image_size"),
        ("mllama.vision.patch_size", GGUFValue.uint32(7), "patch_embd"),
        ("mllama.vision.attention.head_count", GGUFValue.uint32(5), "head_count"),
        ("mllama.vision.image_std", GGUFValue.array(.float32([0.2, 0, 0.2])), "image_std"),
        ("mllama.vision.global.block_count", GGUFValue.uint32(1 << 30), "global"),
    ])
    func visionTower(key: String, value: GGUFValue, named: String) throws {
        let (_, projector) = try MllamaParityTests.converted(.f32)
        let path = try Self.withValue(projector, key, value)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect {
            _ = try MllamaVisionEncoder(file: GGUFFile(path: path))
        } throws: { error in
            let text = String(describing: error)
            return text.contains(named) && !text.contains("\n")
        }
    }
}
