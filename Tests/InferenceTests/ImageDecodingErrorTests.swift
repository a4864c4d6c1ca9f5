import Foundation
import Testing
@testable import Inference

/// Bad image input gives one `ImageError` naming the file, never a crash, exit or hang.
@Suite("Image decoding errors")
struct ImageDecodingErrorTests {
    static func fixture(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: ImageDecodingTests.directory.appendingPathComponent(name)))
    }

    /// The error `decode` throws for `bytes` named `name`; records an issue when it succeeds.
    static func error(_ bytes: [UInt8], name: String, maxPixels: Int = ImageDecoder.maxPixels,
                      sourceLocation: SourceLocation = #_sourceLocation) -> ImageError? {
        do {
            let image = try ImageDecoder.decode(bytes, name: name, maxPixels: maxPixels)
            Issue.record("\(name) decoded to \(image.width) × \(image.height) instead of failing",
                         sourceLocation: sourceLocation)
            return nil
        } catch {
            #expect(error.description.hasPrefix("\(name): "), "\(error.description) names the file",
                    sourceLocation: sourceLocation)
            #expect(error.description.hasSuffix(".") && !error.description.contains("\n"),
                    "\(error.description) is one sentence", sourceLocation: sourceLocation)
            return error
        }
    }

    static func isCorrupt(_ error: ImageError?, _ format: ImageFormat) -> Bool {
        if case .corrupt(format, _)? = error?.kind { return true }
        return false
    }

    // MARK: Files

    @Test("a missing file, an empty file and a directory")
    func files() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-images-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }

        let missing = folder.appendingPathComponent("missing.png").path
        #expect(throws: ImageError(file: missing, kind: .noSuchFile)) { try ImageDecoder.decode(contentsOf: missing) }
        do {
            _ = try ImageDecoder.decode(contentsOf: missing)
        } catch {
            #expect(error.description == "\(missing): no such file.")
        }

        let empty = folder.appendingPathComponent("empty.png")
        try Data().write(to: empty)
        #expect(throws: ImageError(file: empty.path, kind: .emptyFile)) { try ImageDecoder.decode(contentsOf: empty.path) }
        #expect(ImageError(file: "empty.png", kind: .emptyFile).description == "empty.png: the file is empty.")
        #expect(throws: ImageError(file: "empty.png", kind: .emptyFile)) { try ImageDecoder.decode([], name: "empty.png") }

        #expect(throws: ImageError(file: folder.path, kind: .notARegularFile)) {
            try ImageDecoder.decode(contentsOf: folder.path)
        }
    }

    @Test("bytes that are no known format")
    func unknownFormat() {
        var generator = SplitMix64(seed: 7)
        for length in [1, 2, 3, 7, 8, 64, 4096] {
            var bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            bytes[0] = 0x00  // not the first byte of any signature
            #expect(Self.error(bytes, name: "cat.jpg")?.kind == .unknownFormat)
        }
        #expect(Self.error(Array("GIF89a....".utf8), name: "cat.jpg")?.description
                == "cat.jpg: not a JPEG, PNG or PPM image.")
        #expect(Self.error([0x89, 0x50, 0x4E, 0x47], name: "short.png")?.kind == .unknownFormat)
    }

    @Test("random bytes behind each signature are corrupt data, not a crash")
    func randomBehindSignature() {
        var generator = SplitMix64(seed: 11)
        let signatures: [(ImageFormat, [UInt8])] = [
            (.jpeg, [0xFF, 0xD8, 0xFF]), (.png, [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]),
        ]
        for (format, signature) in signatures {
            for length in [0, 1, 16, 200, 5000] {
                let bytes = signature + (0..<length).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
                let error = Self.error(bytes, name: "noise")
                // Random bytes may happen to state a huge or empty size; anything else is corrupt.
                switch error?.kind {
                case .corrupt(format, _)?, .tooLarge?, .noPixels?, .unsupported(format, _)?: break
                default: Issue.record("\(format) noise of \(length) bytes gave \(String(describing: error))")
                }
            }
        }
    }

    // MARK: Truncation

    @Test("truncated JPEGs fail at every kind of cut point",
          arguments: ["jpeg_baseline.jpg", "jpeg_progressive.jpg", "jpeg_gray.jpg", "jpeg_cmyk.jpg"])
    func truncatedJPEG(file: String) throws {
        let bytes = try Self.fixture(file)
        for cut in [3, 4, 20, 100, 300, bytes.count / 2, bytes.count - 40, bytes.count - 2, bytes.count - 1] {
            let error = Self.error(Array(bytes[..<cut]), name: "photo.jpg")
            #expect(Self.isCorrupt(error, .jpeg), "cut at \(cut) of \(bytes.count): \(String(describing: error))")
        }
        let error = Self.error(Array(bytes[..<(bytes.count / 2)]), name: "photo.jpg")
        #expect(error?.description == "photo.jpg: corrupt JPEG data (Premature end of JPEG file).")
    }

    @Test("truncated PNGs fail at every kind of cut point",
          arguments: ["png_rgb8.png", "png_rgb8_interlaced.png", "png_palette8.png", "png_gray16.png"])
    func truncatedPNG(file: String) throws {
        let bytes = try Self.fixture(file)
        // Signature, inside IHDR, after IHDR, inside IDAT, just before IEND, inside IEND.
        for cut in [8, 20, 33, 40, bytes.count / 2, bytes.count - 12, bytes.count - 5, bytes.count - 1] {
            let error = Self.error(Array(bytes[..<cut]), name: "cut.png")
            #expect(Self.isCorrupt(error, .png), "cut at \(cut) of \(bytes.count): \(String(describing: error))")
        }
    }

    @Test("truncated PPMs fail")
    func truncatedPPM() throws {
        let bytes = try Self.fixture("ppm_p6_16bit.ppm")
        for cut in [3, 6, 10, 20, bytes.count - 1] {
            #expect(Self.isCorrupt(Self.error(Array(bytes[..<cut]), name: "cut.ppm"), .ppm), "cut at \(cut)")
        }
    }

    // MARK: Sizes

    @Test("headers claiming 20000 × 20000 are refused before anything that size is allocated")
    func huge() throws {
        let expected = ImageError.Kind.tooLarge(width: 20000, height: 20000, limit: 100_000_000)
        var jpeg = try Self.fixture("jpeg_baseline.jpg")
        let sof = try #require(ImageBytes.marker(0xC0, in: jpeg))
        ImageBytes.put16(20000, into: &jpeg, at: sof + 5)
        ImageBytes.put16(20000, into: &jpeg, at: sof + 7)
        let jpegError = Self.error(jpeg, name: "huge.jpg")
        #expect(jpegError?.kind == expected)
        #expect(jpegError?.description == "huge.jpg: 20000 × 20000 pixels is more than the 100-megapixel limit.")

        var png = try Self.fixture("png_rgb8.png")
        ImageBytes.put32(20000, into: &png, at: 16)
        ImageBytes.put32(20000, into: &png, at: 20)
        #expect(Self.error(png, name: "huge.png")?.kind == expected, "stale IHDR CRC")
        ImageBytes.fixCRC(of: &png, chunkAt: 8)
        #expect(Self.error(png, name: "huge.png")?.description
                == "huge.png: 20000 × 20000 pixels is more than the 100-megapixel limit.")

        #expect(Self.error(Array("P6\n20000 20000\n255\n".utf8) + [1, 2, 3], name: "huge.ppm")?.kind == expected)
        #expect(Self.error(Array("P5 99999999999999999999 1 255\n".utf8), name: "huger.pgm")?.kind
                == .tooLarge(width: 1 << 40, height: 1, limit: 100_000_000))

        // Beyond libjpeg's own 65500-pixel side limit.
        ImageBytes.put16(65535, into: &jpeg, at: sof + 5)
        ImageBytes.put16(65535, into: &jpeg, at: sof + 7)
        #expect(Self.error(jpeg, name: "huge.jpg")?.kind
                == .tooLarge(width: 65535, height: 65535, limit: 100_000_000))
    }

    @Test("the pixel limit is inclusive", arguments: ["jpeg_baseline.jpg", "png_rgb8.png", "ppm_p6_8bit.ppm"])
    func limitBoundary(file: String) throws {
        let bytes = try Self.fixture(file)
        let image = try ImageDecoder.decode(bytes, name: file)
        let pixels = image.width * image.height
        #expect(try ImageDecoder.decode(bytes, name: file, maxPixels: pixels) == image)
        #expect(Self.error(bytes, name: file, maxPixels: pixels - 1)?.kind
                == .tooLarge(width: image.width, height: image.height, limit: pixels - 1))
    }

    @Test("headers with a zero width or height")
    func zeroSize() throws {
        var png = try Self.fixture("png_rgb8.png")
        ImageBytes.put32(0, into: &png, at: 16)
        ImageBytes.fixCRC(of: &png, chunkAt: 8)
        #expect(Self.error(png, name: "flat.png")?.kind == .noPixels(width: 0, height: 23))
        #expect(Self.error(png, name: "flat.png")?.description == "flat.png: the image has no pixels (0 × 23).")

        var jpeg = try Self.fixture("jpeg_baseline.jpg")
        let sof = try #require(ImageBytes.marker(0xC0, in: jpeg))
        ImageBytes.put16(0, into: &jpeg, at: sof + 7)
        #expect(Self.error(jpeg, name: "flat.jpg")?.kind == .noPixels(width: 0, height: 23))

        #expect(Self.error(Array("P6 5 0 255\n".utf8), name: "flat.ppm")?.kind == .noPixels(width: 5, height: 0))
    }

    // MARK: Corruption

    @Test("a PNG chunk with a wrong CRC is corrupt")
    func badCRC() throws {
        let original = try Self.fixture("png_rgb8.png")
        var header = original
        header[29] ^= 0x01  // last byte of IHDR's CRC
        #expect(Self.error(header, name: "crc.png")?.description == "crc.png: corrupt PNG data (IHDR: CRC error).")
        var data = original
        let idat = try #require(ImageBytes.chunk("IDAT", in: data))
        let length = Int(ImageBytes.read32(data, at: idat))
        data[idat + 8 + length + 3] ^= 0x01  // last byte of the first IDAT's CRC
        #expect(Self.error(data, name: "crc.png")?.description == "crc.png: corrupt PNG data (IDAT: CRC error).")
        // A damaged compressed byte: zlib notices before the chunk's CRC is checked, or, with
        // the CRC made right, is left alone to notice.
        var stream = original
        stream[idat + 8 + 10] ^= 0x40
        #expect(Self.isCorrupt(Self.error(stream, name: "zlib.png"), .png))
        ImageBytes.fixCRC(of: &stream, chunkAt: idat)
        #expect(Self.isCorrupt(Self.error(stream, name: "zlib.png"), .png))
    }

    @Test("corrupt Huffman tables and entropy-coded data are errors, not gray padding")
    func badHuffman() throws {
        let original = try Self.fixture("jpeg_baseline.jpg")
        // A DHT segment whose 16 code-length counts add up to more than 256 codes.
        var table = original
        let dht = try #require(ImageBytes.marker(0xC4, in: table))
        for i in 0..<16 { table[dht + 5 + i] = 0xFF }
        let tableError = Self.error(table, name: "huffman.jpg")
        #expect(Self.isCorrupt(tableError, .jpeg), "\(String(describing: tableError))")

        // Entropy-coded data replaced by all 1 bits (FF 00 is a stuffed FF): no standard
        // Huffman table has an all-ones code, so the first symbol is a bad code.
        var data = original
        let sos = try #require(ImageBytes.marker(0xDA, in: data))
        let start = sos + 2 + Int(data[sos + 2]) << 8 + Int(data[sos + 3])
        for i in stride(from: start, to: data.count - 3, by: 2) { data[i] = 0xFF; data[i + 1] = 0x00 }
        #expect(Self.error(data, name: "huffman.jpg")?.description
                == "huffman.jpg: corrupt JPEG data (Corrupt JPEG data: bad Huffman code).")
    }

    @Test("well-formed but unsupported JPEG and PPM variants")
    func unsupported() throws {
        var jpeg = try Self.fixture("jpeg_baseline.jpg")
        let sof = try #require(ImageBytes.marker(0xC0, in: jpeg))
        jpeg[sof + 4] = 12  // 12-bit samples
        #expect(Self.error(jpeg, name: "deep.jpg")?.kind
                == .unsupported(format: .jpeg, detail: "Unsupported JPEG data precision 12"))
        jpeg[sof + 4] = 8
        jpeg[sof + 1] = 0xC3  // lossless
        if case .unsupported(.jpeg, _)? = Self.error(jpeg, name: "lossless.jpg")?.kind {} else {
            Issue.record("a lossless JPEG is not reported as unsupported")
        }
        #expect(Self.error(Array("P3\n1 1\n255\n0 0 0\n".utf8), name: "text.ppm")?.description
                == "text.ppm: unsupported PPM image (P3 is a plain-text format; only binary P5 and P6 are read).")
    }

    @Test("malformed PPM headers", arguments: [
        ("P6\n", "the header has no width"), ("P6 4\n", "the header has no height"),
        ("P6 4 4 x", "the header has no maxval"), ("P6 1 1 0\n", "maxval 0 is outside 1...65535"),
        ("P6 1 1 65536\n", "maxval 65536 is outside 1...65535"), ("P6 1 1 255", "the header does not end in whitespace"),
        ("P6 2 1 255\n\u{1}\u{2}\u{3}", "the pixel data ends early: 3 of 6 bytes"),
    ])
    func malformedPPM(header: String, detail: String) {
        #expect(Self.error(Array(header.utf8), name: "bad.ppm")?.kind == .corrupt(format: .ppm, detail: detail))
    }

    // MARK: Regressions

    @Test("every saved fuzzer finding decodes or fails cleanly")
    func regressions() throws {
        let folder = ImageDecodingTests.directory.appendingPathComponent("regressions")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path)
            .filter { !$0.hasPrefix(".") && $0 != "README.md" }.sorted()
        #expect(!files.isEmpty, "no regression inputs in \(folder.path)")
        for file in files {
            let path = folder.appendingPathComponent(file).path
            do {
                let image = try ImageDecoder.decode(contentsOf: path)
                #expect(image.pixels.count == 3 * image.width * image.height && image.width * image.height > 0)
            } catch {
                #expect(error.description.hasPrefix("\(path): "), "\(file): \(error.description)")
            }
        }
    }
}

/// Byte surgery on image files for the error tests.
enum ImageBytes {
    /// Offset of the first JPEG marker FF `code` (of the segment, at its FF).
    static func marker(_ code: UInt8, in bytes: [UInt8]) -> Int? {
        var i = 2
        while i + 4 <= bytes.count, bytes[i] == 0xFF {
            if bytes[i + 1] == code { return i }
            i += 2 + Int(bytes[i + 2]) << 8 + Int(bytes[i + 3])
        }
        return nil
    }

    /// Offset of the first PNG chunk of `type` (of its length field).
    static func chunk(_ type: String, in bytes: [UInt8]) -> Int? {
        var i = 8
        while i + 12 <= bytes.count {
            let length = Int(read32(bytes, at: i))
            if Array(bytes[(i + 4)..<(i + 8)]) == Array(type.utf8) { return i }
            i += 12 + length
        }
        return nil
    }

    static func read32(_ bytes: [UInt8], at i: Int) -> UInt32 {
        UInt32(bytes[i]) << 24 | UInt32(bytes[i + 1]) << 16 | UInt32(bytes[i + 2]) << 8 | UInt32(bytes[i + 3])
    }

    static func put16(_ value: Int, into bytes: inout [UInt8], at i: Int) {
        bytes[i] = UInt8(value >> 8)
        bytes[i + 1] = UInt8(value & 0xFF)
    }

    static func put32(_ value: UInt32, into bytes: inout [UInt8], at i: Int) {
        for k in 0..<4 { bytes[i + k] = UInt8(truncatingIfNeeded: value >> (24 - 8 * UInt32(k))) }
    }

    /// Recomputes the CRC of the chunk whose length field is at `offset`.
    static func fixCRC(of bytes: inout [UInt8], chunkAt offset: Int) {
        let length = Int(read32(bytes, at: offset))
        let crc = crc32(bytes[(offset + 4)..<(offset + 8 + length)])
        put32(crc, into: &bytes, at: offset + 8 + length)
    }

    /// CRC-32 as PNG uses it (ISO 3309, reflected, polynomial 0xEDB88320).
    static func crc32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }
}
