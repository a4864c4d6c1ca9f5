import CImageCodecs
import Foundation
import Testing
@testable import Inference

/// Every fixture written by `Scripts/make_image_fixtures.py` decodes to its reference pixels:
/// Pillow's decoding for JPEG (same libjpeg-turbo, same IDCT, so byte-identical), the
/// script's stb_image-style model for PNG and PPM.
@Suite("Image decoding of the fixtures")
struct ImageDecodingTests {
    struct Fixture: Decodable, Sendable, CustomTestStringConvertible {
        let file: String
        let width: Int
        let height: Int
        let sha256: String
        let reference: String
        let note: String
        let orientation: Int?
        let upright_card: Bool?
        var testDescription: String { "\(file) (\(note))" }
    }

    struct References: Decodable { let images: [Fixture] }

    static let directory: URL = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
        .appendingPathComponent("images")

    static let fixtures: [Fixture] = {
        let data = try! Data(contentsOf: directory.appendingPathComponent("references.json"))
        return try! JSONDecoder().decode(References.self, from: data).images
    }()

    static func path(_ file: String) -> String { directory.appendingPathComponent(file).path }

    @Test("the fixture decodes to the reference pixels", arguments: fixtures)
    func matchesReference(fixture: Fixture) throws {
        let image = try ImageDecoder.decode(contentsOf: Self.path(fixture.file))
        #expect(image.width == fixture.width && image.height == fixture.height,
                "\(image.width) × \(image.height), expected \(fixture.width) × \(fixture.height)")
        #expect(image.pixels.count == 3 * fixture.width * fixture.height)
        #expect(SHA256.hex(image.pixels) == fixture.sha256, "pixels differ from the \(fixture.reference) reference")
    }

    @Test("the fixtures cover every format variant the decoder promises")
    func coverage() {
        let names = Set(Self.fixtures.map(\.file))
        for required in ["jpeg_baseline.jpg", "jpeg_progressive.jpg", "jpeg_gray.jpg", "jpeg_cmyk.jpg",
                         "png_rgb8.png", "png_rgba8.png", "png_rgb16.png", "png_palette8.png",
                         "png_palette8_trns.png", "png_gray8.png", "png_gray16.png", "png_gray_alpha8.png",
                         "png_rgb8_interlaced.png", "ppm_p6_8bit.ppm", "ppm_p6_16bit.ppm", "pgm_p5_8bit.pgm"] {
            #expect(names.contains(required), "no fixture \(required)")
        }
        let orientations = Set(Self.fixtures.compactMap { $0.upright_card == true ? $0.orientation : nil })
        #expect(orientations == Set(1...8))
    }

    static let cards = fixtures.filter { $0.upright_card == true }

    @Test("EXIF-oriented JPEGs come out upright", arguments: cards)
    func upright(fixture: Fixture) throws {
        let image = try ImageDecoder.decode(contentsOf: Self.path(fixture.file))
        // The card is 48 × 32: red, green over blue, white. Sample each quadrant's centre.
        #expect(image.width == 48 && image.height == 32)
        guard image.width == 48 && image.height == 32 else { return }
        let expected: [(x: Int, y: Int, colour: (Int, Int, Int))] = [
            (12, 8, (220, 30, 30)), (36, 8, (30, 200, 30)), (12, 24, (30, 30, 220)), (36, 24, (235, 235, 235)),
        ]
        for (x, y, colour) in expected {
            let pixel = image[x: x, y: y]
            let distance = max(abs(Int(pixel.red) - colour.0), abs(Int(pixel.green) - colour.1),
                               abs(Int(pixel.blue) - colour.2))
            #expect(distance <= 12, "pixel (\(x), \(y)) is \(pixel), expected about \(colour)")
        }
    }

    @Test("orientation maps a 3 × 2 image as the EXIF table says", arguments: 1...8)
    func orientationMapping(orientation: Int) {
        // Pixels a b c / d e f, each with all three samples equal to its letter's index.
        let source = RGBImage(width: 3, height: 2, pixels: (0..<6).flatMap { [UInt8($0), UInt8($0), UInt8($0)] })
        let expected: [[Int]] = switch orientation {
        case 1: [[0, 1, 2], [3, 4, 5]]
        case 2: [[2, 1, 0], [5, 4, 3]]
        case 3: [[5, 4, 3], [2, 1, 0]]
        case 4: [[3, 4, 5], [0, 1, 2]]
        case 5: [[0, 3], [1, 4], [2, 5]]
        case 6: [[3, 0], [4, 1], [5, 2]]
        case 7: [[5, 2], [4, 1], [3, 0]]
        default: [[2, 5], [1, 4], [0, 3]]
        }
        let oriented = source.applyingEXIFOrientation(orientation)
        #expect(oriented.height == expected.count && oriented.width == expected[0].count)
        let labels = stride(from: 0, to: oriented.pixels.count, by: 3).map { Int(oriented.pixels[$0]) }
        #expect(labels == expected.flatMap { $0 })
    }

    @Test("out-of-range orientations leave the image as it is")
    func orientationOutOfRange() {
        let source = RGBImage(width: 2, height: 1, pixels: [1, 2, 3, 4, 5, 6])
        #expect(source.applyingEXIFOrientation(0) == source)
        #expect(source.applyingEXIFOrientation(9) == source)
    }

    @Test("the format comes from the bytes, not the name")
    func sniffing() throws {
        let png = [UInt8](try Data(contentsOf: Self.directory.appendingPathComponent("png_rgb8.png")))
        let fromBytes = try ImageDecoder.decode(png, name: "really-a-png.jpg")
        let fromFile = try ImageDecoder.decode(contentsOf: Self.path("png_rgb8.png"))
        #expect(fromBytes == fromFile)
        #expect(ImageDecoder.format(of: png) == .png)
        #expect(ImageDecoder.format(of: [0xFF, 0xD8, 0xFF, 0xE0]) == .jpeg)
        #expect(ImageDecoder.format(of: Array("P6\n1 1 255\n".utf8)) == .ppm)
        #expect(ImageDecoder.format(of: Array("GIF89a".utf8)) == nil)
    }

    @Test("the subscript reads R, G, B of one pixel")
    func subscriptReadsPixel() {
        let image = RGBImage(width: 2, height: 2, pixels: Array(0..<12))
        #expect(image[x: 0, y: 0] == (0, 1, 2))
        #expect(image[x: 1, y: 0] == (3, 4, 5))
        #expect(image[x: 0, y: 1] == (6, 7, 8))
        #expect(image[x: 1, y: 1] == (9, 10, 11))
    }

    @Test("the test's SHA-256 gives the FIPS 180-4 example digests")
    func sha256KnownAnswers() {
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    @Test("EXIF orientation parsing is bounds-checked and reads both byte orders")
    func exifParsing() {
        func payload(_ order: String, orientation: UInt16, type: UInt16 = 3) -> [UInt8] {
            let big = order == "MM"
            func u16(_ v: UInt16) -> [UInt8] { big ? [UInt8(v >> 8), UInt8(v & 0xFF)] : [UInt8(v & 0xFF), UInt8(v >> 8)] }
            func u32(_ v: UInt32) -> [UInt8] { big ? u16(UInt16(v >> 16)) + u16(UInt16(v & 0xFFFF)) : u16(UInt16(v & 0xFFFF)) + u16(UInt16(v >> 16)) }
            let value = type == 3 ? u16(orientation) + [0, 0] : u32(UInt32(orientation))
            return Array("Exif".utf8) + [0, 0] + Array(order.utf8) + u16(42) + u32(8)
                + u16(2) + u16(0x010F) + u16(2) + u32(4) + Array("Cam\0".utf8)  // Make, then Orientation
                + u16(0x0112) + u16(type) + u32(1) + value + u32(0)
        }
        func orientation(_ bytes: [UInt8]) -> Int32 { bytes.withUnsafeBufferPointer { cic_exif_orientation($0.baseAddress, $0.count) } }
        for value in UInt16(1)...8 {
            #expect(orientation(payload("II", orientation: value)) == Int32(value))
            #expect(orientation(payload("MM", orientation: value)) == Int32(value))
        }
        #expect(orientation(payload("II", orientation: 6, type: 4)) == 6)
        #expect(orientation(payload("II", orientation: 0)) == 1)
        #expect(orientation(payload("II", orientation: 9)) == 1)
        #expect(orientation(payload("XX", orientation: 6)) == 1)
        let full = payload("MM", orientation: 6)
        // Cut before the end of the orientation entry (4 bytes of next-IFD offset follow it),
        // the payload falls back to 1; never a read past the end (ASan in the fuzzer checks).
        for cut in 0..<full.count {
            let value = orientation(Array(full[..<cut]))
            #expect(value == (cut >= full.count - 4 ? 6 : 1), "cut at \(cut) gave \(value)")
        }
        var hostile = full
        hostile[10...13] = [0xFF, 0xFF, 0xFF, 0xF0]  // IFD offset far outside
        #expect(orientation(hostile) == 1)
    }
}

/// SHA-256 (FIPS 180-4), for comparing decoded pixels with the references' digests.
enum SHA256 {
    private static let k: [UInt32] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ]

    static func hex(_ message: [UInt8]) -> String {
        var h: [UInt32] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]
        var data = message
        data.append(0x80)
        while data.count % 64 != 56 { data.append(0) }
        let bits = UInt64(message.count) * 8
        for shift in stride(from: 56, through: 0, by: -8) { data.append(UInt8(truncatingIfNeeded: bits >> UInt64(shift))) }
        func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }
        var w = [UInt32](repeating: 0, count: 64)
        for block in stride(from: 0, to: data.count, by: 64) {
            for i in 0..<16 {
                let j = block + 4 * i
                w[i] = UInt32(data[j]) << 24 | UInt32(data[j + 1]) << 16 | UInt32(data[j + 2]) << 8 | UInt32(data[j + 3])
            }
            for i in 16..<64 {
                let s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3)
                let s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10)
                w[i] = w[i - 16] &+ s0 &+ w[i - 7] &+ s1
            }
            var (a, b, c, d, e, f, g, hh) = (h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7])
            for i in 0..<64 {
                let t1 = hh &+ (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) &+ ((e & f) ^ (~e & g)) &+ k[i] &+ w[i]
                let t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) &+ ((a & b) ^ (a & c) ^ (b & c))
                (hh, g, f, e, d, c, b, a) = (g, f, e, d &+ t1, c, b, a, t1 &+ t2)
            }
            for (i, value) in [a, b, c, d, e, f, g, hh].enumerated() { h[i] = h[i] &+ value }
        }
        return h.map { word in
            let text = String(word, radix: 16)
            return String(repeating: "0", count: 8 - text.count) + text
        }.joined()
    }
}
