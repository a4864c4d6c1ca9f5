import Foundation
import GGUF
import Testing
@testable import Inference

/// mllama converted straight to Q8_0 and Q4_K_M by `ponder convert --type` against the F32
/// conversion of the same checkpoint (itself within 7e-7 of transformers), whether the prompt
/// is prefilled in one batch or fed one position at a time (decode quantizes activations as
/// llama.cpp does). The bound is how far llama.cpp's own quantized files are from their F32
/// model on a llama of the same width (`quantization.json`, by
/// `Scripts/measure_quantization_error.py`), with 25% room for mllama's deeper stack (5
/// layers, 2 of them cross-attention, against 2).
@Suite(.serialized) struct MllamaQuantizedTests {
    static func relativeRMS(_ a: [Float], _ b: [Float]) -> Double {
        var difference = 0.0, reference = 0.0
        for (x, y) in zip(a, b) {
            difference += Double(x - y) * Double(x - y)
            reference += Double(y) * Double(y)
        }
        return (difference / reference).squareRoot()
    }

    /// Logits of every position, prefilled in one batch, or one position per forward pass.
    static func logits(_ chat: ChatModel, _ prompt: MllamaParityTests.Prompt, stepwise: Bool) throws -> [Float] {
        guard !stepwise else {
            let inputs = try chat.prompt([.user(prompt.messages[0].content.compactMap(\.text).joined(), images: 1)],
                                         images: [chat.encodeImage(atPath: MllamaParityTests.directory.appendingPathComponent(prompt.image!).path)]).inputs
            let model = chat.textModel
            let sequence = try model.makeSequence()
            defer { model.release(sequence) }
            var values: [Float] = []
            for (position, input) in inputs.enumerated() {
                values += try model.forward(Batch(items: [Batch.Item(sequence: sequence, position: position, input: input, wantsLogits: true)])).values
            }
            return values
        }
        return try MllamaParityTests.logits(prompt, chat: chat)
    }

    struct LlamaCppError: Decodable { let relative_rms: [String: Double] }

    @Test(arguments: ["Q8_0", "Q4_K_M"])
    func closeToTheF32Conversion(type: String) throws {
        let measured = try JSONDecoder().decode(LlamaCppError.self, from: Data(contentsOf:
            MllamaParityTests.directory.appendingPathComponent("quantization.json")))
        let bound = try #require(measured.relative_rms[type]) * 1.25
        let folder = NSTemporaryDirectory() + "ponder-mllama-q-\(ProcessInfo.processInfo.processIdentifier)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let model = folder + "/tiny-\(type).gguf"
        let output = try ConvertOptions.outputType(named: type)
        _ = try HFConverter.convert(folder: MllamaParityTests.directory.appendingPathComponent("hf").path,
                                    options: ConvertOptions(outputPath: model, quantization: output.quantization))
        let (f32Model, f32Projector) = try MllamaParityTests.converted(.f32)
        let quantized = try ChatModel(model: model, mmproj: folder + "/mmproj-tiny-\(type).gguf", options: TextModelOptions(threadCount: 2))
        let exact = try ChatModel(model: f32Model, mmproj: f32Projector, options: TextModelOptions(threadCount: 2))
        #expect(try GGUFFile(path: model).tensors.contains { $0.type != .f32 && $0.type != .f16 })
        for name in ["tiles1", "tiles4"] {
            let prompt = MllamaParityTests.references.prompts.first { $0.name == name }!
            for stepwise in [false, true] {
                let error = Self.relativeRMS(try Self.logits(quantized, prompt, stepwise: stepwise),
                                             try Self.logits(exact, prompt, stepwise: stepwise))
                print("mllama \(type) \(name) \(stepwise ? "decode" : "prefill"): relative RMS \(error)")
                #expect(error < bound, "\(type) \(name) \(stepwise ? "decode" : "prefill"): \(error)")
                #expect(error > 0, "the quantized model differs from F32")
            }
        }
    }
}
