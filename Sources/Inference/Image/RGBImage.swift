/// An 8-bit RGB image: what every decoder produces and what vision preprocessing consumes.
///
/// `pixels` holds `3 · width · height` bytes, row-major from the top-left corner, with the
/// red, green and blue samples of each pixel next to each other.
public struct RGBImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// Interleaved R, G, B samples, `3 · width` bytes per row, top row first.
    public var pixels: [UInt8]

    /// An image over `pixels`, which must hold exactly `3 · width · height` bytes.
    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0, "negative image size \(width) × \(height)")
        precondition(pixels.count == 3 * width * height,
                     "\(pixels.count) bytes for a \(width) × \(height) RGB image")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// The samples of the pixel in column `x`, row `y` (0 is the top row).
    public subscript(x x: Int, y y: Int) -> (red: UInt8, green: UInt8, blue: UInt8) {
        precondition(x >= 0 && x < width && y >= 0 && y < height,
                     "pixel (\(x), \(y)) outside a \(width) × \(height) image")
        let index = 3 * (y * width + x)
        return (pixels[index], pixels[index + 1], pixels[index + 2])
    }
}
