import Foundation
import GGUF
import Testing
@testable import Inference

/// Qwen2-VL's vision tower (`qwen2vl_merger`: LayerNorms with biases, fc1 → quick GELU → fc2,
/// no windows) against transformers on the tiny random fixture (`Fixtures/qwen2_vl`,
/// `Scripts/make_qwenvl_fixtures.py --family qwen2vl`, converted by llama.cpp's converter):
/// HF's `pixel_values` and the merged embeddings of `get_image_features`, the MLP width taken
/// from `ffn_up` (the converter's `feed_forward_length` is the text width), the legacy surgery
/// layout with `ffn_up`/`ffn_down` swapped, and one-sentence errors for broken files.
@Suite(.serialized) struct Qwen2VLMergerTests {
    typealias Fixture = Qwen2VLVisionTests
    struct Image: Decodable {
        let image: String
        let image_grid_thw: [Int]
        let pixel_values: Fixture.Blob
        let vision_output: Fixture.Blob
    }
    struct References: Decodable { let images: [String: Image] }

    static let directory = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/qwen2_vl")
    static let references = try! JSONDecoder().decode(References.self,
                                                      from: Data(contentsOf: directory.appendingPathComponent("references.json")))
    static var projector: String { directory.appendingPathComponent("mmproj.gguf").path }
    /// Scaled down, scaled up, and the round-half-to-even case.
    static let names = ["down_240x160", "up_30x50", "tie_126x98"]

    static func floats(_ name: String) throws -> [Float] {
        let data = try Data(contentsOf: directory.appendingPathComponent(name))
        return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    /// The encoder with the fixture processor's pixel limits (preprocessor_config.json).
    static func encoder(path: String = projector) throws -> Qwen2VLVisionEncoder {
        try Qwen2VLVisionEncoder(file: GGUFFile(path: path), pool: ThreadPool(threadCount: 2), minPixels: 9408, maxPixels: 23520)
    }

    static func image(_ name: String) throws -> RGBImage {
        try ImageDecoder.decode(contentsOf: directory.appendingPathComponent(references.images[name]!.image).path)
    }

    typealias Tensor = (name: String, dimensions: [Int], data: [UInt8])

    /// `source` rewritten to a temporary file: keys dropped by `dropping`, keys changed and
    /// tensors added by `edit`, each tensor changed by `tensor` (nil drops it).
    static func rewritten(_ source: String = projector, dropping: Set<String> = [], edit: (inout GGUFWriter) throws -> Void = { _ in },
                          tensor change: (Tensor) -> Tensor? = { $0 }) throws -> String {
        let path = NSTemporaryDirectory() + "ponder-qwen2vl-merger-\(UUID().uuidString).gguf"
        let file = try GGUFFile(path: source)
        var writer = GGUFWriter()
        for (key, value) in file.metadata where !dropping.contains(key) { writer.set(key, value) }
        try edit(&writer)
        for info in file.tensors {
            guard let tensor = change((info.name, info.dimensions, Array(file.data(for: info)))) else { continue }
            try writer.addTensor(name: tensor.name, dimensions: tensor.dimensions, type: info.type, data: tensor.data)
        }
        try writer.write(to: path)
        return path
    }

    /// `projector` with tensors renamed by `rename` (nil drops one).
    static func rewritten(rename: @escaping (String) -> String?) throws -> String {
        try rewritten(tensor: { tensor in rename(tensor.name).map { ($0, tensor.dimensions, tensor.data) } })
    }

    @Test func readsTheQwen2VLVariantAndTakesTheMLPWidthFromTheTensors() throws {
        let file = try GGUFFile(path: Self.projector)
        #expect(Qwen2VLVisionEncoder.accepts(file) && !Qwen3VLVisionEncoder.accepts(file))
        // llama.cpp's converter writes the vision config's hidden_size (the text width) here.
        #expect(try file.optionalInt("clip.vision.feed_forward_length") == 64)
        let encoder = try Self.encoder()
        #expect(encoder.variant == .qwen2VL && encoder.windowSize == nil && encoder.fullAttentionPattern == 0)
        #expect(encoder.feedForwardLength == 96 && !encoder.storesSwappedFeedForward)
        #expect(encoder.activation == .geluQuick && encoder.epsilon == 1e-6 && encoder.outputWidth == 64)
        guard case .qwen2vl(let loaded) = try ChatVisionEncoder.load(path: Self.projector, threads: 1) else {
            Issue.record("the chat loader did not pick the Qwen2-VL encoder")
            return
        }
        #expect(loaded.variant == .qwen2VL)
    }

    @Test(arguments: names) func pixelValuesEqualHFs(name: String) throws {
        let reference = try #require(Self.references.images[name])
        let patches = try Self.encoder().processor.patches(Self.image(name))
        #expect([1, patches.gridRows, patches.gridColumns] == reference.image_grid_thw)
        let error = Fixture.relativeError(patches.values, try Self.floats(reference.pixel_values.file))
        print("qwen2-vl pixels \(name): max|Δ|/max|ref| = \(error)")
        #expect(error <= 1e-6, "\(name): \(error)")
    }

    @Test(arguments: names) func mergedEmbeddingsMatchTransformers(name: String) throws {
        let reference = try #require(Self.references.images[name])
        let embeddings = try Self.encoder().encode(Self.image(name))
        #expect([embeddings.tokenCount, embeddings.width] == reference.vision_output.shape)
        #expect(embeddings.rows == reference.image_grid_thw[1] / 2 && embeddings.columns == reference.image_grid_thw[2] / 2)
        let error = Fixture.relativeError(embeddings.values, try Self.floats(reference.vision_output.file))
        print("qwen2-vl embeddings \(name): max|Δ|/max|ref| = \(error)")
        #expect(error <= 1e-5, "\(name): \(error)")
    }

    /// The legacy surgery layout (`ffn_up` and `ffn_down` under each other's names,
    /// `feed_forward_length` 0, a dummy position table, `use_gelu`/`use_silu` false) gives the
    /// same embeddings.
    @Test func theLegacySwappedLayoutGivesTheSameEmbeddings() throws {
        let path = try Self.rewritten(edit: { writer in
            writer.set("clip.vision.feed_forward_length", UInt32(0))
            writer.set("clip.has_qwen2vl_merger", true)
            writer.set("clip.use_gelu", false)
            writer.set("clip.use_silu", false)
            try writer.addTensor(name: "v.position_embd.weight", dimensions: [10, 10], values: [Float](repeating: 0, count: 100))
        }, tensor: { tensor in
            let name = tensor.name.contains(".ffn_up.") ? tensor.name.replacingOccurrences(of: ".ffn_up.", with: ".ffn_down.")
                : tensor.name.replacingOccurrences(of: ".ffn_down.", with: ".ffn_up.")
            return (name, tensor.dimensions, tensor.data)
        })
        defer { try? FileManager.default.removeItem(atPath: path) }
        let legacy = try Self.encoder(path: path)
        #expect(legacy.storesSwappedFeedForward && legacy.feedForwardLength == 96)
        let name = "down_240x160"
        let mine = try legacy.encode(Self.image(name)).values, original = try Self.encoder().encode(Self.image(name)).values
        #expect(mine == original)
    }

    /// Without `feed_forward_length` the file still loads; `use_gelu` switches the blocks to
    /// GELU-tanh (as llama.cpp's ffn_op does), which moves the embeddings well past tolerance.
    @Test func theActivationKeysAreReadAndTheWidthKeyIsNotNeeded() throws {
        let withoutKey = try Self.rewritten(dropping: ["clip.vision.feed_forward_length"])
        defer { try? FileManager.default.removeItem(atPath: withoutKey) }
        #expect(try Self.encoder(path: withoutKey).feedForwardLength == 96)
        let gelu = try Self.rewritten(edit: { $0.set("clip.use_gelu", true) })
        defer { try? FileManager.default.removeItem(atPath: gelu) }
        let encoder = try Self.encoder(path: gelu)
        #expect(encoder.activation == .gelu)
        let name = "down_240x160", reference = try #require(Self.references.images[name])
        let error = Fixture.relativeError(try encoder.encode(Self.image(name)).values, try Self.floats(reference.vision_output.file))
        print("qwen2-vl embeddings \(name) with GELU-tanh blocks: \(error)")
        #expect(error > 1e-3)
    }

    @Test(arguments: ["v.blk.1.ln2.bias", "v.post_ln.bias", "v.blk.3.ffn_down.bias", "v.blk.0.ffn_down.weight", "mm.2.bias"])
    func aMissingTensorNamesTheTensorAndTheFile(tensor: String) throws {
        let path = try Self.rewritten(rename: { $0 == tensor ? nil : $0 })
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect {
            _ = try Self.encoder(path: path)
        } throws: { error in
            Qwen2VLVisionTests.isOneSentence(error, naming: "'\(tensor)'", path)
        }
    }

    /// A Qwen2.5-VL projector relabelled `qwen2vl_merger` has RMSNorms: the missing LayerNorm
    /// bias is named.
    @Test func aQwen25FileLabelledQwen2VLNamesTheMissingNormBias() throws {
        let path = try Self.rewritten(Qwen2VLVisionTests.projector, edit: { $0.set("clip.projector_type", "qwen2vl_merger") })
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect {
            _ = try Self.encoder(path: path)
        } throws: { error in
            let text = String(describing: error)
            return text.contains("'v.blk.0.ln1.bias' is missing") && text.contains(path)
        }
    }

    @Test func badKeysAndShapesNameTheirCulprit() throws {
        let both = try Self.rewritten(edit: { $0.set("clip.use_gelu", true); $0.set("clip.use_silu", true) })
        defer { try? FileManager.default.removeItem(atPath: both) }
        #expect {
            _ = try Self.encoder(path: both)
        } throws: { error in String(describing: error).contains("clip.use_silu") && String(describing: error).contains(both) }
        // ffn_up of block 0 one row short: neither layout fits.
        let path = try Self.rewritten(tensor: { tensor in
            tensor.name == "v.blk.0.ffn_up.weight" ? (tensor.name, [31, 96], Array(tensor.data[0..<(31 * 96 * 4)])) : tensor
        })
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect {
            _ = try Self.encoder(path: path)
        } throws: { error in
            guard let error = error as? VisionError, case .wrongShape(let name, _, let found) = error.kind else { return false }
            return name == "v.blk.0.ffn_up.weight" && found == [31, 96]
        }
    }
}
