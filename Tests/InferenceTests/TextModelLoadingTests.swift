import GGUF
import Testing
@testable import Inference

/// Configuration reading and the one-sentence loading errors that name the tensor or key.
@Suite struct TextModelLoadingTests {
    let tiny = TinyTextModel(TinyTextModel.Shape(), seed: 2)

    private func loadError(_ writer: GGUFWriter) -> TextModelError? {
        do {
            _ = try loadTextModel(file: GGUFFile(bytes: writer.serialized(), name: "bad.gguf"))
            return nil
        } catch let error as TextModelError {
            return error
        } catch {
            Issue.record("unexpected error type: \(error)")
            return nil
        }
    }

    @Test func readsConfiguration() throws {
        let model = try tiny.load(contextLength: 64)
        let c = model.configuration
        #expect(c.architecture == .llama && c.ropeStyle == .adjacentPairs)
        #expect(c.embeddingLength == 32 && c.blockCount == 2 && c.feedForwardLength == 48)
        #expect(c.headCount == 4 && c.keyValueHeadCount == 2 && c.headDimension == 8 && c.groupSize == 2)
        #expect(c.ropeDimensionCount == 8 && c.ropeFrequencyBase == 10000 && c.ropeFrequencyScale == 1)
        #expect(c.vocabularySize == 40 && c.trainedContextLength == 128 && c.contextLength == 64)
        #expect(model.vocabularySize == 40 && model.embeddingLength == 32 && model.contextLength == 64)
        #expect(!model.weights.isOutputTied && model.weights.ropeFrequencyFactors == nil)
        let qwen = try TinyTextModel(TinyTextModel.Shape(architecture: "qwen2", tiedOutput: true, biases: true)).load()
        #expect(qwen.configuration.ropeStyle == .halves && qwen.weights.isOutputTied)
        #expect(qwen.weights.layers[0].queryBias?.count == 32)
    }

    /// `source` with `key` left out and, optionally, one tensor's type replaced.
    private func copy(_ source: GGUFWriter, dropping key: String? = nil,
                      retype: (tensor: String, type: GGMLType)? = nil) throws -> GGUFWriter {
        var writer = GGUFWriter()
        for (name, value) in source.metadata where name != key { writer.set(name, value) }
        for tensor in source.tensors {
            let type = tensor.name == retype?.tensor ? retype!.type : tensor.type
            try writer.addTensor(name: tensor.name, dimensions: tensor.dimensions, type: type, data: tensor.data)
        }
        return writer
    }

    @Test func headCountKeyValueDefaultsToHeadCountAndLinearScalingIsRead() throws {
        var writer = try copy(tiny.writer(), dropping: "llama.attention.head_count_kv")
        writer.set("llama.rope.scaling.type", "linear")
        writer.set("llama.rope.scaling.factor", Float(4))
        let configuration = try TextModelConfiguration(file: GGUFFile(bytes: writer.serialized()))
        #expect(configuration.ropeFrequencyScale == 0.25 && configuration.keyValueHeadCount == 4)
        // Without the key the K/V weights no longer match: the error names the tensor.
        #expect(loadError(writer)?.kind == .wrongShape(tensor: "blk.0.attn_k.weight", expected: [32, 32], found: [32, 16]))
        writer.set("llama.rope.scaling.type", "yarn")
        #expect(loadError(writer)?.kind == .invalidValue(key: "llama.rope.scaling.type", value: "yarn",
                                                         reason: "only 'none' and 'linear' rope scaling are supported"))
    }

    @Test func missingTensorIsNamed() {
        let error = loadError(tiny.writer(skip: ["blk.1.ffn_up.weight"]))
        #expect(error?.kind == .missingTensor("blk.1.ffn_up.weight"))
        #expect(error?.description == "bad.gguf: tensor 'blk.1.ffn_up.weight' is missing")
    }

    @Test func qwen2WithoutBiasesIsRefused() {
        let qwen = TinyTextModel(TinyTextModel.Shape(architecture: "qwen2"))
        #expect(loadError(qwen.writer())?.kind == .missingTensor("blk.0.attn_q.bias"))
    }

    @Test func wrongShapeIsNamed() {
        let error = loadError(tiny.writer(replace: ["blk.0.attn_norm.weight": ([31], Array(repeating: 1, count: 31))]))
        #expect(error?.kind == .wrongShape(tensor: "blk.0.attn_norm.weight", expected: [32], found: [31]))
        #expect(error?.description.contains("'blk.0.attn_norm.weight'") == true)
    }

    @Test func unsupportedArchitectureIsNamed() {
        var writer = tiny.writer()
        writer.set("general.architecture", "gpt2")
        let error = loadError(writer)
        #expect(error?.kind == .unsupportedArchitecture("gpt2"))
        #expect(error?.description.contains("architecture 'gpt2' is not supported") == true)
    }

    @Test func missingKeyIsNamed() throws {
        let error = loadError(try copy(tiny.writer(), dropping: "llama.block_count"))
        #expect(error?.kind == .missingKey("llama.block_count"))
        #expect(error?.description == "bad.gguf: metadata key 'llama.block_count' is missing")
    }

    @Test func tensorTypeThatCannotBeDequantizedIsNamed() throws {
        #expect(!GGMLType.i32.canDequantize)
        let error = loadError(try copy(tiny.writer(), retype: ("output_norm.weight", .i32)))
        #expect(error?.kind == .unsupportedTensorType(tensor: "output_norm.weight", type: GGMLType.i32.name))
        #expect(error?.description.contains("'output_norm.weight'") == true)
    }

    @Test func modelThatDoesNotFitInMemoryIsRefused() throws {
        guard let memory = physicalMemoryBytes() else { return }
        // A cache for far more positions than the machine can hold.
        let positions = memory / (2 * 2 * 16 * 4) + 1_000_000
        #expect {
            _ = try loadTextModel(file: tiny.file(), options: TextModelOptions(cacheCapacity: positions))
        } throws: { error in
            guard case .insufficientMemory = (error as? TextModelError)?.kind else { return false }
            return "\(error)".contains("memory")
        }
    }
}
