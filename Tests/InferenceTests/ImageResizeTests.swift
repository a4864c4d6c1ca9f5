import Foundation
import Testing
@testable import Inference

/// Ponder's resampling against Pillow (`Scripts/make_resize_fixtures.py`), whose algorithm
/// llama.cpp's mtmd ports: results must be byte-identical.
@Suite("Image resize against Pillow")
struct ImageResizeTests {
    struct Reference: Decodable, CustomTestStringConvertible {
        let source: String
        let width: Int
        let height: Int
        let filter: String
        let out_width: Int
        let out_height: Int
        let file: String
        var testDescription: String { "\(width)×\(height) → \(out_width)×\(out_height) \(filter)" }
    }

    static let directory: URL = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
        .appendingPathComponent("resize")

    static let references: [Reference] = {
        let data = try! Data(contentsOf: directory.appendingPathComponent("references.json"))
        return try! JSONDecoder().decode([Reference].self, from: data)
    }()

    static func raw(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: directory.appendingPathComponent(name)))
    }

    @Test("every filter, up and down, is byte-identical to Pillow", arguments: references)
    func matchesPillow(reference: Reference) throws {
        let image = RGBImage(width: reference.width, height: reference.height, pixels: try Self.raw(reference.source))
        let filter: ResizeFilter = switch reference.filter {
        case "bilinear": .bilinear
        case "bicubic": .bicubic
        default: .lanczos
        }
        let resized = ImagePreprocessor.resize(image, width: reference.out_width, height: reference.out_height, filter: filter)
        let expected = try Self.raw(reference.file)
        #expect(resized.width == reference.out_width && resized.height == reference.out_height)
        let differing = zip(resized.pixels, expected).filter { $0 != $1 }.count
        #expect(resized.pixels.count == expected.count && differing == 0,
                "\(differing) of \(expected.count) bytes differ from Pillow")
    }

    @Test("the fixture covers all three filters, upscaling and downscaling")
    func coverage() {
        #expect(Set(Self.references.map(\.filter)) == ["bilinear", "bicubic", "lanczos"])
        #expect(Self.references.contains { $0.out_width > $0.width && $0.out_height > $0.height })
        #expect(Self.references.contains { $0.out_width < $0.width && $0.out_height < $0.height })
    }

    @Test("letterboxing keeps the aspect ratio, centres the image and pads with the colour")
    func letterbox() {
        // 40×20 solid green into a 16² square: scale 0.4 → 16×8, centred at rows 4..<12.
        let image = RGBImage(width: 40, height: 20, pixels: [UInt8](repeating: 0, count: 40 * 20 * 3).enumerated()
            .map { $0.offset % 3 == 1 ? 200 : 0 })
        let square = ImagePreprocessor.letterbox(image, side: 16, filter: .bicubic, padColour: (122, 116, 104))
        #expect(square.width == 16 && square.height == 16)
        func pixel(_ x: Int, _ y: Int) -> [UInt8] { Array(square.pixels[(3 * (y * 16 + x))..<(3 * (y * 16 + x) + 3)]) }
        #expect(pixel(0, 0) == [122, 116, 104])
        #expect(pixel(15, 3) == [122, 116, 104])
        #expect(pixel(8, 4) == [0, 200, 0])
        #expect(pixel(8, 11) == [0, 200, 0])
        #expect(pixel(8, 12) == [122, 116, 104])
        // An image that already has the size is not resampled.
        let exact = RGBImage(width: 16, height: 16, pixels: (0..<(16 * 16 * 3)).map { UInt8($0 % 251) })
        #expect(ImagePreprocessor.letterbox(exact, side: 16, filter: .bicubic, padColour: (0, 0, 0)) == exact)
    }
}
