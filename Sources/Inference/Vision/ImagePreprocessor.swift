import Foundation

/// One square input of the vision encoder: normalised, planar f32 `[3 × S × S]` (all R, then
/// all G, then all B), with where it sits in the image.
public struct ImageTile: Sendable {
    public enum Kind: Sendable, Equatable {
        /// The whole image, letterboxed (projectors without tiling).
        case single
        /// Tile at `row`, `column` (0-based) of the resized image.
        case grid(row: Int, column: Int)
        /// The whole image resized to one tile, after the grid.
        case overview
    }

    public let kind: Kind
    public let pixels: [Float]
}

/// Resampling filters, as Pillow (and llama.cpp after it) implements them.
public enum ResizeFilter: Sendable {
    case bilinear, bicubic, lanczos

    var support: Double {
        switch self {
        case .bilinear: 1
        case .bicubic: 2
        case .lanczos: 3
        }
    }

    func weight(_ x: Double) -> Double {
        switch self {
        case .lanczos:
            guard -3 <= x && x < 3 else { return 0 }
            func sinc(_ v: Double) -> Double { v == 0 ? 1 : sin(v * .pi) / (v * .pi) }
            return sinc(x) * sinc(x / 3)
        case .bilinear:
            let a = abs(x)
            return a < 1 ? 1 - a : 0
        case .bicubic:
            // Keys' cubic with a = −0.5, as Pillow.
            let a = -0.5, t = abs(x)
            if t < 1 { return ((a + 2) * t - (a + 3)) * t * t + 1 }
            if t < 2 { return (((t - 5) * t + 8) * t - 4) * a }
            return 0
        }
    }
}

/// Prepares images for the encoder exactly as llama.cpp's mtmd does for each projector type:
/// `mlp` letterboxes to one square (bicubic, pad colour 122 116 104); `idefics3` resizes the
/// long side to `preproc_image_size` (Lanczos-3), stretches to whole tiles, cuts them row by
/// row and adds an overview of the whole image resized to one tile.
public struct ImagePreprocessor: Sendable {
    public let configuration: VisionConfiguration

    public init(configuration: VisionConfiguration) {
        self.configuration = configuration
    }

    /// The pad colour of letterboxed images.
    public static let llavaPadColour: (UInt8, UInt8, UInt8) = (122, 116, 104)

    /// The encoder inputs of `image`, in prompt order.
    public func tiles(of image: RGBImage) -> [ImageTile] {
        resizedTiles(of: image).map { ImageTile(kind: $0.kind, pixels: normalize($0.image)) }
    }

    /// The tiles as 8-bit RGB, before normalisation, in prompt order.
    public func resizedTiles(of image: RGBImage) -> [(kind: ImageTile.Kind, image: RGBImage)] {
        let size = configuration.imageSize
        switch configuration.projectorType {
        case .mlp:
            return [(.single, Self.letterbox(image, side: size, filter: .bicubic, padColour: Self.llavaPadColour))]
        case .gemma3:
            // Stretched to the square, as Gemma3ImageProcessor resizes (no pan-and-scan).
            return [(.single, Self.resize(image, width: size, height: size, filter: .bilinear, order: .pillow))]
        case .idefics3:
            // The configuration guarantees the key for idefics3.
            let longest = configuration.preprocessImageSize ?? size
            let (w, h) = (image.width, image.height)
            let aspect = Double(w) / Double(h)
            var resizedWidth: Int, resizedHeight: Int
            if w >= h {
                resizedWidth = longest
                resizedHeight = Int(Double(longest) / aspect)
                resizedHeight += resizedHeight % 2
            } else {
                resizedHeight = longest
                resizedWidth = Int(Double(longest) * aspect)
                resizedWidth += resizedWidth % 2
            }
            resizedWidth = max(1, resizedWidth)
            resizedHeight = max(1, resizedHeight)
            let columns = (resizedWidth + size - 1) / size, rows = (resizedHeight + size - 1) / size
            let resized = Self.resize(image, width: resizedWidth, height: resizedHeight, filter: .lanczos)
            let refined = Self.resize(resized, width: columns * size, height: rows * size, filter: .lanczos)
            var tiles: [(kind: ImageTile.Kind, image: RGBImage)] = []
            for row in 0..<rows {
                for column in 0..<columns {
                    tiles.append((.grid(row: row, column: column),
                                  Self.crop(refined, x: column * size, y: row * size, width: size, height: size)))
                }
            }
            tiles.append((.overview, Self.resize(refined, width: size, height: size, filter: .lanczos)))
            return tiles
        }
    }

    /// `(u8 / 255 − mean[c]) / std[c]` in f32, planar.
    public func normalize(_ image: RGBImage) -> [Float] {
        let plane = image.width * image.height
        var out = [Float](repeating: 0, count: 3 * plane)
        let mean = configuration.imageMean, std = configuration.imageStd
        image.pixels.withUnsafeBufferPointer { p in
            for i in 0..<plane {
                for c in 0..<3 {
                    out[c * plane + i] = (Float(p[3 * i + c]) / 255 - mean[c]) / std[c]
                }
            }
        }
        return out
    }

    // MARK: Geometry

    /// Fits `image` inside a `side`² square (the larger scale that fits, sides rounded up),
    /// resizes it and centres it on `padColour`. A square image of that size is unchanged.
    public static func letterbox(_ image: RGBImage, side: Int, filter: ResizeFilter,
                                 padColour: (UInt8, UInt8, UInt8)) -> RGBImage {
        if image.width == side && image.height == side { return image }
        // f32 arithmetic, as llama.cpp computes it.
        let scale = min(Float(side) / Float(image.width), Float(side) / Float(image.height))
        let width = min(Int((Float(image.width) * scale).rounded(.up)), side)
        let height = min(Int((Float(image.height) * scale).rounded(.up)), side)
        let resized = resize(image, width: max(1, width), height: max(1, height), filter: filter)
        var pixels = [UInt8](repeating: 0, count: 3 * side * side)
        for i in 0..<(side * side) {
            pixels[3 * i] = padColour.0
            pixels[3 * i + 1] = padColour.1
            pixels[3 * i + 2] = padColour.2
        }
        let x0 = (side - resized.width) / 2, y0 = (side - resized.height) / 2
        for y in 0..<resized.height {
            let source = 3 * y * resized.width, destination = 3 * ((y + y0) * side + x0)
            for i in 0..<(3 * resized.width) { pixels[destination + i] = resized.pixels[source + i] }
        }
        return RGBImage(width: side, height: side, pixels: pixels)
    }

    public static func crop(_ image: RGBImage, x: Int, y: Int, width: Int, height: Int) -> RGBImage {
        var pixels = [UInt8](repeating: 0, count: 3 * width * height)
        for row in 0..<height {
            let source = 3 * ((y + row) * image.width + x)
            for i in 0..<(3 * width) { pixels[3 * row * width + i] = image.pixels[source + i] }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    // MARK: Resampling

    /// The order of the two passes of a resize that changes both sides.
    public enum PassOrder: Sendable {
        /// Always horizontal first, as llama.cpp's port of Pillow does.
        case horizontalFirst
        /// As Pillow itself (checked on 13.0): the pass that leaves the smaller intermediate
        /// image first, vertical first when `width₀ · height < width · height₀`. This is what
        /// HF's Pillow-backed processors (Gemma 3's) feed their models.
        case pillow
    }

    /// Pillow's separable resampling: one pass per axis that changes, each with normalised
    /// filter weights in 22-bit fixed point and 8-bit results between the passes.
    public static func resize(_ image: RGBImage, width: Int, height: Int, filter: ResizeFilter,
                              order: PassOrder = .horizontalFirst) -> RGBImage {
        if width == image.width && height == image.height { return image }
        if order == .pillow, width != image.width, height != image.height, image.width * height < width * image.height {
            return horizontal(vertical(image, to: height, filter: filter), to: width, filter: filter)
        }
        var current = image
        if width != image.width {
            current = horizontal(current, to: width, filter: filter)
        }
        if height != image.height {
            current = vertical(current, to: height, filter: filter)
        }
        return current
    }

    private static let precisionBits = 22

    /// For each output pixel: the first input pixel, how many, and their fixed-point weights.
    private static func coefficients(input: Int, output: Int, filter: ResizeFilter)
        -> (bounds: [(start: Int, count: Int)], weights: [Int32], kernelSize: Int) {
        let scale = Double(input) / Double(output)
        let filterScale = max(scale, 1)
        let support = filter.support * filterScale
        let kernelSize = Int(support.rounded(.up)) * 2 + 1
        var bounds: [(start: Int, count: Int)] = []
        bounds.reserveCapacity(output)
        var weights = [Int32](repeating: 0, count: output * kernelSize)
        var row = [Double](repeating: 0, count: kernelSize)
        // Multiplying by the reciprocal (not dividing) rounds as Pillow does.
        let inverseScale = 1 / filterScale
        let fixedOne = Double(1 << precisionBits)
        for out in 0..<output {
            let center = (Double(out) + 0.5) * scale
            let start = max(0, Int(center - support + 0.5))
            let end = min(input, Int(center + support + 0.5))
            let count = end - start
            var total = 0.0
            for i in 0..<count {
                let w = filter.weight((Double(i + start) - center + 0.5) * inverseScale)
                row[i] = w
                total += w
            }
            for i in 0..<kernelSize {
                let w = i < count && total != 0 ? row[i] / total : (i < count ? row[i] : 0)
                // Round half away from zero, then truncate, as Pillow does.
                weights[out * kernelSize + i] = Int32(w * fixedOne + (w < 0 ? -0.5 : 0.5))
            }
            bounds.append((start, count))
        }
        return (bounds, weights, kernelSize)
    }

    @inline(__always)
    private static func clip8(_ value: Int32) -> UInt8 {
        let shifted = value >> Int32(precisionBits)
        return UInt8(clamping: shifted)
    }

    private static func horizontal(_ image: RGBImage, to width: Int, filter: ResizeFilter) -> RGBImage {
        let (bounds, weights, kernel) = coefficients(input: image.width, output: width, filter: filter)
        var out = [UInt8](repeating: 0, count: 3 * width * image.height)
        let half = Int32(1) << Int32(precisionBits - 1)
        image.pixels.withUnsafeBufferPointer { source in
            for y in 0..<image.height {
                let row = 3 * y * image.width
                for x in 0..<width {
                    let (start, count) = bounds[x]
                    var r = half, g = half, b = half
                    for i in 0..<count {
                        let k = weights[x * kernel + i], p = row + 3 * (start + i)
                        r &+= Int32(source[p]) &* k
                        g &+= Int32(source[p + 1]) &* k
                        b &+= Int32(source[p + 2]) &* k
                    }
                    let o = 3 * (y * width + x)
                    out[o] = clip8(r)
                    out[o + 1] = clip8(g)
                    out[o + 2] = clip8(b)
                }
            }
        }
        return RGBImage(width: width, height: image.height, pixels: out)
    }

    private static func vertical(_ image: RGBImage, to height: Int, filter: ResizeFilter) -> RGBImage {
        let (bounds, weights, kernel) = coefficients(input: image.height, output: height, filter: filter)
        let rowLength = 3 * image.width
        var out = [UInt8](repeating: 0, count: rowLength * height)
        var accumulator = [Int32](repeating: 0, count: rowLength)
        let half = Int32(1) << Int32(precisionBits - 1)
        image.pixels.withUnsafeBufferPointer { source in
            for y in 0..<height {
                let (start, count) = bounds[y]
                for i in 0..<rowLength { accumulator[i] = half }
                for j in 0..<count {
                    let k = weights[y * kernel + j], row = (start + j) * rowLength
                    for i in 0..<rowLength { accumulator[i] &+= Int32(source[row + i]) &* k }
                }
                for i in 0..<rowLength { out[y * rowLength + i] = clip8(accumulator[i]) }
            }
        }
        return RGBImage(width: image.width, height: height, pixels: out)
    }
}
