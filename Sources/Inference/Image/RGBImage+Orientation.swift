extension RGBImage {
    /// The image as it should be displayed when its EXIF orientation tag is `orientation`:
    /// flipped and/or rotated so that the result is upright. Orientations 5–8 swap width and
    /// height. Values outside 1...8 are treated as 1 (nothing to do).
    ///
    /// | tag | stored image is          | to display          |
    /// |-----|--------------------------|---------------------|
    /// | 1   | upright                  | nothing             |
    /// | 2   | mirrored                 | flip left–right     |
    /// | 3   | upside down              | rotate 180°         |
    /// | 4   | mirrored upside down     | flip top–bottom     |
    /// | 5   | mirrored, rotated        | transpose           |
    /// | 6   | rotated 90° anticlockwise| rotate 90° clockwise|
    /// | 7   | mirrored, rotated        | transverse          |
    /// | 8   | rotated 90° clockwise    | rotate 90° anticlockwise |
    public func applyingEXIFOrientation(_ orientation: Int) -> RGBImage {
        guard (2...8).contains(orientation), width > 0, height > 0 else { return self }
        let (W, H) = (width, height)
        let swapsAxes = orientation >= 5
        let outWidth = swapsAxes ? H : W
        let outHeight = swapsAxes ? W : H
        // For each output pixel (u, v), the source pixel (x, y) is x = x0 + u·xu + v·xv and
        // y = y0 + u·yu + v·yv.
        let (x0, xu, xv, y0, yu, yv): (Int, Int, Int, Int, Int, Int)
        switch orientation {
        case 2: (x0, xu, xv, y0, yu, yv) = (W - 1, -1, 0, 0, 0, 1)
        case 3: (x0, xu, xv, y0, yu, yv) = (W - 1, -1, 0, H - 1, 0, -1)
        case 4: (x0, xu, xv, y0, yu, yv) = (0, 1, 0, H - 1, 0, -1)
        case 5: (x0, xu, xv, y0, yu, yv) = (0, 0, 1, 0, 1, 0)
        case 6: (x0, xu, xv, y0, yu, yv) = (0, 0, 1, H - 1, -1, 0)
        case 7: (x0, xu, xv, y0, yu, yv) = (W - 1, 0, -1, H - 1, -1, 0)
        default: (x0, xu, xv, y0, yu, yv) = (W - 1, 0, -1, 0, 1, 0)  // 8
        }
        // Source offset in bytes, and its steps per output column and per output row.
        let start = 3 * (y0 * W + x0)
        let stepU = 3 * (yu * W + xu)
        let stepV = 3 * (yv * W + xv)
        var output = [UInt8](repeating: 0, count: pixels.count)
        pixels.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { target in
                var out = 0
                for v in 0..<outHeight {
                    var from = start + v * stepV
                    for _ in 0..<outWidth {
                        target[out] = source[from]
                        target[out + 1] = source[from + 1]
                        target[out + 2] = source[from + 2]
                        out += 3
                        from += stepU
                    }
                }
            }
        }
        return RGBImage(width: outWidth, height: outHeight, pixels: output)
    }
}
