import CKernels
import Foundation
import Testing
@testable import Inference

@Suite("Text kernels")
struct TextKernelTests {
    @Test("the vector exp is within 2 ulp of expf over its range")
    func vectorExp() {
        var worst: Float = 0
        var x: Float = -87
        while x < 87.9 {
            var v = TextKernels.Vector()
            for lane in 0..<TextKernels.width { v[lane] = x + Float(lane) * 0.0037 }
            let e = TextKernels.exp(v)
            for lane in 0..<TextKernels.width {
                let reference = expf(v[lane])
                worst = max(worst, abs(e[lane] - reference) / reference.ulp)
            }
            x += 0.0613
        }
        #expect(worst <= 2, "worst error \(worst) ulp")
        // Clamped arguments stay finite and ordered.
        let edges = TextKernels.exp(TextKernels.Vector(repeating: -.infinity))
        #expect(edges[0] >= 0 && edges[0] < 1e-37)
        #expect(TextKernels.exp(TextKernels.Vector(repeating: 200))[0].isFinite)
    }

    @Test("softmax matches a double-precision reference and sums to one", arguments: [1, 15, 16, 17, 100, 2049])
    func softmax(count: Int) {
        var rng = SeededRandomNumberGenerator(seed: UInt64(count))
        var values = (0..<count).map { _ in Float.random(in: -30...30, using: &rng) }
        let maximum = Double(values.max()!)
        let exps = values.map { Foundation.exp(Double($0) - maximum) }
        let total = exps.reduce(0, +)
        values.withUnsafeMutableBufferPointer { TextKernels.softmax($0.baseAddress!, count: count) }
        for (value, e) in zip(values, exps) {
            #expect(abs(Double(value) - e / total) <= 1e-6 * max(1e-3, e / total) + 1e-12)
        }
        #expect(abs(values.reduce(0, +) - 1) < 1e-5)
    }

    @Test("vector GELU (tanh form) stays within 2e-6·(1+|x|) of the scalar formula")
    func gelu() {
        var values = (0..<1000).map { Float($0 - 500) * 0.021 }   // −10.5 … 10.5
        let reference = values.map { v in 0.5 * Double(v) * (1 + tanh(0.797_884_560_802_865_4 * Double(v + 0.044715 * v * v * v))) }
        values.withUnsafeMutableBufferPointer { VisionKernels.gelu($0.baseAddress!, count: $0.count) }
        for (i, (value, expected)) in zip(values, reference).enumerated() {
            #expect(abs(Double(value) - expected) <= 2e-6 * (1 + abs(expected)), "x = \(Float(i - 500) * 0.021)")
        }
    }

    @Test("LayerNorm matches a double-precision reference, with and without bias", arguments: [7, 16, 33, 768])
    func layerNorm(count: Int) {
        var rng = SeededRandomNumberGenerator(seed: UInt64(count))
        let x = (0..<count).map { _ in Float.random(in: -3...5, using: &rng) }
        let w = (0..<count).map { _ in Float.random(in: 0.5...1.5, using: &rng) }
        let b = (0..<count).map { _ in Float.random(in: -1...1, using: &rng) }
        let mean = x.reduce(0.0) { $0 + Double($1) } / Double(count)
        let variance = x.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(count)
        for bias in [b, nil] as [[Float]?] {
            var y = [Float](repeating: 0, count: count)
            x.withUnsafeBufferPointer { xb in
                y.withUnsafeMutableBufferPointer {
                    VisionKernels.layerNorm(xb.baseAddress!, weight: w, bias: bias, epsilon: 1e-6, output: $0.baseAddress!, count: count)
                }
            }
            for i in 0..<count {
                let expected = (Double(x[i]) - mean) / (variance + 1e-6).squareRoot() * Double(w[i]) + Double(bias?[i] ?? 0)
                #expect(abs(Double(y[i]) - expected) <= 1e-5 * (1 + abs(expected)))
            }
        }
    }

    @Test("rounding rows to f16 equals Swift's Float16 conversion")
    func roundRowToF16() {
        var rng = SeededRandomNumberGenerator(seed: 16)
        var values: [Float] = [0, -0, 1, -1, 65504, 65519, 65520, -65520, 1e-8, 5.96e-8, 2.98e-8, 6.1e-5, .infinity, -.infinity]
        values += (0..<997).map { _ in Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &rng)) }.filter { !$0.isNaN }
        values += (0..<500).map { _ in Float.random(in: -70000...70000, using: &rng) }
        let expected = values.map { Float(Float16($0)) }
        // The CPU level is not capped here: tests run in parallel and the cap is global.
        var rounded = [Float](repeating: .nan, count: values.count)
        values.withUnsafeBufferPointer { x in
            rounded.withUnsafeMutableBufferPointer { ck_round_row_f16(x.baseAddress!, $0.baseAddress!, Int64(values.count)) }
        }
        for (got, want) in zip(rounded, expected) {
            #expect(got.bitPattern == want.bitPattern, "\(got) vs \(want)")
        }
    }
}
