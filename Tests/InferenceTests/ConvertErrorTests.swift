import Foundation
import GGUF
import Testing
@testable import Inference

/// `ponder convert` on broken or unsupported checkpoints: one sentence naming the file and the
/// key or tensor, never a crash; and the flags that change what is written.
@Suite("ponder convert errors and options")
struct ConvertErrorTests {
    /// A copy of fixture `name` in a temporary folder, its config.json edited by `edit`.
    static func copy(_ name: String, edit: (inout [String: Any]) -> Void = { _ in }) throws -> URL {
        let folder = try ConvertFixtures.temporaryFolder()
        let source = URL(fileURLWithPath: ConvertFixtures.folder(name))
        for item in try FileManager.default.contentsOfDirectory(atPath: source.path) {
            try FileManager.default.copyItem(at: source.appendingPathComponent(item), to: folder.appendingPathComponent(item))
        }
        let configURL = folder.appendingPathComponent("config.json")
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as! [String: Any]
        edit(&config)
        try JSONSerialization.data(withJSONObject: config).write(to: configURL)
        return folder
    }

    static func convertError(_ folder: URL, type: GGMLType = .f32) -> ConvertError? {
        do {
            _ = try HFConverter.convert(folder: folder.path, options: ConvertOptions(
                outputPath: folder.appendingPathComponent("out.gguf").path, type: type))
            return nil
        } catch {
            return error
        }
    }

    @Test("a folder without config.json names the file")
    func missingConfig() throws {
        let folder = try Self.copy("qwen2")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.removeItem(at: folder.appendingPathComponent("config.json"))
        let error = try #require(Self.convertError(folder))
        #expect(error.description == "\(folder.path)/config.json: the file is missing")
    }

    @Test("an unsupported architecture lists the supported ones")
    func unsupportedArchitecture() throws {
        let folder = try Self.copy("qwen2") { $0["architectures"] = ["GPTNeoXForCausalLM"] }
        defer { try? FileManager.default.removeItem(at: folder) }
        let error = try #require(Self.convertError(folder))
        #expect(error.description.hasSuffix(
            "config.json: architecture 'GPTNeoXForCausalLM' cannot be converted (supported: \(ConvertFamilies.supportedArchitectures.joined(separator: ", ")))"))
        #expect(error.description.contains("LlamaForCausalLM, Qwen2ForCausalLM"))
    }

    @Test("a shape that disagrees with config.json names the tensor and both shapes")
    func shapeMismatch() throws {
        let folder = try Self.copy("qwen2") { $0["intermediate_size"] = 96 }
        defer { try? FileManager.default.removeItem(at: folder) }
        let error = try #require(Self.convertError(folder))
        #expect(error.description.hasSuffix(
            "model.safetensors: tensor 'model.layers.0.mlp.gate_proj.weight' has shape [128, 64], but the configuration calls for [96, 64]"))
    }

    @Test("a missing tensor is named")
    func missingTensor() throws {
        let folder = try Self.copy("llama3") { $0["num_hidden_layers"] = 3 }
        defer { try? FileManager.default.removeItem(at: folder) }
        let error = try #require(Self.convertError(folder))
        #expect(error.description == "\(folder.path): tensor 'model.layers.2.input_layernorm.weight' is missing from the checkpoint")
    }

    @Test("a missing config key is named with its section")
    func missingKey() throws {
        let folder = try Self.copy("smolvlm") { config in
            var text = config["text_config"] as! [String: Any]
            text.removeValue(forKey: "hidden_size")
            config["text_config"] = text
        }
        defer { try? FileManager.default.removeItem(at: folder) }
        let error = try #require(Self.convertError(folder))
        #expect(error.description == "\(folder.path)/config.json: key 'text_config.hidden_size' is missing")
    }

    @Test("--type accepts only implemented types and lists them")
    func outputTypes() throws {
        #expect(try TensorEncoding.requestedType(named: "f16") == .f16)
        #expect(try TensorEncoding.requestedType(named: "BF16") == .bf16)
        #expect(throws: ConvertError(file: "Q4_K_M", kind: .unsupportedOutputType("Q4_K_M", supported: ["F32", "F16", "BF16"]))) {
            try TensorEncoding.requestedType(named: "Q4_K_M")
        }
        // Norms, 1-D tensors and position embeddings stay F32, as in llama.cpp.
        #expect(TensorEncoding.type(for: "blk.0.attn_norm.weight", dimensions: [64], requested: .f16) == .f32)
        #expect(TensorEncoding.type(for: "blk.0.attn_q.bias", dimensions: [64], requested: .bf16) == .f32)
        #expect(TensorEncoding.type(for: "blk.0.attn_q.weight", dimensions: [64, 64], requested: .bf16) == .bf16)
        #expect(TensorEncoding.type(for: "v.position_embd.weight", dimensions: [32, 16], requested: .f16) == .f32)
    }

    @Test("an unknown pre-tokenizer is refused with the supported list")
    func unknownPreTokenizer() throws {
        let folder = try Self.copy("qwen2")
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("tokenizer.json")
        var tokenizer = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        tokenizer["pre_tokenizer"] = ["type": "Whitespace"]
        try JSONSerialization.data(withJSONObject: tokenizer).write(to: url)
        let error = try #require(Self.convertError(folder))
        #expect(error.description.contains("tokenizer.json: the tokenizer cannot be converted: its pre-tokenizer [Whitespace] matches none"))
    }

    @Test("stage format: --stage-format, or a LLaVA-CoT model card, writes ponder.stage_format")
    func stageFormat() throws {
        let folder = try Self.copy("qwen2")
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("a.gguf").path
        _ = try HFConverter.convert(folder: folder.path, options: ConvertOptions(outputPath: out, type: .f16))
        #expect(try GGUFFile(path: out).value(forKey: "ponder.stage_format") == nil)
        _ = try HFConverter.convert(folder: folder.path, options: ConvertOptions(outputPath: out, type: .f16, stageFormat: true))
        #expect(try GGUFFile(path: out).value(forKey: "ponder.stage_format") == .bool(true))
        try Data("# Llama-3.2V-11B-cot\nA LLaVA-CoT fine-tune.\n".utf8).write(to: folder.appendingPathComponent("README.md"))
        _ = try HFConverter.convert(folder: folder.path, options: ConvertOptions(outputPath: out, type: .f16))
        #expect(try GGUFFile(path: out).value(forKey: "ponder.stage_format") == .bool(true))
    }

    @Test("a projector file goes next to the text file as mmproj-NAME; no type picks the checkpoint's")
    func outputNames() throws {
        #expect(HFConverter.outputPath(for: .projector, "out/model.gguf") == "out/mmproj-model.gguf")
        #expect(HFConverter.outputPath(for: .projector, "model.gguf") == "mmproj-model.gguf")
        #expect(HFConverter.outputPath(for: .text, "out/model.gguf") == "out/model.gguf")
        let folder = try ConvertFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let summary = try HFConverter.convert(folder: ConvertFixtures.folder("llama3"),
                                              options: ConvertOptions(outputPath: folder.appendingPathComponent("m.gguf").path))
        #expect(summary.type == .bf16)   // a BF16 checkpoint
        #expect(summary.files.count == 1 && summary.architecture == "llama")
    }
}
