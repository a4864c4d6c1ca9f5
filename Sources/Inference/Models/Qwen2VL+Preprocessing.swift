import GGUF
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

/// What the Qwen2-VL, Qwen2.5-VL and Qwen3-VL projector files share, read and checked once:
/// the projector type, the ViT's sizes, the epsilon, and the image processor (mean, std, the
/// pixel limits: the caller's, else `clip.vision.image_min_pixels`/`image_max_pixels`, else
/// llama.cpp's 8 to 4096 merged tokens).
struct QwenVisionHeader {
    let keys: MetadataReader<VisionError>
    /// The file's projector type, one of those the caller runs.
    let projectorType: String
    let patchSize, embeddingLength, blockCount, headCount, mergeSize: Int
    let epsilon: Float
    let processor: Qwen2VLImageProcessor

    /// Whether `file` is a projector of one of `types`.
    static func accepts(_ file: GGUFFile, types: [String]) -> Bool {
        guard file.architecture == "clip" else { return false }
        let stored = (try? file.optionalString("clip.vision.projector_type")) ?? (try? file.optionalString("clip.projector_type"))
        return stored.map(types.contains) ?? false
    }

    /// `clip.vision.feed_forward_length`, required by the Qwen2.5-VL and Qwen3-VL towers. Not
    /// Qwen2-VL's: llama.cpp's converter writes the merger's output width there, and its legacy
    /// surgery script 0; the width comes from `ffn_up` instead.
    func feedForwardLength() throws(VisionError) -> Int { try keys.positive("vision.feed_forward_length") }

    init(file: GGUFFile, projectorTypes: [String], minPixels: Int?, maxPixels: Int?) throws(VisionError) {
        let path = file.path
        guard file.architecture == "clip" else {
            throw VisionError(file: path, kind: .notAProjector(architecture: file.architecture))
        }
        let keys = MetadataReader<VisionError>(vision: file, prefix: "clip")
        self.keys = keys
        if try keys.optionalBool("has_vision_encoder") == false { throw VisionError(file: path, kind: .noVisionEncoder) }
        var type = try keys.optionalString("vision.projector_type")
        if type == nil { type = try keys.optionalString("projector_type") }
        guard let type else { throw VisionError(file: path, kind: .unsupportedProjector(nil)) }
        guard projectorTypes.contains(type) else {
            let runs = projectorTypes.map { "'\($0)'" }.joined(separator: " or ")
            throw keys.invalid("projector_type", "'\(type)'", "this encoder runs \(runs) only")
        }
        projectorType = type
        patchSize = try keys.positive("vision.patch_size")
        let d = try keys.positive("vision.embedding_length")
        embeddingLength = d
        blockCount = try keys.positive("vision.block_count")
        let heads = try keys.positive("vision.attention.head_count")
        headCount = heads
        mergeSize = try keys.positive("vision.spatial_merge_size", default: 2)
        guard d % heads == 0, (d / heads) % 4 == 0 else {
            throw keys.invalid("vision.attention.head_count", heads, "the head dimension (embedding_length \(d) / heads) must be a multiple of 4 for the 2-D rope")
        }
        let eps = try keys.optionalFloat("vision.attention.layer_norm_epsilon") ?? 1e-6
        guard eps.isFinite, eps >= 0 else { throw keys.invalid("vision.attention.layer_norm_epsilon", eps, "it must be a non-negative number") }
        epsilon = eps
        func triple(_ suffix: String) throws(VisionError) -> [Float] {
            guard let values = try keys.optionalFloatArray(suffix) else { throw keys.missing(suffix) }
            guard values.count == 3, values.allSatisfy(\.isFinite) else { throw keys.invalid(suffix, values, "it must hold 3 finite numbers") }
            return values
        }
        let mean = try triple("vision.image_mean"), std = try triple("vision.image_std")
        guard std.allSatisfy({ $0 != 0 }) else { throw keys.invalid("vision.image_std", std, "a standard deviation of 0 divides by zero") }
        let fileMin = try keys.optionalInt("vision.image_min_pixels"), fileMax = try keys.optionalInt("vision.image_max_pixels")
        if let fileMin, fileMin <= 0 { throw keys.invalid("vision.image_min_pixels", fileMin, "it must be positive") }
        if let fileMax, fileMax <= 0 { throw keys.invalid("vision.image_max_pixels", fileMax, "it must be positive") }
        processor = Qwen2VLImageProcessor(patchSize: patchSize, mergeSize: mergeSize, mean: mean, std: std,
                                          minPixels: minPixels ?? fileMin, maxPixels: maxPixels ?? fileMax)
    }
}
