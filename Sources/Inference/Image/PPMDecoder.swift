/// Binary Netpbm images: P6 (RGB) and P5 (gray, replicated to RGB).
///
/// The header is the magic number and three decimal numbers (width, height, maxval), separated
/// by whitespace, with `#` comments running to the end of a line; one whitespace byte ends it.
/// maxval may be 1...65535: up to 255 a sample is one byte, above it two (big-endian), of
/// which the high byte is kept. Samples are not rescaled to 0...255, as in stb_image.
/// Bytes after the raster (further images of a multi-image file) are ignored.
enum PPMDecoder {
    /// "P" and a digit from 1 to 7, then whitespace: a Netpbm file, even if not one we read.
    static func hasSignature(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 3 && bytes[0] == UInt8(ascii: "P")
            && (UInt8(ascii: "1")...UInt8(ascii: "7")).contains(bytes[1]) && isSpace(bytes[2])
    }

    static func decode(_ bytes: [UInt8], name: String, maxPixels: Int) throws(ImageError) -> RGBImage {
        func corrupt(_ detail: String) -> ImageError {
            ImageError(file: name, kind: .corrupt(format: .ppm, detail: detail))
        }
        guard hasSignature(bytes) else { throw ImageError(file: name, kind: .unknownFormat) }
        let channels: Int
        switch bytes[1] {
        case UInt8(ascii: "6"): channels = 3
        case UInt8(ascii: "5"): channels = 1
        case let digit:
            let kind = digit <= UInt8(ascii: "3") ? "plain-text" : digit == UInt8(ascii: "4") ? "bitmap" : "PAM"
            throw ImageError(file: name, kind: .unsupported(
                format: .ppm,
                detail: "P\(Character(UnicodeScalar(digit))) is a \(kind) format; only binary P5 and P6 are read"))
        }

        var position = 2
        /// The next decimal number, after whitespace and comments; nil at anything else.
        func number() -> Int? {
            while position < bytes.count {
                if isSpace(bytes[position]) {
                    position += 1
                } else if bytes[position] == UInt8(ascii: "#") {
                    while position < bytes.count, bytes[position] != 0x0A, bytes[position] != 0x0D {
                        position += 1
                    }
                } else {
                    break
                }
            }
            var value = 0
            var digits = 0
            while position < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) {
                // Saturate far above any limit rather than overflow.
                value = min(value * 10 + Int(bytes[position] - UInt8(ascii: "0")), 1 << 40)
                digits += 1
                position += 1
            }
            return digits > 0 ? value : nil
        }

        guard let width = number() else { throw corrupt("the header has no width") }
        guard let height = number() else { throw corrupt("the header has no height") }
        guard let maxValue = number() else { throw corrupt("the header has no maxval") }
        guard width > 0, height > 0 else {
            throw ImageError(file: name, kind: .noPixels(width: width, height: height))
        }
        // Each side is at most 2^40, so the product cannot overflow.
        guard width <= maxPixels, height <= maxPixels, width * height <= maxPixels else {
            throw ImageError(file: name, kind: .tooLarge(width: width, height: height, limit: maxPixels))
        }
        guard (1...65535).contains(maxValue) else {
            throw corrupt("maxval \(maxValue) is outside 1...65535")
        }
        guard position < bytes.count, isSpace(bytes[position]) else {
            throw corrupt("the header does not end in whitespace")
        }
        position += 1

        let bytesPerSample = maxValue > 255 ? 2 : 1
        let samples = width * height * channels
        let needed = samples * bytesPerSample
        let available = bytes.count - position
        guard available >= needed else {
            throw corrupt("the pixel data ends early: \(available) of \(needed) bytes")
        }

        var pixels = [UInt8](repeating: 0, count: 3 * width * height)
        bytes.withUnsafeBufferPointer { source in
            pixels.withUnsafeMutableBufferPointer { target in
                // The high byte comes first in a 16-bit sample, so sample i starts at
                // start + i · bytesPerSample either way.
                let start = position
                if channels == 3 {
                    for i in 0..<samples { target[i] = source[start + i * bytesPerSample] }
                } else {
                    for i in 0..<samples {
                        let gray = source[start + i * bytesPerSample]
                        target[3 * i] = gray
                        target[3 * i + 1] = gray
                        target[3 * i + 2] = gray
                    }
                }
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    /// Netpbm whitespace: space, tab, line feed, vertical tab, form feed, carriage return.
    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (0x09...0x0D).contains(byte)
    }
}
