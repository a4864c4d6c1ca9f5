extension Color {
    /// The colour as a terminal with `support` can show it: true colour kept, else the nearest
    /// xterm-256 or ANSI colour; nothing under `NO_COLOR`.
    public func adapted(to support: ColorSupport) -> Color {
        switch (support, self) {
        case (.none, _): return .terminal
        case (_, .terminal), (.trueColor, _): return self
        case (.xterm256, .rgb(let r, let g, let b)): return .indexed(Self.nearest256(r, g, b))
        case (.xterm256, _): return self
        case (.ansi16, .ansi): return self
        case (.ansi16, .indexed(let index)) where index < 16: return .ansi(index)
        case (.ansi16, .indexed(let index)):
            let (r, g, b) = Self.rgb(ofIndexed: index)
            return .ansi(Self.nearest16(r, g, b))
        case (.ansi16, .rgb(let r, let g, let b)): return .ansi(Self.nearest16(r, g, b))
        }
    }

    static let cube: [Int] = [0, 95, 135, 175, 215, 255]
    static let ansiRGB: [(Int, Int, Int)] = [
        (0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0), (0, 0, 238), (205, 0, 205), (0, 205, 205), (229, 229, 229),
        (127, 127, 127), (255, 0, 0), (0, 255, 0), (255, 255, 0), (92, 92, 255), (255, 0, 255), (0, 255, 255),
        (255, 255, 255),
    ]

    static func rgb(ofIndexed index: UInt8) -> (UInt8, UInt8, UInt8) {
        let i = Int(index)
        if i < 16 { let c = ansiRGB[i]; return (UInt8(c.0), UInt8(c.1), UInt8(c.2)) }
        if i >= 232 { let v = UInt8(8 + (i - 232) * 10); return (v, v, v) }
        let n = i - 16
        return (UInt8(cube[n / 36]), UInt8(cube[(n / 6) % 6]), UInt8(cube[n % 6]))
    }

    /// The nearest xterm-256 colour (the 6×6×6 cube or the grey ramp).
    static func nearest256(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> UInt8 {
        func level(_ v: UInt8) -> Int { v < 48 ? 0 : v < 115 ? 1 : (Int(v) - 35) / 40 }
        let (lr, lg, lb) = (level(r), level(g), level(b))
        let cubeIndex = 16 + 36 * lr + 6 * lg + lb
        let average = (Int(r) + Int(g) + Int(b)) / 3
        let grey = average > 238 ? 23 : max(0, (average - 3) / 10)
        let greyValue = 8 + grey * 10
        func distance(_ a: (Int, Int, Int)) -> Int {
            (a.0 - Int(r)) * (a.0 - Int(r)) + (a.1 - Int(g)) * (a.1 - Int(g)) + (a.2 - Int(b)) * (a.2 - Int(b))
        }
        let cubeDistance = distance((cube[lr], cube[lg], cube[lb]))
        let greyDistance = distance((greyValue, greyValue, greyValue))
        return UInt8(greyDistance < cubeDistance ? 232 + grey : cubeIndex)
    }

    static func nearest16(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> UInt8 {
        var best = 0, bestDistance = Int.max
        for (index, c) in ansiRGB.enumerated() {
            let d = (c.0 - Int(r)) * (c.0 - Int(r)) + (c.1 - Int(g)) * (c.1 - Int(g)) + (c.2 - Int(b)) * (c.2 - Int(b))
            if d < bestDistance { best = index; bestDistance = d }
        }
        return UInt8(best)
    }
}

extension PreviewImage {
    /// The image scaled into at most `columns × rows` cells of upper half blocks (`▀`: the
    /// top pixel is the foreground, the bottom one the background), aspect ratio kept (a cell
    /// is taken as two square pixels tall). Returns the rows of cells, each `width` wide.
    public func halfBlocks(columns: Int, rows: Int, colors: ColorSupport) -> [[Cell]] {
        guard width > 0, height > 0, columns > 0, rows > 0 else { return [] }
        let scale = min(Double(columns) / Double(width), Double(rows * 2) / Double(height))
        let outWidth = max(1, Int((Double(width) * scale).rounded()))
        let outHeight = max(2, Int((Double(height) * scale).rounded()))
        func pixel(_ x: Int, _ y: Int) -> Color {
            // Box average over the source pixels this output pixel covers.
            let x0 = x * width / outWidth, x1 = max(x0 + 1, (x + 1) * width / outWidth)
            let y0 = y * height / outHeight, y1 = max(y0 + 1, (y + 1) * height / outHeight)
            var sum = (0, 0, 0), count = 0
            for sy in y0..<min(y1, height) {
                for sx in x0..<min(x1, width) {
                    let i = 3 * (sy * width + sx)
                    sum.0 += Int(pixels[i]); sum.1 += Int(pixels[i + 1]); sum.2 += Int(pixels[i + 2]); count += 1
                }
            }
            count = max(1, count)
            return Color.rgb(UInt8(sum.0 / count), UInt8(sum.1 / count), UInt8(sum.2 / count)).adapted(to: colors)
        }
        var result: [[Cell]] = []
        for row in 0..<(outHeight + 1) / 2 {
            result.append((0..<outWidth).map { x in
                let top = pixel(x, 2 * row)
                let bottom = 2 * row + 1 < outHeight ? pixel(x, 2 * row + 1) : Color.terminal
                return Cell("▀", style: Style(foreground: top, background: bottom))
            })
        }
        return result
    }
}
