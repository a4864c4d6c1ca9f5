import Foundation

/// Element-wise kernels of the ViT: LayerNorm and the feed-forward activations.
enum VisionKernels {
    typealias Vector = TextKernels.Vector

    /// `y = (x − mean) / sqrt(var + eps) · w + b` over `n` elements, statistics in double.
    static func layerNorm(_ x: UnsafePointer<Float>, weight w: [Float], bias b: [Float]?, epsilon: Float,
                          output y: UnsafeMutablePointer<Float>, count n: Int) {
        var sum = 0.0
        for i in 0..<n { sum += Double(x[i]) }
        let mean = sum / Double(n)
        var squares = 0.0
        for i in 0..<n {
            let d = Double(x[i]) - mean
            squares += d * d
        }
        let scale = Float(1 / (squares / Double(n) + Double(epsilon)).squareRoot())
        let m = Float(mean)
        for i in 0..<n { y[i] = (x[i] - m) * scale * w[i] + (b?[i] ?? 0) }
    }

    /// GELU, tanh form: `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`.
    static func gelu(_ x: UnsafeMutablePointer<Float>, count n: Int) {
        let c = Float((2 / Double.pi).squareRoot())
        for i in 0..<n {
            let v = x[i]
            x[i] = 0.5 * v * (1 + tanhf(c * (v + 0.044715 * v * v * v)))
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
        }
    }
}
