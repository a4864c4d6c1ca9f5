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

    /// e^x per lane, within 2 ulp of `expf` for x in [−87.3, 88]; arguments outside are
    /// clamped to that range (so e^−∞ is about 1e−38, not 0). Cody–Waite reduction
    /// x = n·ln 2 + r, |r| ≤ ln 2 / 2, a polynomial for e^r, and 2^n from the exponent bits.
    @inline(__always)
    static func exp(_ v: Vector) -> Vector {
        // Compare-and-blend rather than `clamped`, whose NaN rules keep it out of SIMD.
        let low = Vector(repeating: -87.3), high = Vector(repeating: 88)
        let x = v.replacing(with: low, where: .!(v .>= low)).replacing(with: high, where: v .> high)
        // Adding 1.5·2²³ rounds x·log₂e to the nearest integer n (ties to even) and leaves
        // n in the low mantissa bits, without a rounding instruction the baseline lacks.
        let shifted = x * 1.442_695_04 + 12_582_912
        let n = shifted - 12_582_912
        let r = x - n * 0.693_359_375 + n * 2.121_944_4e-4
        var p = Vector(repeating: 1.987_569_15e-4)
        p = p * r + 1.398_199_950_7e-3
        p = p * r + 8.333_451_907_3e-3
        p = p * r + 4.166_579_589_4e-2
        p = p * r + 1.666_666_545_9e-1
        p = p * r + 5.000_000_120_1e-1
        p = p * (r * r) + r + 1
        // 2ⁿ: the biased exponent n + 127 moved into the exponent field.
        let biased = unsafeBitCast(shifted, to: SIMD16<UInt32>.self) &- (0x4B40_0000 - 127)
        return p * unsafeBitCast(biased &<< 23, to: Vector.self)
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
            store(g / (1 + exp(-g)) * load(up, i), gate, i)
            i += width
        }
        while i < n {
            gate[i] = gate[i] / (1 + expf(-gate[i])) * up[i]
            i += 1
        }
    }

    /// `gate[i] = gelu(gate[i]) · up[i]`, GELU in its tanh form (`gelu_pytorch_tanh`).
    static func geluMultiply(_ gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count n: Int) {
        VisionKernels.gelu(gate, count: n)
        var i = 0
        while i + width <= n {
            store(load(gate, i) * load(up, i), gate, i)
            i += width
        }
        while i < n {
            gate[i] *= up[i]
            i += 1
        }
    }

    /// `x[i] *= a`.
    static func scale(_ x: UnsafeMutablePointer<Float>, by a: Float, count n: Int) {
        var i = 0
        while i + width <= n {
            store(load(x, i) * a, x, i)
            i += width
        }
        while i < n {
            x[i] *= a
            i += 1
        }
    }

    /// In place: `x = softmax(x)` over `n` elements, in f32 with the maximum subtracted.
    static func softmax(_ x: UnsafeMutablePointer<Float>, count n: Int) {
        var maxima = Vector(repeating: -.infinity)
        var i = 0
        while i + width <= n {
            let v = load(x, i)
            maxima.replace(with: v, where: v .> maxima)
            i += width
        }
        var m = maxima.max()
        while i < n {
            m = max(m, x[i])
            i += 1
        }
        var sums = Vector()
        let vm = Vector(repeating: m)
        i = 0
        while i + width <= n {
            let e = exp(load(x, i) - vm)
            store(e, x, i)
            sums += e
            i += width
        }
        var sum = sums.sum()
        while i < n {
            let e = expf(x[i] - m)
            x[i] = e
            sum += e
            i += 1
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
    /// M-RoPE angles: pair i rotates by the component of `positions` (t, h, w) its section
    /// gives (`sections` [s₀, s₁, s₂]: the first s₀ pairs by t, the next s₁ by h, the next s₂ by
    /// w; pairs past them by t), at frequency base^(−i/pairs).
    /// Interleaved (qwen3vl): pair i by h when i % 3 = 1 and i < 3·s₁, by w when i % 3 = 2 and
    /// i < 3·s₂, else by t.
    static func mropeAngles(positions: (Int, Int, Int), sections: [Int], interleaved: Bool = false, pairs: Int,
                            base: Float, scale: Float, cos: UnsafeMutablePointer<Float>, sin: UnsafeMutablePointer<Float>) {
        let step = powf(base, -1 / Float(pairs))
        var frequency: Float = 1
        let hStart = sections[0], wStart = sections[0] + sections[1], wEnd = wStart + sections[2]
        for i in 0..<pairs {
            let position: Int
            if interleaved {
                position = i % 3 == 1 && i < 3 * sections[1] ? positions.1
                    : (i % 3 == 2 && i < 3 * sections[2] ? positions.2 : positions.0)
            } else {
                position = i >= hStart && i < wStart ? positions.1 : (i >= wStart && i < wEnd ? positions.2 : positions.0)
            }
            let angle = scale * Float(position) * frequency
            cos[i] = cosf(angle)
            sin[i] = sinf(angle)
            frequency *= step
        }
    }

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
