import Foundation
import GGUF
import Testing
@testable import Inference

/// `ModelQuantizer` on the model fixtures: the output loads, keeps the input's metadata with
/// llama.cpp's file type, holds the planned types, and its logits stay close to the input's.
@Suite struct ModelQuantizerTests {
    let directory: String = {
        let path = NSTemporaryDirectory() + "ponder-quantize-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    static func modelPath(_ name: String) -> String {
        ModelParityReferences.directory.appendingPathComponent(name).path
    }

    /// `Fixtures/quants/quantized_logits.json`: how far llama.cpp's logits moved when
    /// llama.cpp quantized the same model to the same target, against the same reference.
    struct LogitsCase: Decodable, Sendable, CustomTestStringConvertible {
        var model: String
        var target: String
        var reference: String
        var relative_rms: Double
        var argmax_agreement: Double
        var testDescription: String { "\(model) → \(target)" }
    }

    static let logitsCases: [LogitsCase] = {
        struct Root: Decodable { var cases: [LogitsCase] }
        guard let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil)?
                .appendingPathComponent("quants/quantized_logits.json"),
              let data = try? Data(contentsOf: url) else { return [] }
        return (try? JSONDecoder().decode(Root.self, from: data).cases) ?? []
    }()

    @Test("the quantized model loads, keeps the metadata, and its logits move no more than llama.cpp's",
          arguments: logitsCases)
    func quantizedLogits(_ reference: LogitsCase) throws {
        let target = try #require(QuantizationTarget(name: reference.target))
        let input = Self.modelPath(reference.model)
        let output = directory + "/\(reference.model)-\(target.name).gguf"
        // Small slabs, so that tensors are written in several parts.
        let summary = try ModelQuantizer(target: target, threadCount: 2, slabElements: 1000).quantize(input: input, output: output)
        let original = try GGUFFile(path: input), quantized = try GGUFFile(path: output)
        #expect(summary.tensorCount == original.tensors.count && summary.outputBytes == quantized.fileSize)
        #expect(try quantized.int("general.file_type") == Int(target.fileType))
        #expect(try quantized.int("general.quantization_version") == 2)
        let keys = original.metadata.map(\.key).filter { !["general.file_type", "general.quantization_version"].contains($0) }
        #expect(keys.allSatisfy { quantized.value(forKey: $0) == original.value(forKey: $0) })
        #expect(quantized.tensors.map(\.type) == ModelQuantizer(target: target).plan(for: original))
        #expect(quantized.tensors.map(\.name) == original.tensors.map(\.name))
        for (before, after) in zip(original.tensors, quantized.tensors) where after.type == before.type {
            let copied = Array(quantized.data(for: after)) == Array(original.data(for: before))
            #expect(copied, "\(after.name) is copied as it is")
        }

        let prompt = ModelParityReferences.shared.prompt
        let vocabulary = try #require(original.tensor(named: "token_embd.weight")?.dimensions.last)
        let expected = try ModelParityReferences.logits(reference.reference, vocabularySize: vocabulary)
        let model = try loadTextModel(file: quantized, options: TextModelOptions(contextLength: prompt.count + 8, threadCount: 2))
        let actual = try model.prefillLogits(prompt)
        let rms = ParityMeasure.relativeRMS(actual, expected)
        let agreement = ParityMeasure.argmaxAgreement(actual, expected)
        #expect(rms <= 1.1 * reference.relative_rms + 0.002,
                "relative RMS vs \(reference.reference) \(rms); llama.cpp's quantization \(reference.relative_rms)")
        #expect(agreement >= reference.argmax_agreement - 0.05,
                "argmax agreement \(agreement); llama.cpp's quantization \(reference.argmax_agreement)")
    }

    @Test("requantizing Q4_K to Q4_K_M copies the Q4_K tensors and gives Q6_K where llama.cpp does")
    func requantizeQ4K() throws {
        let input = Self.modelPath("llama-q4_k.gguf")
        let summary = try ModelQuantizer(target: .q4_K_M, threadCount: 2).quantize(input: input, output: directory + "/r.gguf")
        let quantized = try GGUFFile(path: directory + "/r.gguf")
        // Tied output, 2 layers: token_embd, and attn_v/ffn_down of the last layer get Q6_K.
        for name in ["token_embd.weight", "blk.1.attn_v.weight", "blk.1.ffn_down.weight"] {
            #expect(quantized.tensor(named: name)?.type == .q6_K, "\(name)")
        }
        #expect(quantized.tensor(named: "blk.0.attn_v.weight")?.type == .q4_K)
        #expect(summary.convertedCount == 3)
    }

    @Test func reportsProgressPerTensor() throws {
        var seen: [Int] = []
        var last: ModelQuantizer.Progress?
        _ = try ModelQuantizer(target: .q8_0, threadCount: 1, slabElements: 64)
            .quantize(input: Self.modelPath("llama-f32.gguf"), output: directory + "/p.gguf") { progress in
                seen.append(progress.tensorIndex)
                last = progress
            }
        #expect(Set(seen) == Set(1...21))
        #expect(last?.bytesDone == last?.bytesTotal)
        #expect(seen == seen.sorted())
    }

    @Test("a tensor that cannot be dequantized is named in the error, and no file is left")
    func undecodableTensor() throws {
        var writer = GGUFWriter()
        writer.set("general.architecture", "llama")
        writer.set("llama.block_count", UInt32(1))
        try writer.addTensor(name: "blk.0.attn_norm.weight", dimensions: [256], values: [Float](repeating: 1, count: 256))
        try writer.addTensor(name: "blk.0.attn_q.weight", dimensions: [256, 2], type: .iq2_xxs,
                             data: [UInt8](repeating: 0, count: 2 * GGMLType.iq2_xxs.typeSize))
        let input = directory + "/iq2.gguf", output = directory + "/iq2-q8.gguf"
        try writer.write(to: input)
        #expect {
            try ModelQuantizer(target: .q8_0).quantize(input: input, output: output)
        } throws: { error in
            let text = "\(error)"
            return text.contains("tensor 'blk.0.attn_q.weight'") && text.contains("iq2.gguf") && text.contains("IQ2_XXS")
        }
        #expect(!FileManager.default.fileExists(atPath: output) && !FileManager.default.fileExists(atPath: output + ".partial"))
        // Every target converts the weight, F32 included.
        #expect(try ModelQuantizer(target: .f32).plan(for: GGUFFile(path: input)) == [.f32, .f32])
    }

    @Test func badInputsGiveOneSentence() throws {
        let notGGUF = directory + "/notes.gguf"
        try Data("hello, world".utf8).write(to: URL(fileURLWithPath: notGGUF))
        let quantizer = ModelQuantizer(target: .q8_0)
        #expect {
            try quantizer.quantize(input: notGGUF, output: directory + "/x.gguf")
        } throws: { error in
            "\(error)".contains("notes.gguf") && "\(error)".contains("not a GGUF file")
        }
        let input = Self.modelPath("llama-f32.gguf")
        let truncated = directory + "/truncated.gguf"
        try Data(contentsOf: URL(fileURLWithPath: input)).prefix(4000).write(to: URL(fileURLWithPath: truncated))
        #expect(throws: QuantizationError.self) { try quantizer.quantize(input: truncated, output: directory + "/y.gguf") }
        #expect(!FileManager.default.fileExists(atPath: directory + "/y.gguf"))
        #expect {
            try quantizer.quantize(input: input, output: input)
        } throws: { error in
            "\(error)".contains("is the input file")
        }
        #expect(QuantizationError(kind: .unknownTarget("Q3_K")).description
                == "unknown quantization type 'Q3_K'; valid types are Q8_0, Q4_0, Q4_K_M, Q5_K_M, Q6_K, F16, BF16, F32")
    }
}
