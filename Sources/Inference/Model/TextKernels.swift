import Foundation

/// The element-wise kernels of the text block, vectorised with SIMD16: RMSNorm, rope, softmax,
/// SiLU-gating and residual adds. Math names inside (`x`, `w`, `n`).
enum TextKernels {
    typealias Vector = SIMD16<Float>
    static let width = Vector.scalarCount

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>, _ i: Int) -> Vector {
        UnsafeRawPointer(p + i).loadUnaligned(as: Vector.self)
    }

    @inline(__always)
    static func store(_ v: Vector, _ p: UnsafeMutablePointer<Float>, _ i: Int) {
        UnsafeMutableRawPointer(p + i).storeBytes(of: v, as: Vector.self)
    }

    /// `y = x / sqrt(mean(x²) + eps) · w` over `n` elements. `y` may alias `x`.
    static func rmsNorm(_ x: UnsafePointer<Float>, weight w: UnsafePointer<Float>, epsilon: Float,
                        output y: UnsafeMutablePointer<Float>, count n: Int) {
        var sums = Vector()
        var i = 0
        while i + width <= n {
            let v = load(x, i)
            sums += v * v
            i += width
        }
        var sum = Double(sums.sum())
        while i < n {
            sum += Double(x[i] * x[i])
            i += 1
        }
        let scale = Float(1 / (sum / Double(n) + Double(epsilon)).squareRoot())
        i = 0
        while i + width <= n {
            store(load(x, i) * scale * load(w, i), y, i)
            i += width
        }
        while i < n {
            y[i] = x[i] * scale * w[i]
            i += 1
        }
    }

    /// `x[i] += y[i]`.
    static func add(_ y: UnsafePointer<Float>, into x: UnsafeMutablePointer<Float>, count n: Int) {
        var i = 0
        while i + width <= n {
            store(load(x, i) + load(y, i), x, i)
            i += width
        }
        while i < n {
            x[i] += y[i]
            i += 1
        }
    }

    /// `gate[i] = silu(gate[i]) · up[i]`, with `silu(g) = g / (1 + e^-g)`.
    static func siluMultiply(_ gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count n: Int) {
        var i = 0
        while i + width <= n {
            let g = load(gate, i)
            var e = Vector()
            for lane in 0..<width { e[lane] = expf(-g[lane]) }
            store(g / (1 + e) * load(up, i), gate, i)
            i += width
        }
        while i < n {
            gate[i] = gate[i] / (1 + expf(-gate[i])) * up[i]
            i += 1
        }
    }

    /// In place: `x = softmax(x)` over `n` elements, in f32 with the maximum subtracted.
    static func softmax(_ x: UnsafeMutablePointer<Float>, count n: Int) {
        var maxima = Vector(repeating: -.infinity)
        var i = 0
        while i + width <= n {
            maxima = pointwiseMax(maxima, load(x, i))
            i += width
        }
        var m = maxima.max()
        while i < n {
            m = max(m, x[i])
            i += 1
        }
        var sum: Float = 0
        for j in 0..<n {
            let e = expf(x[j] - m)
            x[j] = e
            sum += e
        }
        let inverse = 1 / sum
        i = 0
        while i + width <= n {
            store(load(x, i) * inverse, x, i)
            i += width
        }
        while i < n {
            x[i] *= inverse
            i += 1
        }
    }

    /// Rotates the first `2 · pairs` dimensions of one head `x` by the angles whose cosines
    /// and sines are `cos[pairs]`, `sin[pairs]`. The other dimensions are unchanged.
    static func rope(_ x: UnsafeMutablePointer<Float>, cos: UnsafePointer<Float>, sin: UnsafePointer<Float>,
                     pairs: Int, style: RopeStyle) {
        switch style {
        case .adjacentPairs:
            for i in 0..<pairs {
                let x0 = x[2 * i], x1 = x[2 * i + 1]
                x[2 * i] = x0 * cos[i] - x1 * sin[i]
                x[2 * i + 1] = x0 * sin[i] + x1 * cos[i]
            }
        case .halves:
            var i = 0
            let h = x + pairs
            while i + width <= pairs {
                let x0 = load(x, i), x1 = load(h, i), c = load(cos, i), s = load(sin, i)
                store(x0 * c - x1 * s, x, i)
                store(x0 * s + x1 * c, h, i)
                i += width
            }
            while i < pairs {
                let x0 = x[i], x1 = h[i]
                x[i] = x0 * cos[i] - x1 * sin[i]
                h[i] = x0 * sin[i] + x1 * cos[i]
                i += 1
            }
        }
    }

    /// The rope angles of `position`, as ggml computes them: θ₀ = position, θᵢ₊₁ = θᵢ · base^(−2/n_rot)
    /// in f32, each divided by its frequency factor and multiplied by the frequency scale.
    static func ropeAngles(position: Int, pairs: Int, base: Float, scale: Float, factors: [Float]?,
                           cos: UnsafeMutablePointer<Float>, sin: UnsafeMutablePointer<Float>) {
        let step = powf(base, -1 / Float(pairs))
        var theta = Float(position)
        for i in 0..<pairs {
            let angle = scale * (theta / (factors?[i] ?? 1))
            cos[i] = cosf(angle)
            sin[i] = sinf(angle)
            theta *= step
        }
    }
}
