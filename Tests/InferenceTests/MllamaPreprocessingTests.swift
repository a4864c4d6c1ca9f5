import Foundation
import Testing
@testable import Inference

/// `MllamaImagePreprocessor` against transformers' `MllamaImageProcessor` (torchvision backend),
/// from `Scripts/make_mllama_fixtures.py` (`Fixtures/mllama/README.md`).
struct MllamaFixtures: Decodable {
    struct Model: Decodable {
        let image_size: Int
        let max_num_tiles: Int
        let supported_aspect_ratios: [[Int]]
        let image_mean: [Float]
        let image_std: [Float]
    }
    struct Tensor: Decodable { let file: String; let shape: [Int] }
    struct Preprocessing: Decodable, CustomTestStringConvertible {
        let image: String
        let width: Int
        let height: Int
        let pixel_values: Tensor
        let num_tiles: Int
        let tile_grid: [Int]
        let aspect_ratio_id: Int
        let aspect_ratio_mask: [Int]
        let canvas_height_width: [Int]
        let resized_height_width: [Int]
        var testDescription: String { "\(image) \(width)×\(height)" }
    }
    let model: Model
    let preprocessing: [Preprocessing]

    static let directory = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("mllama")
    static let shared: MllamaFixtures = {
        let data = try! Data(contentsOf: directory.appendingPathComponent("references.json"))
        return try! JSONDecoder().decode(MllamaFixtures.self, from: data)
    }()

    static func floats(_ name: String) throws -> [Float] {
        let data = try Data(contentsOf: directory.appendingPathComponent(name))
        return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    static func image(_ name: String) throws -> RGBImage {
        try ImageDecoder.decode(contentsOf: directory.appendingPathComponent(name).path)
    }

    static var preprocessor: MllamaImagePreprocessor {
        MllamaImagePreprocessor(imageSize: shared.model.image_size, maxTiles: shared.model.max_num_tiles,
                                mean: shared.model.image_mean, std: shared.model.image_std)
    }
}

@Suite("mllama preprocessing against transformers")
struct MllamaPreprocessingTests {
    typealias F = MllamaFixtures

    @Test("pixels, grid, aspect-ratio id and mask equal MllamaImageProcessor's", arguments: F.shared.preprocessing)
    func matchesTransformers(reference: F.Preprocessing) throws {
        let image = try F.image(reference.image)
        #expect(image.width == reference.width && image.height == reference.height)
        let input = F.preprocessor.process(image)

        #expect([input.grid.rows, input.grid.columns] == reference.tile_grid)
        #expect(input.tileCount == reference.num_tiles)
        #expect(input.aspectRatioID == reference.aspect_ratio_id)
        #expect(input.aspectRatioMask(maxTiles: F.shared.model.max_num_tiles) == reference.aspect_ratio_mask)
        #expect([input.resizedHeight, input.resizedWidth] == reference.resized_height_width)
        #expect([input.grid.rows * input.tileSize, input.grid.columns * input.tileSize] == reference.canvas_height_width)

        let expected = try F.floats(reference.pixel_values.file)
        #expect(reference.pixel_values.shape == [reference.num_tiles, 3, input.tileSize, input.tileSize])
        try #require(input.pixels.count == expected.count)
        var worst: Float = 0, differing = 0
        for (a, b) in zip(input.pixels, expected) where a != b {
            worst = max(worst, abs(a - b))
            differing += 1
        }
        #expect(worst <= 1e-6, "max |Δ| \(worst) over \(differing) of \(expected.count) values")
        // Bit-identical in practice: the resize is integer arithmetic and the normalisation the same f32 ops.
        #expect(differing == 0, "\(differing) values differ")
    }

    @Test("the supported aspect ratios are the model's, in its order")
    func supportedAspectRatios() {
        let ratios = MllamaImagePreprocessor.supportedAspectRatios(maxTiles: F.shared.model.max_num_tiles)
        #expect(ratios.map { [$0.rows, $0.columns] } == F.shared.model.supported_aspect_ratios)
        #expect(MllamaImagePreprocessor.supportedAspectRatios(maxTiles: 1) == [MllamaAspectRatio(rows: 1, columns: 1)])
    }

    @Test("the fixture covers every tile count, upscaling, downscaling and no resampling")
    func coverage() {
        let cases = F.shared.preprocessing
        #expect(Set(cases.map(\.num_tiles)) == [1, 2, 3, 4])
        #expect(cases.contains { $0.resized_height_width[0] > $0.height && $0.resized_height_width[1] > $0.width })
        #expect(cases.contains { $0.resized_height_width[0] < $0.height && $0.resized_height_width[1] < $0.width })
        #expect(cases.contains { $0.resized_height_width == [$0.height, $0.width] })
    }

    @Test("ties between canvases go to the smallest area; the fitted side is floored in f64")
    func geometry() {
        let p = F.preprocessor
        // 100×50 fits a 1×2 and a 2×2 canvas at the same scale: the smaller one wins, no resize.
        #expect(p.optimalGrid(width: 100, height: 50) == MllamaAspectRatio(rows: 1, columns: 2))
        #expect(p.fittedSize(width: 100, height: 50, canvasWidth: 112, canvasHeight: 56) == (100, 50))
        // 142 · (56 / 71) is 111.99999999999999 in f64.
        #expect(p.fittedSize(width: 142, height: 71, canvasWidth: 112, canvasHeight: 56) == (111, 56))
        // Thin images keep their thin side (at least 1).
        #expect(p.fittedSize(width: 400, height: 3, canvasWidth: 224, canvasHeight: 56) == (224, 1))
    }

    @Test("degenerate images give valid tiles without crashing",
          arguments: [(1, 1), (0, 0), (0, 7), (5000, 1), (1, 5000), (2, 900), (57, 1)])
    func degenerate(size: (Int, Int)) {
        let (width, height) = size
        let pixels = (0..<(3 * width * height)).map { UInt8(truncatingIfNeeded: $0 &* 37) }
        let input = F.preprocessor.process(RGBImage(width: width, height: height, pixels: pixels))
        let side = input.tileSize
        #expect(input.tileCount >= 1 && input.tileCount <= F.shared.model.max_num_tiles)
        #expect(input.pixels.count == input.tileCount * 3 * side * side)
        let finite = input.pixels.allSatisfy { $0.isFinite }
        #expect(finite)
        #expect(input.resizedWidth >= 1 && input.resizedWidth <= input.grid.columns * side)
        #expect(input.resizedHeight >= 1 && input.resizedHeight <= input.grid.rows * side)
        #expect(input.supportedAspectRatios[input.aspectRatioID - 1] == input.grid)
    }

    @Test("torch's weights: int16 at the largest precision that holds the largest weight")
    func resizeWeights() {
        // Upscaling: the largest weight is near 1, so 14 bits (2^15 would overflow int16).
        let up = TorchvisionResize.taps(input: 40, output: 56)
        #expect(up.precision == 14)
        // Each output's weights sum to one in fixed point, within rounding.
        for i in 0..<56 {
            let sum = (0..<up.counts[i]).reduce(0) { $0 + Int(up.weights[i * up.kernelSize + $1]) }
            #expect(abs(sum - (1 << up.precision)) <= up.counts[i])
        }
        // Downscaling spreads the weight over more taps, each smaller: more bits, at most 22.
        #expect(TorchvisionResize.taps(input: 3, output: 1).precision == 16)
        #expect(TorchvisionResize.taps(input: 5000, output: 50).precision == 21)
        #expect(TorchvisionResize.taps(input: 100_000, output: 20).precision == 22)
        // A solid image stays solid.
        let solid = RGBImage(width: 9, height: 7, pixels: [UInt8](repeating: 200, count: 9 * 7 * 3))
        let resized = TorchvisionResize.bilinear(solid, width: 20, height: 3)
        #expect(resized.pixels.allSatisfy { $0 == 200 })
    }
}
