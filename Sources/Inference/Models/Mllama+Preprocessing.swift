import Foundation

/// A tile arrangement of an mllama image: `rows` tiles high, `columns` tiles wide.
///
/// HF's `get_all_supported_aspect_ratios` calls its pairs (width, height), but every consumer
/// reads the first number as the number of tile rows (the canvas height), so here they are
/// named for what they do.
public struct MllamaAspectRatio: Sendable, Hashable, CustomStringConvertible {
    public let rows: Int
    public let columns: Int

    public init(rows: Int, columns: Int) {
        self.rows = rows
        self.columns = columns
    }

    public var tiles: Int { rows * columns }
    public var description: String { "\(rows)×\(columns)" }
}

/// One image prepared for the mllama vision encoder.
public struct MllamaImageInput: Sendable, Equatable {
    /// The used tiles, normalised, planar f32 `[tileCount × 3 × S × S]`, tiles in row-major
    /// order of the grid (left to right, then top to bottom).
    public let pixels: [Float]
    /// The tile side S.
    public let tileSize: Int
    /// The tile grid.
    public let grid: MllamaAspectRatio
    /// 1-based index of `grid` in `supportedAspectRatios` (0 is HF's "no image").
    public let aspectRatioID: Int
    /// Every arrangement the model knows, in HF's order (the model's tile embeddings are indexed
    /// by `aspectRatioID`).
    public let supportedAspectRatios: [MllamaAspectRatio]
    /// The size the image was resized to before padding to the grid (at most the canvas).
    public let resizedWidth: Int
    public let resizedHeight: Int

    public var tileCount: Int { grid.tiles }

    /// HF's `aspect_ratio_mask` for `maxTiles` tiles: 1 for the used tiles, then 0.
    public func aspectRatioMask(maxTiles: Int) -> [Int] {
        (0..<maxTiles).map { $0 < tileCount || $0 == 0 ? 1 : 0 }
    }
}

/// Prepares images exactly as transformers' `MllamaImageProcessor` (the torchvision backend that
/// `AutoImageProcessor` picks) does on a CPU with AVX2, AVX-512 or NEON:
///
/// 1. choose the tile grid whose canvas needs the smallest upscale, or else the least downscale
///    (ties: the smallest canvas area, first in HF's order);
/// 2. resize keeping the aspect ratio to fit that canvas, never below one tile per side where the
///    canvas allows, sides floored in f64 (an image that already fits is not resampled);
/// 3. resample with torch's uint8 antialiased bilinear kernel (int16 fixed-point weights,
///    horizontal pass first, 8-bit between passes);
/// 4. pad with zero bytes on the right and bottom to the canvas;
/// 5. normalise each byte as `(x − mean·255) / (std·255)` in f32 (HF fuses rescale and normalise),
///    so padding becomes `−mean/std`, not 0;
/// 6. cut row-major into tiles, planar per tile.
public struct MllamaImagePreprocessor: Sendable {
    public let imageSize: Int
    public let maxTiles: Int
    public let mean: [Float]
    public let std: [Float]
    public let rescaleFactor: Double
    public let supportedAspectRatios: [MllamaAspectRatio]

    public init(imageSize: Int, maxTiles: Int, mean: [Float], std: [Float], rescaleFactor: Double = 1.0 / 255.0) {
        precondition(imageSize > 0 && maxTiles > 0, "mllama preprocessing needs a positive tile size and tile count")
        precondition(mean.count == 3 && std.count == 3, "mllama preprocessing needs 3 means and 3 standard deviations")
        self.imageSize = imageSize
        self.maxTiles = maxTiles
        self.mean = mean
        self.std = std
        self.rescaleFactor = rescaleFactor
        self.supportedAspectRatios = Self.supportedAspectRatios(maxTiles: maxTiles)
    }

    /// Every grid of at most `maxTiles` tiles, in HF's order: rows 1…max, then columns 1…max.
    public static func supportedAspectRatios(maxTiles: Int) -> [MllamaAspectRatio] {
        var ratios: [MllamaAspectRatio] = []
        for rows in 1...max(1, maxTiles) {
            for columns in 1...max(1, maxTiles) where rows * columns <= maxTiles {
                ratios.append(MllamaAspectRatio(rows: rows, columns: columns))
            }
        }
        return ratios
    }

    /// The prepared tiles of `image`. An empty image is treated as one black pixel.
    public func process(_ image: RGBImage) -> MllamaImageInput {
        let source = image.width > 0 && image.height > 0
            ? image : RGBImage(width: 1, height: 1, pixels: [0, 0, 0])
        let grid = optimalGrid(width: source.width, height: source.height)
        let canvasWidth = grid.columns * imageSize, canvasHeight = grid.rows * imageSize
        let (width, height) = fittedSize(width: source.width, height: source.height,
                                         canvasWidth: canvasWidth, canvasHeight: canvasHeight)
        let resized = TorchvisionResize.bilinear(source, width: width, height: height)
        let pixels = tiles(of: resized, grid: grid)
        let id = (supportedAspectRatios.firstIndex(of: grid) ?? 0) + 1
        return MllamaImageInput(pixels: pixels, tileSize: imageSize, grid: grid, aspectRatioID: id,
                                supportedAspectRatios: supportedAspectRatios,
                                resizedWidth: width, resizedHeight: height)
    }

    // MARK: Geometry (HF's get_optimal_tiled_canvas and get_image_size_fit_to_canvas)

    /// The grid whose canvas the image fits best.
    public func optimalGrid(width: Int, height: Int) -> MllamaAspectRatio {
        // Each canvas's scale is the smaller of its two axis scales, in f64 as numpy.
        let scales = supportedAspectRatios.map { ratio -> Double in
            let scaleHeight = Double(ratio.rows * imageSize) / Double(height)
            let scaleWidth = Double(ratio.columns * imageSize) / Double(width)
            return scaleWidth > scaleHeight ? scaleHeight : scaleWidth
        }
        let upscales = scales.filter { $0 >= 1 }
        let selected = upscales.isEmpty ? scales.max()! : upscales.min()!
        var best: MllamaAspectRatio?
        for (ratio, scale) in zip(supportedAspectRatios, scales) where scale == selected {
            // The first of the smallest area, as numpy's argmin.
            if best == nil || ratio.tiles < best!.tiles { best = ratio }
        }
        return best!
    }

    /// The aspect-preserving size inside the canvas: each target side is the image side clamped
    /// to [tile, canvas]; the tighter axis takes its target, the other is floored (at least 1).
    public func fittedSize(width: Int, height: Int, canvasWidth: Int, canvasHeight: Int) -> (width: Int, height: Int) {
        let targetWidth = min(max(width, imageSize), canvasWidth)
        let targetHeight = min(max(height, imageSize), canvasHeight)
        let scaleHeight = Double(targetHeight) / Double(height)
        let scaleWidth = Double(targetWidth) / Double(width)
        if scaleWidth < scaleHeight {
            let floored = Self.floorOrOne(Double(height) * scaleWidth)
            return (targetWidth, min(floored, targetHeight))
        } else {
            let floored = Self.floorOrOne(Double(width) * scaleHeight)
            return (min(floored, targetWidth), targetHeight)
        }
    }

    /// `math.floor(x) or 1`.
    private static func floorOrOne(_ x: Double) -> Int {
        let floored = x.rounded(.down)
        guard floored >= 1 else { return 1 }
        return floored < Double(Int.max) ? Int(floored) : Int.max
    }

    // MARK: Normalisation and tiles

    /// The canvas cut into tiles, normalised, planar per tile. Pixels beyond the resized image
    /// are zero bytes.
    func tiles(of image: RGBImage, grid: MllamaAspectRatio) -> [Float] {
        let side = imageSize, plane = side * side
        // HF: mean and std as f32 tensors times the f64 1/rescale_factor, rounded to f32.
        let scale = Float(1.0 / rescaleFactor)
        let shift = (0..<3).map { mean[$0] * scale }
        let divisor = (0..<3).map { std[$0] * scale }
        let padding = (0..<3).map { (0 - shift[$0]) / divisor[$0] }
        // Per channel, the 256 possible outputs: the same f32 subtraction and division.
        let table = (0..<3).map { c in (0..<256).map { (Float($0) - shift[c]) / divisor[c] } }
        var out = [Float](repeating: 0, count: grid.tiles * 3 * plane)
        image.pixels.withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { destination in
                for row in 0..<grid.rows {
                    for column in 0..<grid.columns {
                        let tile = (row * grid.columns + column) * 3 * plane
                        for y in 0..<side {
                            let imageY = row * side + y
                            for x in 0..<side {
                                let imageX = column * side + x, offset = tile + y * side + x
                                if imageY < image.height && imageX < image.width {
                                    let p = 3 * (imageY * image.width + imageX)
                                    for c in 0..<3 { destination[offset + c * plane] = table[c][Int(source[p + c])] }
                                } else {
                                    for c in 0..<3 { destination[offset + c * plane] = padding[c] }
                                }
                            }
                        }
                    }
                }
            }
        }
        return out
    }
}
