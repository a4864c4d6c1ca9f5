import Foundation

/// Vectorised reductions over a row of logits (a whole vocabulary, up to ~256k floats):
/// maximum, log-sum-exp, and an `exp` accurate to a few ulp that the compiler keeps in SIMD
/// registers (`Foundation.exp` is one scalar call per element).
enum LogitMath {
    typealias Vector = SIMD16<Float>

    /// The largest value, ignoring NaN; `-infinity` for an empty row.
    static func maximum(_ x: UnsafeBufferPointer<Float>) -> Float {
        let n = x.count
        var best = Vector(repeating: -.infinity)
        var i = 0
        while i + Vector.scalarCount <= n {
            let v = load(x, i)
            best.replace(with: v, where: v .> best)
            i += Vector.scalarCount
        }
        var result = best.max()
        while i < n {
            if x[i] > result { result = x[i] }
            i += 1
        }
        return result
    }

    /// `log Σ exp(x[i])`, computed as `m + log Σ exp(x[i] − m)` with `m` the maximum.
    static func logSumExp(_ x: UnsafeBufferPointer<Float>, maximum m: Float) -> Float {
        guard m.isFinite else { return m }
        let n = x.count
        var sums = Vector.zero
        let shift = Vector(repeating: m)
        var i = 0
        while i + Vector.scalarCount <= n {
            sums += exponential(load(x, i) - shift)
            i += Vector.scalarCount
        }
        var total = Double(sums.sum())
        while i < n {
            total += Double(Foundation.exp(x[i] - m))
            i += 1
        }
        return m + Float(Foundation.log(total))
    }

    @inline(__always)
    static func load(_ x: UnsafeBufferPointer<Float>, _ index: Int) -> Vector {
        UnsafeRawPointer(x.baseAddress! + index).loadUnaligned(as: Vector.self)
    }

    /// `exp(x)` lane by lane: range reduction to `x = k·ln2 + r`, |r| ≤ ln2/2, a degree-6
    /// polynomial for `exp(r)` (Cephes' expf coefficients), then `2^k` through the exponent bits.
    /// Below −87.3 the result is 0 (so `exp(−∞) = 0`); NaN lanes give NaN.
    @inline(__always)
    static func exponential(_ x: Vector) -> Vector {
        var clamped = x
        clamped.replace(with: 88.3, where: x .> 88.3)
        clamped.replace(with: -87.3, where: x .< -87.3)
        // k = round(x·log2 e): adding 1.5·2^23 rounds to an integer held in the low mantissa
        // bits (the generic Float → Int32 SIMD conversion is not vectorised).
        let magic = Vector(repeating: 12_582_912)
        let shifted = clamped * 1.442_695_04 + magic
        let k = shifted - magic
        let kInt = unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- 0x4B40_0000
        let r = clamped - k * 0.693_359_375 + k * 2.121_944_4e-4
        var p = Vector(repeating: 1.987_569_15e-4)
        p = p * r + 1.398_199_95e-3
        p = p * r + 8.333_451_9e-3
        p = p * r + 4.166_579_6e-2
        p = p * r + 1.666_666_55e-1
        p = p * r + 5.000_000_1e-1
        p = p * (r * r) + r + 1
        let scale = unsafeBitCast((kInt &+ 127) &<< 23, to: Vector.self)
        var result = p * scale
        result.replace(with: 0, where: x .< -87.3)
        return result
    }

    /// `Σ weights[i]` over the `i` with `keys[i] ≥ threshold`, in double precision.
    static func sum(_ weights: UnsafeBufferPointer<Float>, where keys: UnsafeBufferPointer<Float>,
                    atLeast threshold: Float) -> Double {
        let n = keys.count
        let bar = Vector(repeating: threshold)
        var sums = Vector.zero
        var i = 0
        while i + Vector.scalarCount <= n {
            var w = load(weights, i)
            w.replace(with: 0, where: load(keys, i) .< bar)
            sums += w
            i += Vector.scalarCount
        }
        var total = Double(sums.sum())
        while i < n {
            if keys[i] >= threshold { total += Double(weights[i]) }
            i += 1
        }
        return total
    }

    /// `exp(x[i] − shift)` written to `output`, returning the sum (in double precision).
    static func exponentials(_ x: UnsafeBufferPointer<Float>, minus shift: Float,
                             into output: UnsafeMutableBufferPointer<Float>) -> Double {
        let n = x.count
        let s = Vector(repeating: shift)
        var sums = Vector.zero
        var i = 0
        while i + Vector.scalarCount <= n {
            let e = exponential(load(x, i) - s)
            UnsafeMutableRawPointer(output.baseAddress! + i).storeBytes(of: e, as: Vector.self)
            sums += e
            i += Vector.scalarCount
        }
        var total = Double(sums.sum())
        while i < n {
            let e = Foundation.exp(x[i] - shift)
            output[i] = e
            total += Double(e)
            i += 1
        }
        return total
    }
}
