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
}
