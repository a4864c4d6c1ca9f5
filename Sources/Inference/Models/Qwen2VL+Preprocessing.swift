import Foundation

/// Qwen2-VL / Qwen2.5-VL's image preprocessing, as HF's `Qwen2VLImageProcessor` runs it with
/// its default (torchvision) backend:
///
/// 1. smart resize: each side rounded to a multiple of `patchSize · mergeSize` (28), Python's
///    `round` (half to even); if the area leaves `[minPixels, maxPixels]`, both sides are scaled
///    by β = √(area ratio) and floored (too large, at least one factor) or ceiled (too small);
/// 2. torchvision's antialiased bicubic on the uint8 image (`TorchvisionResize.bicubic`); an
///    image already at the target size is untouched;
/// 3. `(x − mean·255) / (std·255)` in f32 (the fused rescale and normalise);
/// 4. patches in merge-block order (block row, block column, row in block, column in block),
///    each row `[channel][frame][ky][kx]` with the still image as both temporal frames.
public struct Qwen2VLImageProcessor: Sendable {
    public let patchSize: Int
    public let mergeSize: Int
    /// Frames per temporal patch (HF's `temporal_patch_size`); a still image is repeated.
    public let temporalPatchSize: Int
    public let mean: [Float]
    public let std: [Float]
    public let minPixels: Int
    public let maxPixels: Int

    /// llama.cpp's limits for files without `clip.vision.image_min_pixels`/`image_max_pixels`:
    /// 8 to 4096 merged tokens.
    public static let defaultMinTokens = 8, defaultMaxTokens = 4096

    public init(patchSize: Int = 14, mergeSize: Int = 2, temporalPatchSize: Int = 2,
                mean: [Float], std: [Float], minPixels: Int? = nil, maxPixels: Int? = nil) {
        precondition(patchSize > 0 && mergeSize > 0 && temporalPatchSize > 0 && mean.count == 3 && std.count == 3)
        self.patchSize = patchSize
        self.mergeSize = mergeSize
        self.temporalPatchSize = temporalPatchSize
        self.mean = mean
        self.std = std
        let unit = patchSize * patchSize * mergeSize * mergeSize
        self.minPixels = minPixels ?? Self.defaultMinTokens * unit
        self.maxPixels = maxPixels ?? Self.defaultMaxTokens * unit
    }

    /// Side multiple of the resized image: one merged unit.
    public var factor: Int { patchSize * mergeSize }

    /// Floats per patch row: `3 · temporalPatchSize · patchSize²`.
    public var patchLength: Int { 3 * temporalPatchSize * patchSize * patchSize }

    /// HF's `smart_resize`, in Python's double arithmetic.
    public func targetSize(width: Int, height: Int) throws(VisionError) -> (width: Int, height: Int) {
        guard width > 0, height > 0 else {
            throw VisionError(kind: .invalidValue(key: "image size", value: "\(width) × \(height)", reason: "an image needs at least one pixel"))
        }
        let ratio = Double(max(width, height)) / Double(min(width, height))
        guard ratio <= 200 else {
            throw VisionError(kind: .invalidValue(key: "image size", value: "\(width) × \(height)",
                                                  reason: "Qwen2-VL accepts aspect ratios up to 200 (this one is \(ratio))"))
        }
        let f = Double(factor), h = Double(height), w = Double(width)
        var newHeight = Int((h / f).rounded(.toNearestOrEven)) * factor
        var newWidth = Int((w / f).rounded(.toNearestOrEven)) * factor
        if newHeight * newWidth > maxPixels {
            let beta = (h * w / Double(maxPixels)).squareRoot()
            newHeight = max(factor, Int((h / beta / f).rounded(.down)) * factor)
            newWidth = max(factor, Int((w / beta / f).rounded(.down)) * factor)
        } else if newHeight * newWidth < minPixels {
            let beta = (Double(minPixels) / (h * w)).squareRoot()
            newHeight = Int((h * beta / f).rounded(.up)) * factor
            newWidth = Int((w * beta / f).rounded(.up)) * factor
        }
        guard newWidth > 0, newHeight > 0, newWidth <= 1 << 15, newHeight <= 1 << 15 else {
            throw VisionError(kind: .invalidValue(key: "image size", value: "\(width) × \(height)",
                                                  reason: "it resizes to \(newWidth) × \(newHeight), which cannot be encoded"))
        }
        return (newWidth, newHeight)
    }

    /// The image resized to `targetSize` (step 2).
    public func resized(_ image: RGBImage) throws(VisionError) -> RGBImage {
        let size = try targetSize(width: image.width, height: image.height)
        return TorchvisionResize.bicubic(image, width: size.width, height: size.height)
    }

    /// The normalised patches of `image`: `values` `[gridRows · gridColumns × patchLength]` in
    /// merge-block order; the grid counts patches (both sides multiples of `mergeSize`).
    public func patches(_ image: RGBImage) throws(VisionError) -> (values: [Float], gridRows: Int, gridColumns: Int) {
        let resized = try resized(image)
        return (patches(ofResized: resized), resized.height / patchSize, resized.width / patchSize)
    }

    /// Steps 3 and 4 on an image whose sides are multiples of `factor`.
    func patches(ofResized image: RGBImage) -> [Float] {
        precondition(image.width % factor == 0 && image.height % factor == 0)
        let p = patchSize, m = mergeSize, frames = temporalPatchSize, width = image.width
        let rows = image.height / p, columns = width / p, length = patchLength
        let shift = (0..<3).map { mean[$0] * 255 }, divisor = (0..<3).map { std[$0] * 255 }
        // Normalised planes [3 × height × width].
        let plane = image.width * image.height
        var planes = [Float](repeating: 0, count: 3 * plane)
        for i in 0..<plane {
            for c in 0..<3 { planes[c * plane + i] = (Float(image.pixels[3 * i + c]) - shift[c]) / divisor[c] }
        }
        var values = [Float](repeating: 0, count: rows * columns * length)
        var index = 0
        for blockRow in 0..<(rows / m) {
            for blockColumn in 0..<(columns / m) {
                for dy in 0..<m {
                    for dx in 0..<m {
                        let top = (blockRow * m + dy) * p, left = (blockColumn * m + dx) * p
                        var o = index * length
                        for c in 0..<3 {
                            for _ in 0..<frames {
                                for ky in 0..<p {
                                    let source = c * plane + (top + ky) * width + left
                                    for kx in 0..<p { values[o + kx] = planes[source + kx] }
                                    o += p
                                }
                            }
                        }
                        index += 1
                    }
                }
            }
        }
        return values
    }
}
