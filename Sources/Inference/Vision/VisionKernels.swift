import Foundation

/// Element-wise kernels of the ViT: LayerNorm and the feed-forward activations.
enum VisionKernels {
    typealias Vector = TextKernels.Vector

    /// `y = (x − mean) / sqrt(var + eps) · w + b` over `n` elements (two passes for the
    /// statistics). `y` may alias `x`.
    static func layerNorm(_ x: UnsafePointer<Float>, weight w: [Float], bias b: [Float]?, epsilon: Float,
                          output y: UnsafeMutablePointer<Float>, count n: Int) {
        let width = TextKernels.width
        var sums = Vector()
        var i = 0
        while i + width <= n {
            sums += TextKernels.load(x, i)
            i += width
        }
        var sum = Double(sums.sum())
        while i < n {
            sum += Double(x[i])
            i += 1
        }
        let mean = Float(sum / Double(n))
        var squares = Vector()
        i = 0
        while i + width <= n {
            let d = TextKernels.load(x, i) - mean
            squares += d * d
            i += width
        }
        var total = Double(squares.sum())
        while i < n {
            total += Double((x[i] - mean) * (x[i] - mean))
            i += 1
        }
        let scale = Float(1 / (total / Double(n) + Double(epsilon)).squareRoot())
        w.withUnsafeBufferPointer { wb in
            let w = wb.baseAddress!
            i = 0
            if let b {
                b.withUnsafeBufferPointer { bb in
                    while i + width <= n {
                        TextKernels.store((TextKernels.load(x, i) - mean) * scale * TextKernels.load(w, i)
                                          + TextKernels.load(bb.baseAddress!, i), y, i)
                        i += width
                    }
                    while i < n {
                        y[i] = (x[i] - mean) * scale * w[i] + bb[i]
                        i += 1
                    }
                }
            } else {
                while i + width <= n {
                    TextKernels.store((TextKernels.load(x, i) - mean) * scale * TextKernels.load(w, i), y, i)
                    i += width
                }
                while i < n {
                    y[i] = (x[i] - mean) * scale * w[i]
                    i += 1
                }
            }
        }
    }

    /// GELU, tanh form: `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`, with
    /// `tanh(u) = 1 − 2 / (e^{2u} + 1)` through the vector exp.
    static func gelu(_ x: UnsafeMutablePointer<Float>, count n: Int) {
        let c = Float((2 / Double.pi).squareRoot())
        var i = 0
        while i + TextKernels.width <= n {
            let v = TextKernels.load(x, i)
            let u = c * (v + 0.044715 * v * v * v)
            let t = 1 - 2 / (TextKernels.exp(2 * u) + 1)
            TextKernels.store(0.5 * v * (1 + t), x, i)
            i += TextKernels.width
        }
        while i < n {
            let v = x[i]
            x[i] = 0.5 * v * (1 + tanhf(c * (v + 0.044715 * v * v * v)))
            i += 1
        }
    }

    /// GELU, exact (erf) form: `0.5·x·(1 + erf(x/√2))`, as HF's `gelu` (LLaVA's projector).
    static func geluErf(_ x: UnsafeMutablePointer<Float>, count n: Int) {
        for i in 0..<n { x[i] = 0.5 * x[i] * (1 + erff(x[i] * 0.707_106_781_186_547_6)) }
    }

    /// `x·σ(1.702·x)`.
    static func geluQuick(_ x: UnsafeMutablePointer<Float>, count n: Int) {
        var i = 0
        while i + TextKernels.width <= n {
            let v = TextKernels.load(x, i)
            TextKernels.store(v / (1 + TextKernels.exp(-1.702 * v)), x, i)
            i += TextKernels.width
        }
        while i < n {
            x[i] = x[i] / (1 + expf(-1.702 * x[i]))
            i += 1
        }
    }

    /// `x·σ(x)`.
    static func silu(_ x: UnsafeMutablePointer<Float>, count n: Int) {
        for i in 0..<n { x[i] = x[i] / (1 + expf(-x[i])) }
    }

    static func activate(_ activation: VisionActivation, _ x: UnsafeMutablePointer<Float>, count n: Int) {
        switch activation {
        case .gelu: gelu(x, count: n)
        case .geluQuick: geluQuick(x, count: n)
        case .silu: silu(x, count: n)
        case .geluErf: geluErf(x, count: n)
        }
    }
}
