import Foundation
import GGUF
import Testing
@testable import Inference

/// Qwen2.5-VL's preprocessing and vision encoder against transformers on the tiny random
/// fixture (`Fixtures/qwen2_5_vl`, `Scripts/make_qwenvl_fixtures.py`): smart-resize sizes and
/// grids (round half to even included), torchvision's antialiased bicubic byte for byte, HF's
/// `pixel_values`, the window permutation, and the merged embeddings of `get_image_features`.
@Suite(.serialized) struct Qwen2VLVisionTests {
    struct Blob: Decodable { let file: String; let shape: [Int] }
    struct Image: Decodable {
        let image: String
        let width: Int
        let height: Int
        let resized_height_width: [Int]
        let resized_rgb: Blob
        let image_grid_thw: [Int]
        let n_image_tokens: Int
        let pixel_values: Blob
        let vision_output: Blob
        let window_index: [Int]
        let cu_window_seqlens: [Int]
    }
    struct Processor: Decodable { let min_pixels: Int; let max_pixels: Int }
    struct Model: Decodable { let image_processor: Processor }
    struct References: Decodable { let model: Model; let images: [String: Image] }

    static let directory = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/qwen2_5_vl")
    static let references = try! JSONDecoder().decode(References.self,
                                                      from: Data(contentsOf: directory.appendingPathComponent("references.json")))
    static var projector: String { directory.appendingPathComponent("mmproj.gguf").path }
    static let names = ["down_240x160", "up_30x50", "tie_126x98"]

    static func floats(_ name: String) throws -> [Float] {
        let data = try Data(contentsOf: directory.appendingPathComponent(name))
        return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    static func relativeError(_ mine: [Float], _ theirs: [Float]) -> Float {
        precondition(mine.count == theirs.count, "\(mine.count) values against \(theirs.count)")
        let peak = theirs.map { abs($0) }.max() ?? 1
        return zip(mine, theirs).map { abs($0 - $1) }.max()! / peak
    }

    /// The encoder with the fixture processor's pixel limits.
    static func encoder(path: String = projector) throws -> Qwen2VLVisionEncoder {
        let limits = references.model.image_processor
        return try Qwen2VLVisionEncoder(file: GGUFFile(path: path), pool: ThreadPool(threadCount: 2),
                                        minPixels: limits.min_pixels, maxPixels: limits.max_pixels)
    }

    static func image(_ name: String) throws -> RGBImage {
        try ImageDecoder.decode(contentsOf: directory.appendingPathComponent(references.images[name]!.image).path)
    }

    @Test(arguments: names) func targetSizeAndGridEqualHFs(name: String) throws {
        let reference = try #require(Self.references.images[name])
        let processor = try Self.encoder().processor
        let size = try processor.targetSize(width: reference.width, height: reference.height)
        #expect(size.height == reference.resized_height_width[0] && size.width == reference.resized_height_width[1],
                "\(name): \(size)")
        let patches = try processor.patches(Self.image(name))
        #expect([1, patches.gridRows, patches.gridColumns] == reference.image_grid_thw)
        #expect(patches.gridRows * patches.gridColumns / 4 == reference.n_image_tokens)
    }

    @Test func smartResizeRoundsHalfToEvenAndHonoursTheLimits() throws {
        let processor = Qwen2VLImageProcessor(mean: [0, 0, 0], std: [1, 1, 1], minPixels: 1, maxPixels: 1 << 30)
        // 126/28 = 4.5 → 4, 98/28 = 3.5 → 4, 70/28 = 2.5 → 2.
        #expect(try processor.targetSize(width: 126, height: 98) == (112, 112))
        #expect(try processor.targetSize(width: 70, height: 154) == (56, 168))
        // llama.cpp's defaults: 8 to 4096 merged tokens.
        let defaults = Qwen2VLImageProcessor(mean: [0, 0, 0], std: [1, 1, 1])
        #expect(defaults.minPixels == 8 * 784 && defaults.maxPixels == 4096 * 784)
        let large = try defaults.targetSize(width: 4000, height: 3000)
        #expect(large.width * large.height <= 4096 * 784 && large.width % 28 == 0 && large.height % 28 == 0)
        #expect(throws: VisionError.self) { try defaults.targetSize(width: 201, height: 1) }
        #expect(throws: VisionError.self) { try defaults.targetSize(width: 0, height: 10) }
    }

    /// (height, width) → HF's `smart_resize` with the fixture's limits and with llama.cpp's
    /// defaults (computed by transformers 5.25).
    @Test func smartResizeEqualsHFsOnExtremeSizes() throws {
        let cases: [(Int, Int, fixture: (Int, Int), defaults: (Int, Int))] = [
            (1, 1, (112, 112), (84, 84)), (1, 200, (28, 1372), (28, 1120)), (200, 1, (1372, 28), (1120, 28)),
            (3000, 4000, (112, 168), (1540, 2044)), (10, 2000, (28, 1372), (28, 1120)), (97, 13, (280, 56), (224, 56)),
        ]
        let fixture = try Self.encoder().processor
        let defaults = Qwen2VLImageProcessor(mean: [0, 0, 0], std: [1, 1, 1])
        for c in cases {
            let a = try fixture.targetSize(width: c.1, height: c.0), b = try defaults.targetSize(width: c.1, height: c.0)
            #expect(a.height == c.fixture.0 && a.width == c.fixture.1, "\(c.0)×\(c.1): \(a)")
            #expect(b.height == c.defaults.0 && b.width == c.defaults.1, "\(c.0)×\(c.1): \(b)")
        }
    }

    @Test func tinyAndExtremeImagesEncode() throws {
        let encoder = try Self.encoder()
        for (width, height) in [(1, 1), (200, 1)] {
            let image = RGBImage(width: width, height: height, pixels: (0..<(3 * width * height)).map { UInt8($0 % 256) })
            let embeddings = try encoder.encode(image)
            let size = try encoder.processor.targetSize(width: width, height: height)
            #expect(embeddings.rows == size.height / 28 && embeddings.columns == size.width / 28)
            #expect(embeddings.values.count == embeddings.tokenCount * 64 && embeddings.values.allSatisfy(\.isFinite))
        }
        #expect(throws: VisionError.self) { try encoder.encode(RGBImage(width: 0, height: 0, pixels: [])) }
    }

    @Test(arguments: names) func resizedPixelsEqualTorchvisionsByteForByte(name: String) throws {
        let reference = try #require(Self.references.images[name])
        let resized = try Self.encoder().processor.resized(Self.image(name))
        let expected = try [UInt8](Data(contentsOf: Self.directory.appendingPathComponent(reference.resized_rgb.file)))
        #expect(resized.height == reference.resized_rgb.shape[0] && resized.width == reference.resized_rgb.shape[1])
        let differing = zip(resized.pixels, expected).filter { $0 != $1 }.count
        #expect(resized.pixels.count == expected.count && differing == 0, "\(name): \(differing) bytes differ")
    }

    @Test(arguments: names) func pixelValuesEqualHFs(name: String) throws {
        let reference = try #require(Self.references.images[name])
        let patches = try Self.encoder().processor.patches(Self.image(name))
        let expected = try Self.floats(reference.pixel_values.file)
        #expect(patches.values.count == reference.pixel_values.shape.reduce(1, *))
        let error = Self.relativeError(patches.values, expected)
        print("qwen2.5-vl pixels \(name): max|Δ|/max|ref| = \(error)")
        #expect(error <= 1e-6, "\(name): \(error)")
    }

    @Test(arguments: names) func windowsEqualHFs(name: String) throws {
        let reference = try #require(Self.references.images[name])
        let grid = reference.image_grid_thw
        let windows = Qwen2VLVisionEncoder.windows(rows: grid[1] / 2, columns: grid[2] / 2, unitsPerWindow: 4, unitPatches: 4)
        #expect(windows.index == reference.window_index)
        #expect(windows.bounds == reference.cu_window_seqlens)
    }

    @Test(arguments: names) func mergedEmbeddingsMatchTransformers(name: String) throws {
        let reference = try #require(Self.references.images[name])
        let encoder = try Self.encoder()
        let embeddings = try encoder.encode(Self.image(name))
        let expected = try Self.floats(reference.vision_output.file)
        #expect([embeddings.tokenCount, embeddings.width] == reference.vision_output.shape)
        #expect(embeddings.rows == reference.image_grid_thw[1] / 2 && embeddings.columns == reference.image_grid_thw[2] / 2)
        #expect(encoder.outputWidth == 64)
        let error = Self.relativeError(embeddings.values, expected)
        print("qwen2.5-vl embeddings \(name): max|Δ|/max|ref| = \(error)")
        #expect(error <= 1e-4, "\(name): \(error)")
    }

    /// The image with two windows differs well beyond tolerance when every block attends over
    /// all patches, so the windowed blocks are really tested.
    @Test func windowAttentionMatters() throws {
        let name = "down_240x160"
        let reference = try #require(Self.references.images[name])
        let encoder = try Self.encoder()
        encoder.treatsAllBlocksAsFullAttention = true
        let error = Self.relativeError(try encoder.encode(Self.image(name)).values, try Self.floats(reference.vision_output.file))
        print("qwen2.5-vl embeddings \(name), all blocks full attention: \(error)")
        #expect(error > 1e-2)
    }

    @Test func acceptsOnlyItsProjector() throws {
        #expect(Qwen2VLVisionEncoder.accepts(try GGUFFile(path: Self.projector)))
        #expect(!Qwen2VLVisionEncoder.accepts(try GGUFFile(path: Self.directory.appendingPathComponent("model.gguf").path)))
    }

    /// `projector` rewritten with tensors renamed by `rename` (nil drops one) and keys changed by `edit`.
    static func rewritten(rename: (String) -> String? = { $0 }, reshape: [String: [Int]] = [:],
                          edit: (inout GGUFWriter) -> Void = { _ in }) throws -> String {
        let path = NSTemporaryDirectory() + "ponder-qwen2vl-\(UUID().uuidString).gguf"
        let file = try GGUFFile(path: projector)
        var writer = GGUFWriter()
        for (key, value) in file.metadata { writer.set(key, value) }
        edit(&writer)
        for tensor in file.tensors {
            guard let name = rename(tensor.name) else { continue }
            try writer.addTensor(name: name, dimensions: reshape[name] ?? tensor.dimensions, type: tensor.type, data: Array(file.data(for: tensor)))
        }
        try writer.write(to: path)
        return path
    }

    /// A vision error in one line that names every one of `parts` (a tensor, a key, the file).
    static func isOneSentence(_ error: any Error, naming parts: String...) -> Bool {
        let text = String(describing: error)
        return error is VisionError && parts.allSatisfy(text.contains) && !text.contains("\n")
    }

    @Test(arguments: ["v.blk.2.ffn_gate.bias", "v.patch_embd.weight.1", "mm.2.weight", "v.post_ln.weight"])
    func aMissingTensorNamesTheTensorAndTheFile(tensor: String) throws {
        let path = try Self.rewritten { $0 == tensor ? nil : $0 }
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect {
            _ = try Self.encoder(path: path)
        } throws: { error in
            Qwen2VLVisionTests.isOneSentence(error, naming: "'\(tensor)'", path)
        }
    }

    @Test func badKeysNameTheKey() throws {
        let cases: [(String, (inout GGUFWriter) -> Void)] = [
            ("clip.vision.n_wa_pattern", { $0.set("clip.vision.n_wa_pattern", UInt32(9)) }),
            ("clip.vision.attention.head_count", { $0.set("clip.vision.attention.head_count", UInt32(3)) }),
            ("clip.vision.projection_dim", { $0.set("clip.vision.projection_dim", UInt32(65)) }),
            ("clip.projector_type", { $0.set("clip.projector_type", "qwen3vl_merger") }),
        ]
        for (key, edit) in cases {
            let path = try Self.rewritten(edit: edit)
            defer { try? FileManager.default.removeItem(atPath: path) }
            #expect {
                _ = try Self.encoder(path: path)
            } throws: { error in
                let text = String(describing: error)
                return text.contains(key == "clip.projector_type" ? "qwen3vl_merger" : key) && text.contains(path)
            }
        }
    }

    @Test func aWrongShapeNamesTheTensor() throws {
        for (tensor, dimensions) in [("v.blk.1.attn_q.weight", [16, 64]), ("mm.0.weight", [64, 256])] {
            let path = try Self.rewritten(reshape: [tensor: dimensions])
            defer { try? FileManager.default.removeItem(atPath: path) }
            #expect {
                _ = try Self.encoder(path: path)
            } throws: { error in
                guard let error = error as? VisionError, case .wrongShape(let name, _, let found) = error.kind else { return false }
                return name == tensor && found == dimensions
            }
        }
    }
}
