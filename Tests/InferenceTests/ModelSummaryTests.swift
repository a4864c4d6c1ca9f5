import Foundation
import GGUF
import Testing
@testable import Inference

private func fixture(_ path: String) throws -> GGUFFile {
    let folder = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
    return try GGUFFile(path: folder.appendingPathComponent(path).path)
}

@Test func summarizesATextModel() throws {
    let file = try fixture("tokenizers/bpe-qwen2.gguf")
    let summary = try ModelSummary(file: file)
    #expect(summary.architecture == "llama")
    #expect(summary.parameterCount == file.tensors.reduce(0) { $0 + $1.elementCount })
    #expect(summary.parameterCount > 0)
    #expect(summary.contextLength == (try file.int("llama.context_length")))
    #expect(summary.tokenizer?.kind == "gpt2")
    #expect(summary.tokenizer?.preTokenizer == "qwen2")
    #expect(summary.tokenizer?.vocabularySize == (try file.stringArray("tokenizer.ggml.tokens").count))
    #expect(summary.chatTemplate == "chatml")
    #expect(summary.tensorCount == file.tensors.count)
    #expect(summary.typeUsage.reduce(0) { $0 + $1.bytes } == file.tensors.reduce(0) { $0 + $1.byteCount })
    #expect(summary.projector == nil)
    let text = summary.text
    #expect(text.contains("tokenizer") && text.contains("gpt2 (byte-level BPE), pre-tokenizer qwen2"))
    #expect(text.contains("chat template     chatml\n"))
}

@Test func summarizesAProjectorFile() throws {
    var writer = GGUFWriter()
    writer.set("general.architecture", "clip")
    writer.set("general.file_type", UInt32(1))
    writer.set("clip.projector_type", "idefics3")
    writer.set("clip.vision.image_size", UInt32(512))
    writer.set("clip.vision.patch_size", UInt32(16))
    writer.set("clip.vision.block_count", UInt32(12))
    try writer.addTensor(name: "v.patch_embd.weight", dimensions: [16, 16, 3, 8], type: .f16,
                         data: [UInt8](repeating: 0, count: 16 * 16 * 3 * 8 * 2))
    try writer.addTensor(name: "mm.model.fc.weight", dimensions: [4, 2], values: [Float](repeating: 1, count: 8))
    let summary = try ModelSummary(file: GGUFFile(bytes: writer.serialized(), name: "mmproj.gguf"))
    #expect(summary.projector == ModelSummary.ProjectorInfo(projectorType: "idefics3", imageSize: 512, patchSize: 16,
                                                             embeddingLength: nil, blockCount: 12))
    #expect(summary.fileType == "F16")
    #expect(summary.parameterCount == 16 * 16 * 3 * 8 + 8)
    #expect(summary.typeUsage == [.init(type: "F16", tensors: 1, bytes: 12288), .init(type: "F32", tensors: 1, bytes: 32)])
    #expect(summary.tokenizer == nil && summary.contextLength == nil)
    #expect(summary.text.contains("\nimage size     512×512, patches of 16\n"))
}

@Test func unknownChatTemplateFallsBackWithAWarning() throws {
    var writer = GGUFWriter()
    writer.set("general.architecture", "llama")
    writer.set("tokenizer.ggml.model", "gpt2")
    writer.set("tokenizer.ggml.tokens", strings: ["a", "b"])
    writer.set("tokenizer.chat_template", "{{ something nobody knows }}")
    let summary = try ModelSummary(file: GGUFFile(bytes: writer.serialized(), name: "odd.gguf"))
    #expect(summary.chatTemplate == "chatml")
    #expect(summary.chatTemplateWarning != nil)
}

@Test func wrongMetadataTypeIsAnErrorNamingTheKey() throws {
    var writer = GGUFWriter()
    writer.set("general.architecture", "llama")
    writer.set("llama.context_length", "four thousand")
    let error = #expect(throws: GGUFError.self) {
        try ModelSummary(file: GGUFFile(bytes: writer.serialized(), name: "bad.gguf"))
    }
    #expect(error?.description == "bad.gguf: metadata key 'llama.context_length' is string, expected an integer")
}

@Test func fileTypeNames() {
    #expect(ModelFileType.name(15) == "Q4_K_M")
    #expect(ModelFileType.name(0) == "F32")
    #expect(ModelFileType.name(999) == "unknown (999)")
    #expect(ModelSummary.formatCount(1_234_567) == "1.23 M")
    #expect(ModelSummary.formatBytes(1536) == "1.50 KiB")
}
