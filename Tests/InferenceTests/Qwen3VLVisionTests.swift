import Foundation
import GGUF
import Testing
@testable import Inference

/// Qwen3-VL's preprocessing and vision encoder against transformers on the tiny random fixture
/// (`Fixtures/qwen3_vl`, `Scripts/make_qwenvl_fixtures.py --family qwen3vl`): smart-resize sizes
/// and grids (factor 32, round half to even), torchvision's antialiased bicubic byte for byte,
/// HF's `pixel_values`, and the merged embeddings and deepstack features of `get_image_features`.
@Suite(.serialized) struct Qwen3VLVisionTests {
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
        let deepstack: Blob
    }
    struct Processor: Decodable { let min_pixels: Int; let max_pixels: Int; let factor: Int }
    struct Model: Decodable { let image_processor: Processor }
    struct References: Decodable { let model: Model; let images: [String: Image] }

    static let directory = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/qwen3_vl")
    static let references = try! JSONDecoder().decode(References.self,
                                                      from: Data(contentsOf: directory.appendingPathComponent("references.json")))
    static var projector: String { directory.appendingPathComponent("mmproj.gguf").path }
    static let names = ["down_240x160", "up_30x50", "tie_144x112"]

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
    static func encoder(path: String = projector) throws -> Qwen3VLVisionEncoder {
        let limits = references.model.image_processor
        return try Qwen3VLVisionEncoder(file: GGUFFile(path: path), pool: ThreadPool(threadCount: 2),
                                        minPixels: limits.min_pixels, maxPixels: limits.max_pixels)
    }

    static func image(_ name: String) throws -> RGBImage {
        try ImageDecoder.decode(contentsOf: directory.appendingPathComponent(references.images[name]!.image).path)
    }

    @Test func readsTheConfigurationFromTheFile() throws {
        let encoder = try Self.encoder()
        #expect(encoder.processor.patchSize == 16 && encoder.processor.factor == Self.references.model.image_processor.factor)
        #expect(encoder.processor.mean == [0.5, 0.5, 0.5] && encoder.processor.std == [0.5, 0.5, 0.5])
        #expect(encoder.embeddingLength == 32 && encoder.headCount == 2 && encoder.outputWidth == 64)
        #expect(encoder.deepstackLayers == [0, 2] && encoder.positionSide == 4 && encoder.activation == .gelu)
        // Without limits in the file or the call: llama.cpp's 8 to 4096 merged tokens of 32².
        let defaults = try Qwen3VLVisionEncoder(file: GGUFFile(path: Self.projector), pool: ThreadPool(threadCount: 1))
        #expect(defaults.processor.minPixels == 8 * 1024 && defaults.processor.maxPixels == 4096 * 1024)
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

    @Test func tinyAndExtremeImagesEncode() throws {
        let encoder = try Self.encoder()
        for (width, height) in [(1, 1), (200, 1), (1, 150)] {
            let image = RGBImage(width: width, height: height, pixels: (0..<(3 * width * height)).map { UInt8($0 % 256) })
            let embeddings = try encoder.encode(image)
            let size = try encoder.processor.targetSize(width: width, height: height)
            #expect(embeddings.rows == size.height / 32 && embeddings.columns == size.width / 32)
            #expect(embeddings.values.count == embeddings.tokenCount * 64 && embeddings.values.allSatisfy(\.isFinite))
            #expect(embeddings.deepstack.map(\.count) == [embeddings.values.count, embeddings.values.count])
        }
        #expect(throws: VisionError.self) { try encoder.encode(RGBImage(width: 0, height: 0, pixels: [])) }
        #expect(throws: VisionError.self) { try encoder.encode(RGBImage(width: 201, height: 1, pixels: [UInt8](repeating: 0, count: 603))) }
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
        print("qwen3-vl pixels \(name): max|Δ|/max|ref| = \(error)")
        #expect(error <= 1e-6, "\(name): \(error)")
    }

    /// Merged embeddings and each deepstack feature from the PNG, and from HF's own pixel values.
    @Test(arguments: names) func embeddingsAndDeepstackMatchTransformers(name: String) throws {
        let reference = try #require(Self.references.images[name])
        let encoder = try Self.encoder()
        let fromImage = try encoder.encode(Self.image(name))
        let grid = reference.image_grid_thw
        let fromPixels = encoder.encode(patches: try Self.floats(reference.pixel_values.file), gridRows: grid[1], gridColumns: grid[2])
        let expected = try Self.floats(reference.vision_output.file), stacked = try Self.floats(reference.deepstack.file)
        let tokens = reference.n_image_tokens
        #expect(reference.deepstack.shape == [2, tokens, 64])
        for (source, embeddings) in [("image", fromImage), ("pixels", fromPixels)] {
            #expect([embeddings.tokenCount, embeddings.width] == reference.vision_output.shape)
            #expect(embeddings.rows == grid[1] / 2 && embeddings.columns == grid[2] / 2)
            let error = Self.relativeError(embeddings.values, expected)
            print("qwen3-vl embeddings \(name) from \(source): max|Δ|/max|ref| = \(error)")
            #expect(error <= 1e-4, "\(name) from \(source): \(error)")
            #expect(embeddings.deepstack.count == 2)
            for (k, feature) in embeddings.deepstack.enumerated() {
                let error = Self.relativeError(feature, Array(stacked[(k * tokens * 64)..<((k + 1) * tokens * 64)]))
                print("qwen3-vl deepstack \(k) \(name) from \(source): max|Δ|/max|ref| = \(error)")
                #expect(error <= 1e-4, "\(name) deepstack \(k) from \(source): \(error)")
            }
        }
    }

    /// The resampling is the identity on the table's own grid and bilinear with aligned corners elsewhere.
    @Test func positionInterpolationAlignsCorners() {
        let side = 4, table = (0..<(side * side * 2)).map { Float($0) }     // entry (y, x) = [2(4y+x), 2(4y+x)+1]
        #expect(Qwen3VLVisionEncoder.interpolatedPositions(table, side: side, width: 2, rows: 4, columns: 4) == table)
        // 7 rows × 3 columns: rows at y = 0, 0.5, …, 3; columns at x = 0, 1.5, 3.
        let resampled = Qwen3VLVisionEncoder.interpolatedPositions(table, side: side, width: 2, rows: 7, columns: 3)
        for r in 0..<7 {
            for c in 0..<3 {
                let y = Float(r) / 2, x = Float(c) * 1.5, expected = 2 * (4 * y + x)
                #expect(abs(resampled[(r * 3 + c) * 2] - expected) < 1e-5 && abs(resampled[(r * 3 + c) * 2 + 1] - expected - 1) < 1e-5)
            }
        }
    }

    /// Zeroing the learned positions moves the output well beyond tolerance, so the parity tests
    /// (grids 8×12, 10×6, 8×8 from a 4×4 table) cover the resampling.
    @Test func positionEmbeddingsMatter() throws {
        let name = "down_240x160"
        let reference = try #require(Self.references.images[name])
        let expected = try Self.floats(reference.vision_output.file)
        let zeroed = try Self.rewritten(data: { $0 == "v.position_embd.weight" ? [UInt8](repeating: 0, count: $1.count) : $1 })
        defer { try? FileManager.default.removeItem(atPath: zeroed) }
        let withoutPositions = Self.relativeError(try Self.encoder(path: zeroed).encode(Self.image(name)).values, expected)
        print("qwen3-vl embeddings \(name), position embeddings zeroed: \(withoutPositions)")
        #expect(withoutPositions > 1e-2)
    }

    @Test func acceptsOnlyItsProjector() throws {
        #expect(Qwen3VLVisionEncoder.accepts(try GGUFFile(path: Self.projector)))
        #expect(!Qwen2VLVisionEncoder.accepts(try GGUFFile(path: Self.projector)))
        #expect(!Qwen3VLVisionEncoder.accepts(try GGUFFile(path: Self.directory.appendingPathComponent("model.gguf").path)))
        #expect(!Qwen3VLVisionEncoder.accepts(try GGUFFile(path: Qwen2VLVisionTests.projector)))
    }

    /// `projector` rewritten with tensors renamed by `rename` (nil drops one), their bytes changed
    /// by `data`, keys in `dropping` left out and keys changed by `edit`.
    static func rewritten(rename: (String) -> String? = { $0 }, reshape: [String: [Int]] = [:],
                          data: (String, [UInt8]) -> [UInt8] = { $1 }, dropping: Set<String> = [],
                          edit: (inout GGUFWriter) -> Void = { _ in }) throws -> String {
        let path = NSTemporaryDirectory() + "ponder-qwen3vl-\(UUID().uuidString).gguf"
        let file = try GGUFFile(path: projector)
        var writer = GGUFWriter()
        for (key, value) in file.metadata where !dropping.contains(key) { writer.set(key, value) }
        edit(&writer)
        for tensor in file.tensors {
            guard let name = rename(tensor.name) else { continue }
            try writer.addTensor(name: name, dimensions: reshape[name] ?? tensor.dimensions, type: tensor.type,
                                 data: data(name, Array(file.data(for: tensor))))
        }
        try writer.write(to: path)
        return path
    }

    @Test(arguments: ["v.blk.3.attn_qkv.bias", "v.patch_embd.bias", "v.patch_embd.weight.1", "v.position_embd.weight",
                      "v.deepstack.2.fc1.weight", "v.deepstack.0.norm.bias", "mm.2.weight", "v.post_ln.bias"])
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
            ("clip.vision.is_deepstack_layers", { $0.set("clip.vision.is_deepstack_layers", .array(.bool([true, false]))) }),
            ("clip.vision.attention.head_count", { $0.set("clip.vision.attention.head_count", UInt32(3)) }),
            ("clip.vision.projection_dim", { $0.set("clip.vision.projection_dim", UInt32(65)) }),
            ("clip.projector_type", { $0.set("clip.projector_type", "qwen2.5vl_merger") }),
        ]
        for (key, edit) in cases {
            let path = try Self.rewritten(edit: edit)
            defer { try? FileManager.default.removeItem(atPath: path) }
            #expect {
                _ = try Self.encoder(path: path)
            } throws: { error in
                let text = String(describing: error)
                return text.contains(key == "clip.projector_type" ? "qwen2.5vl_merger" : key) && text.contains(path)
            }
        }
    }

    @Test func aWrongShapeNamesTheTensor() throws {
        for (tensor, dimensions) in [("v.blk.1.attn_qkv.weight", [32, 64]), ("v.position_embd.weight", [32, 15]),
                                     ("v.deepstack.0.fc2.weight", [128, 32])] {
            let path = try Self.rewritten(reshape: [tensor: dimensions],
                                          data: { $0 == tensor ? [UInt8](repeating: 0, count: 4 * dimensions.reduce(1, *)) : $1 })
            defer { try? FileManager.default.removeItem(atPath: path) }
            #expect {
                _ = try Self.encoder(path: path)
            } throws: { error in
                guard let error = error as? VisionError, case .wrongShape(let name, _, _) = error.kind else { return false }
                return name == tensor
            }
        }
    }

    /// Without `clip.vision.is_deepstack_layers` the deepstack blocks are those with deepstack tensors.
    @Test func findsTheDeepstackBlocksByTheirTensorsWithoutTheKey() throws {
        let path = try Self.rewritten(dropping: ["clip.vision.is_deepstack_layers"])
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try Self.encoder(path: path).deepstackLayers == [0, 2])
    }
}
