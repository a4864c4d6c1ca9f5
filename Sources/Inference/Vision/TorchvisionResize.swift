import Foundation

/// Resampling as torchvision's `resize(antialias=True)` runs it on a uint8 tensor on the CPU
/// (torch's native uint8 path, taken on x86 with AVX2 or AVX-512 and on ARM): what HF's
/// torchvision-backed image processors (`MllamaImageProcessor`, …) feed their models.
///
/// It looks like Pillow's algorithm (separable, horizontal pass first, 8-bit between the
/// passes, an axis whose size does not change is skipped) but rounds differently: each axis's
/// weights are normalised in f64 and then stored as int16 at the largest precision (≤ 22 bits)
/// at which the axis's largest weight still fits, where Pillow always uses 22 bits in int32.
/// Results differ from Pillow by one level at some pixels.
public enum TorchvisionResize {
    /// Bilinear with antialiasing (the triangle filter stretched by the downscale factor).
    public static func bilinear(_ image: RGBImage, width: Int, height: Int) -> RGBImage {
        resize(image, width: width, height: height, filter: .bilinear)
    }

    /// Bicubic with antialiasing: Keys' cubic with a = −0.5 (torch's `aa_filter` for bicubic,
    /// not the −0.75 of its non-antialiased path), stretched by the downscale factor. Negative
    /// lobes can overshoot; each pass clamps to a byte.
    public static func bicubic(_ image: RGBImage, width: Int, height: Int) -> RGBImage {
        resize(image, width: width, height: height, filter: .bicubic)
    }

    /// The antialiasing filters of torch's separable uint8 path.
    enum Filter {
        case bilinear, bicubic

        /// Taps of the unstretched filter (torch's `interp_size`).
        var size: Int { self == .bilinear ? 2 : 4 }

        func weight(_ x: Double) -> Double {
            let x = abs(x)
            switch self {
            case .bilinear:
                return x < 1 ? 1 - x : 0
            case .bicubic:
                let a = -0.5
                if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
                if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
                return 0
            }
        }
    }

    static func resize(_ image: RGBImage, width: Int, height: Int, filter: Filter) -> RGBImage {
        precondition(width > 0 && height > 0, "resize to \(width) × \(height)")
        if width == image.width && height == image.height { return image }
        var current = image
        if width != current.width {
            current = horizontal(current, to: width, filter: filter)
        }
        if height != current.height {
            current = vertical(current, to: height, filter: filter)
        }
        return current
    }

    /// One axis's taps: per output sample the first input sample and how many, their int16
    /// weights (`kernelSize` per output) and the fixed-point precision.
    struct Taps {
        var starts: [Int] = []
        var counts: [Int] = []
        var weights: [Int32] = []
        var kernelSize = 0
        var precision = 0
    }

    /// torch's `_compute_index_ranges_weights` (antialias, align_corners false, no scale factor)
    /// with the filter's `aa_filter`, then `_compute_index_ranges_int16_weights`.
    static func taps(input: Int, output: Int, filter: Filter = .bilinear) -> Taps {
        let scale = Double(input) / Double(output)
        let half = Double(filter.size) * 0.5
        let support = scale >= 1 ? half * scale : half  // interp_size · 0.5, stretched
        let kernelSize = Int(support.rounded(.up)) * 2 + 1
        let inverseScale = scale >= 1 ? 1 / scale : 1
        var taps = Taps()
        taps.kernelSize = kernelSize
        taps.starts.reserveCapacity(output)
        taps.counts.reserveCapacity(output)
        var real = [Double](repeating: 0, count: output * kernelSize)
        var largest = 0.0
        for i in 0..<output {
            let center = scale * (Double(i) + 0.5)
            // C++ casts truncate toward zero.
            let start = max(Int(center - support + 0.5), 0)
            let count = min(max(min(Int(center + support + 0.5), input) - start, 0), kernelSize)
            var total = 0.0
            for j in 0..<count {
                let w = filter.weight((Double(j + start) - center + 0.5) * inverseScale)
                real[i * kernelSize + j] = w
                total += w
            }
            if total != 0 {
                for j in 0..<count {
                    real[i * kernelSize + j] /= total
                    largest = max(largest, real[i * kernelSize + j])
                }
            }
            taps.starts.append(start)
            taps.counts.append(count)
        }
        var precision = 0
        while precision < 22 {
            if Int(0.5 + largest * Double(1 << (precision + 1))) >= 1 << 15 { break }
            precision += 1
        }
        taps.precision = precision
        let one = Double(1 << precision)
        taps.weights = real.map { w in
            let v = w * one
            return Int32(v < 0 ? (-0.5 + v).rounded(.towardZero) : (0.5 + v).rounded(.towardZero))
        }
        return taps
    }

    /// `(half + Σ pixel·weight) >> precision`, clamped to a byte (`basic_loop_aa_*<uint8_t>`).
    @inline(__always)
    private static func byte(_ sum: Int, _ precision: Int) -> UInt8 {
        UInt8(clamping: sum >> precision)
    }

    private static func horizontal(_ image: RGBImage, to width: Int, filter: Filter) -> RGBImage {
        let taps = taps(input: image.width, output: width, filter: filter)
        let half = taps.precision > 0 ? 1 << (taps.precision - 1) : 0
        var out = [UInt8](repeating: 0, count: 3 * width * image.height)
        image.pixels.withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { destination in
                for y in 0..<image.height {
                    let row = 3 * y * image.width
                    for x in 0..<width {
                        let start = taps.starts[x], base = x * taps.kernelSize
                        var r = half, g = half, b = half
                        for j in 0..<taps.counts[x] {
                            let k = Int(taps.weights[base + j]), p = row + 3 * (start + j)
                            r += Int(source[p]) * k
                            g += Int(source[p + 1]) * k
                            b += Int(source[p + 2]) * k
                        }
                        let o = 3 * (y * width + x)
                        destination[o] = byte(r, taps.precision)
                        destination[o + 1] = byte(g, taps.precision)
                        destination[o + 2] = byte(b, taps.precision)
                    }
                }
            }
        }
        return RGBImage(width: width, height: image.height, pixels: out)
    }

    private static func vertical(_ image: RGBImage, to height: Int, filter: Filter) -> RGBImage {
        let taps = taps(input: image.height, output: height, filter: filter)
        let half = taps.precision > 0 ? 1 << (taps.precision - 1) : 0
        let rowLength = 3 * image.width
        var out = [UInt8](repeating: 0, count: rowLength * height)
        var accumulator = [Int](repeating: 0, count: rowLength)
        image.pixels.withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { destination in
                for y in 0..<height {
                    for i in 0..<rowLength { accumulator[i] = half }
                    let base = y * taps.kernelSize
                    for j in 0..<taps.counts[y] {
                        let k = Int(taps.weights[base + j]), row = (taps.starts[y] + j) * rowLength
                        for i in 0..<rowLength { accumulator[i] += Int(source[row + i]) * k }
                    }
                    for i in 0..<rowLength { destination[y * rowLength + i] = byte(accumulator[i], taps.precision) }
                }
            }
        }
        return RGBImage(width: image.width, height: height, pixels: out)
    }
}
