import Foundation
import GGUF
import Testing
@testable import Inference

/// The Qwen2.5-VL text model (M-RoPE) against transformers on the tiny fixture
/// (`Scripts/make_qwenvl_fixtures.py`, converted by llama.cpp's own converter), with the
/// image rows taken from transformers' merged image embeddings: logits at every position of
/// image prompts (an image scaled down, one scaled up, 57 tokens of text after an image) and a
/// text-only prompt, and the rope positions through forks and decode steps.
@Suite(.serialized) struct Qwen2VLTextParityTests {
    struct Blob: Decodable { let file: String; let shape: [Int] }
    struct Prompt: Decodable {
        let name: String
        let image: String?
        let ids: [Int32]
        let logits: Blob
        let image_grid_thw: [Int]?
        let image_token_span: [Int]?
    }
    struct References: Decodable { let prompts: [Prompt] }

    static let directory = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/qwen2_5_vl")
    static let references = try! JSONDecoder().decode(References.self,
                                                      from: Data(contentsOf: directory.appendingPathComponent("references.json")))

    static func floats(_ name: String) throws -> [Float] {
        let data = try Data(contentsOf: directory.appendingPathComponent(name))
        return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    static func relativeError(_ mine: some Collection<Float>, _ theirs: some Collection<Float>) -> Float {
        precondition(mine.count == theirs.count, "\(mine.count) values against \(theirs.count)")
        let peak = theirs.map { abs($0) }.max() ?? 1
        return zip(mine, theirs).map { abs($0 - $1) }.max()! / peak
    }

    static func model() throws -> TransformerTextModel {
        try loadTextModel(path: directory.appendingPathComponent("model.gguf").path, options: TextModelOptions(threadCount: 2))
    }

    /// The prompt's inputs: its tokens, the image span as rows of transformers' embeddings.
    static func inputs(_ prompt: Prompt, width: Int) throws -> [Batch.Input] {
        guard let name = prompt.image, let span = prompt.image_token_span, let grid = prompt.image_grid_thw else {
            return prompt.ids.map { .token($0) }
        }
        let values = try floats("vision.\(name).f32.bin")
        let image = PromptImage(.embeddings(values: values, width: width), grid: .init(rows: grid[1] / 2, columns: grid[2] / 2))
        #expect(image.spanLength == span[1] - span[0])
        return prompt.ids.enumerated().map { offset, id in
            span[0] <= offset && offset < span[1] ? .image(image, index: offset - span[0]) : .token(id)
        }
    }

    static func batch(_ inputs: ArraySlice<Batch.Input>, _ sequence: SequenceID) -> Batch {
        Batch(items: inputs.enumerated().map {
            Batch.Item(sequence: sequence, position: inputs.startIndex + $0.offset, input: $0.element, wantsLogits: true)
        })
    }

    @Test(arguments: ["image_down", "image_up", "long_after_image", "text_only"])
    func f32LogitsMatchTransformers(name: String) throws {
        let prompt = try #require(Self.references.prompts.first { $0.name == name })
        let model = try Self.model()
        let inputs = try Self.inputs(prompt, width: model.embeddingLength)
        let logits = try model.forward(Self.batch(inputs[...], try model.makeSequence()))
        let error = Self.relativeError(logits.values, try Self.floats(prompt.logits.file))
        #expect(error < 1e-3, "\(name): max|Δ|/max|ref| = \(error)")
    }

    /// 1-D positions instead of M-RoPE's would give other logits after the image: the test can fail.
    @Test func theImagePositionsMatter() throws {
        let prompt = try #require(Self.references.prompts.first { $0.name == "long_after_image" })
        let model = try Self.model()
        var inputs = try Self.inputs(prompt, width: model.embeddingLength)
        // The same rows without a grid: one row of positions, advancing by the span's length.
        inputs = inputs.map { input in
            guard case .image(let image, let index) = input, case .embeddings(let values, let width) = image.content else { return input }
            return .image(PromptImage(.embeddings(values: values, width: width)), index: index)
        }
        let logits = try model.forward(Self.batch(inputs[...], try model.makeSequence()))
        let last = (prompt.ids.count - 1) * model.vocabularySize
        let reference = try Self.floats(prompt.logits.file)
        #expect(Self.relativeError(logits.values[last...], reference[last...]) > 1e-2)
    }

    /// A fork after the image, and a prompt fed in pieces, then decode steps: the positions
    /// after the image continue from the image's, as in one pass.
    @Test func forksAndPiecesKeepThePositions() throws {
        let prompt = try #require(Self.references.prompts.first { $0.name == "long_after_image" })
        let model = try Self.model()
        let inputs = try Self.inputs(prompt, width: model.embeddingLength)
        let whole = try model.forward(Self.batch(inputs[...], try model.makeSequence()))
        let v = model.vocabularySize, end = prompt.image_token_span![1]
        let parent = try model.makeSequence()
        _ = try model.forward(Self.batch(inputs[..<(end + 3)], parent))
        let child = try model.fork(parent)
        let rest = try model.forward(Self.batch(inputs[(end + 3)...], child))
        #expect(Self.relativeError(rest.values, whole.values[((end + 3) * v)...]) < 1e-5)
        // Token by token on the parent.
        for position in (end + 3)..<(end + 8) {
            let step = try model.forward(Self.batch(inputs[position...position], parent))
            #expect(Self.relativeError(step.values, whole.values[(position * v)..<((position + 1) * v)]) < 1e-5)
        }
        // Truncated back into the text before the image and refed: the same logits again.
        try model.truncate(child, to: 10)
        let refed = try model.forward(Self.batch(inputs[10...], child))
        #expect(Self.relativeError(refed.values, whole.values[(10 * v)...]) < 1e-5)
    }
}
