import Foundation
import GGUF
import Testing
@testable import Inference

/// Ollama's one-file Qwen2.5-VL (`qwen25vl`): the qwen2_5_vl fixture pair rewritten in the
/// layout Ollama's converter writes (one file, `qwen25vl.` keys, `rope.mrope_section`, the
/// vision tower under Ollama's names and `qwen25vl.vision.*` keys, no mean/std, no
/// feed-forward width) must answer as the pair does, bit for bit.
@Suite(.serialized) struct QwenOllamaLayoutTests {
    /// Ollama's name of a llama.cpp vision tensor.
    static func ollamaName(_ name: String) -> String {
        switch name {
        case "v.patch_embd.weight": return "v.patch_embd_0.weight"
        case "v.patch_embd.weight.1": return "v.patch_embd_1.weight"
        default: break
        }
        if name.hasPrefix("v.post_ln.") { return "v.merger.ln_q." + name.dropFirst("v.post_ln.".count) }
        if name.hasPrefix("mm.") { return "v.merger.mlp." + name.dropFirst("mm.".count) }
        return name
    }

    static func oneFile(emptyFullAttention: Bool = false) throws -> String {
        let directory = QwenVLTextParityTests.directory("qwen2_5_vl")
        let text = try GGUFFile(path: directory.appendingPathComponent("model.gguf").path)
        let projector = try GGUFFile(path: directory.appendingPathComponent("mmproj.gguf").path)
        var writer = GGUFWriter()
        for entry in text.metadata {
            switch entry.key {
            case "general.architecture": writer.set(entry.key, "qwen25vl")
            case "qwen2vl.rope.dimension_sections":
                let sections = try #require(try text.optionalIntArray(entry.key))
                writer.set("qwen25vl.rope.mrope_section", GGUFValue.array(.int32(sections.prefix(3).map { Int32($0) })))
            default:
                writer.set(entry.key.hasPrefix("qwen2vl.") ? "qwen25vl." + entry.key.dropFirst("qwen2vl.".count) : entry.key, entry.value)
            }
        }
        for key in ["patch_size", "embedding_length", "block_count", "attention.head_count", "attention.layer_norm_epsilon"] {
            writer.set("qwen25vl.vision." + key, try #require(projector.value(forKey: "clip.vision." + key)))
        }
        let blocks = try #require(try projector.optionalInt("clip.vision.block_count"))
        let pattern = try #require(try projector.optionalInt("clip.vision.n_wa_pattern"))
        let full = emptyFullAttention ? [] : (0..<blocks).filter { ($0 + 1) % pattern == 0 }.map { Int32($0) }
        writer.set("qwen25vl.vision.fullatt_block_indexes", GGUFValue.array(.int32(full)))
        writer.set("qwen25vl.vision.window_size", UInt32(112))
        writer.set("qwen25vl.vision.spatial_merge_size", UInt32(2))
        for (file, rename) in [(text, { (name: String) in name }), (projector, ollamaName)] {
            for tensor in file.tensors {
                try writer.addTensor(name: rename(tensor.name), dimensions: tensor.dimensions, type: tensor.type,
                                     data: Array(file.data(for: tensor)))
            }
        }
        let path = NSTemporaryDirectory() + "ponder-qwen25vl-ollama-\(ProcessInfo.processInfo.processIdentifier)-\(emptyFullAttention).gguf"
        try writer.write(to: path)
        return path
    }

    @Test func oneFileAnswersAsThePair() throws {
        let path = try Self.oneFile()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try GGUFFile(path: path)
        #expect(ChatVisionEncoder.holdsVision(file))
        #expect(try TextModelConfiguration(file: file).ropeSections == [2, 3, 3])
        let single = try ChatModel(model: path, mmproj: nil, options: TextModelOptions(threadCount: 2),
                                   imagePixels: QwenVLChatParityTests.settings["qwen2_5_vl"]!.pixels)
        let pair = try QwenVLChatParityTests.chat("qwen2_5_vl")
        for name in ["image_down", "image_up"] {
            let a = try QwenVLChatParityTests.logitsError(family: "qwen2_5_vl", name: name, chat: single)
            let b = try QwenVLChatParityTests.logitsError(family: "qwen2_5_vl", name: name, chat: pair)
            #expect(a == b && a < 1e-3, "\(name): one file \(a), pair \(b)")
        }
    }

    /// Some published files carry an empty `fullatt_block_indexes`: Qwen2.5-VL's [7, 15, 23, 31]
    /// is assumed, which for this 4-block fixture means windows everywhere, so the logits move.
    @Test func anEmptyFullAttentionListTakesQwen25VLsPattern() throws {
        let path = try Self.oneFile(emptyFullAttention: true)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let view = try #require(QwenOllamaLayout.clipView(try GGUFFile(path: path)))
        #expect(try view.optionalInt("clip.vision.n_wa_pattern") == 8)
        #expect(try view.optionalInt("clip.vision.feed_forward_length") == 64)
        #expect(view.tensor(named: "mm.2.weight") != nil && view.tensor(named: "token_embd.weight") == nil)
    }

    /// Ollama's one-file Qwen3-VL is refused in one sentence that names the file.
    @Test func ollamasOneFileQwen3VLIsRefusedByName() throws {
        let text = try GGUFFile(path: QwenVLTextParityTests.directory("qwen3_vl").appendingPathComponent("model.gguf").path)
        var writer = GGUFWriter()
        for entry in text.metadata { writer.set(entry.key, entry.value) }
        for tensor in text.tensors {
            try writer.addTensor(name: tensor.name, dimensions: tensor.dimensions, type: tensor.type, data: Array(text.data(for: tensor)))
        }
        try writer.addTensor(name: "v.patch_embed.weight", dimensions: [4], type: .f32, data: Array(repeating: 0, count: 16))
        let path = NSTemporaryDirectory() + "ponder-qwen3vl-ollama-\(ProcessInfo.processInfo.processIdentifier).gguf"
        try writer.write(to: path)
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            _ = try ChatModel(model: path, mmproj: nil, options: TextModelOptions(threadCount: 1))
            Issue.record("the one-file Qwen3-VL loaded")
        } catch let error as ChatModelError {
            #expect("\(error)".contains(path) && "\(error)".contains("Ollama's one-file Qwen3-VL"))
        }
    }
}
