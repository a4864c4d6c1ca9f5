/// The scale searches of llama.cpp's k-quant reference quantizers (ggml-quants.c), in the same
/// float order: `make_qkx2_quants` (asymmetric, scale and min, for Q4_K and Q5_K) and
/// `make_qx_quants` with `rmse_type = 1` and no importance weights (symmetric, for Q6_K).
///
/// Comparisons are written as the C source writes them (`a < b`, `a > b ? a : b`), never
/// with `Swift.min`/`max`, so NaNs and ties take the same branch.
enum KQuantSearch {
    typealias Arithmetic = QuantizerArithmetic

    /// Fits `x[i] ≈ scale · L[i] − theMin` with `L[i]` in `0...nmax`, minimising the weighted
    /// squared error over `nstep + 1` candidate scales. Returns the scale; `theMin` gets the
    /// (non-negative) min. `Laux` is `n` bytes of scratch.
    static func scaleAndMin(count n: Int, nmax: Int32, x: UnsafePointer<Float>, weights: UnsafePointer<Float>,
                            L: UnsafeMutablePointer<UInt8>, theMin: inout Float, Laux: UnsafeMutablePointer<UInt8>,
                            rmin: Float, rdelta: Float, nstep: Int) -> Float {
        var min = x[0]
        var max = x[0]
        var sumW = weights[0]
        var sumX = sumW * x[0]
        for i in 1..<n {
            if x[i] < min { min = x[i] }
            if x[i] > max { max = x[i] }
            let w = weights[i]
            sumW += w
            sumX += w * x[i]
        }
        if min > 0 { min = 0 }
        if max == min {
            L.update(repeating: 0, count: n)
            theMin = -min
            return 0
        }
        let fmax = Float(nmax)
        var iscale = fmax / (max - min)
        var scale = 1 / iscale
        var bestError: Float = 0
        for i in 0..<n {
            let l = clamp(Arithmetic.nearestInt(iscale * (x[i] - min)), 0, nmax)
            L[i] = UInt8(truncatingIfNeeded: l)
            let diff = scale * Float(L[i]) + min - x[i]
            bestError += weights[i] * (diff * diff)
        }
        guard nstep >= 1 else {
            theMin = -min
            return scale
        }
        for step in 0...nstep {
            iscale = (rmin + rdelta * Float(step) + fmax) / (max - min)
            var sumL: Float = 0, sumL2: Float = 0, sumXL: Float = 0
            for i in 0..<n {
                let l = clamp(Arithmetic.nearestInt(iscale * (x[i] - min)), 0, nmax)
                Laux[i] = UInt8(truncatingIfNeeded: l)
                let w = weights[i]
                let fl = Float(l)
                sumL += w * fl
                sumL2 += w * fl * fl
                sumXL += w * fl * x[i]
            }
            let D = sumW * sumL2 - sumL * sumL
            if D > 0 {
                var thisScale = (sumW * sumXL - sumX * sumL) / D
                var thisMin = (sumL2 * sumX - sumL * sumXL) / D
                if thisMin > 0 {
                    thisMin = 0
                    thisScale = sumXL / sumL2
                }
                var curError: Float = 0
                for i in 0..<n {
                    let diff = thisScale * Float(Laux[i]) + thisMin - x[i]
                    curError += weights[i] * (diff * diff)
                }
                if curError < bestError {
                    L.update(from: Laux, count: n)
                    bestError = curError
                    scale = thisScale
                    min = thisMin
                }
            }
        }
        theMin = -min
        return scale
    }

    /// Fits `x[i] ≈ scale · (L[i] − nmax)` with `L[i]` in `0..<2·nmax`, weights `x[i]²`, trying
    /// 19 scales around `−nmax/max`. Returns the scale (0 for an all-but-zero group).
    static func symmetricScale(count n: Int, nmax: Int32, x: UnsafePointer<Float>,
                               L: UnsafeMutablePointer<UInt8>) -> Float {
        var max: Float = 0
        var amax: Float = 0
        for i in 0..<n {
            let ax = abs(x[i])
            if ax > amax {
                amax = ax
                max = x[i]
            }
        }
        if amax < 1e-15 {                                   // GROUP_MAX_EPS: all zero
            L.update(repeating: 0, count: n)
            return 0
        }
        let fmax = Float(nmax)
        var iscale = Float(-nmax) / max
        var sumLX: Float = 0
        var sumL2: Float = 0
        for i in 0..<n {
            let l = clamp(Arithmetic.nearestInt(iscale * x[i]), -nmax, nmax - 1)
            L[i] = UInt8(truncatingIfNeeded: l + nmax)
            let w = x[i] * x[i]
            let fl = Float(l)
            sumLX += w * x[i] * fl
            sumL2 += w * fl * fl
        }
        var scale: Float = sumL2 != 0 ? sumLX / sumL2 : 0
        var best = scale * sumLX
        for step in -9...9 where step != 0 {
            iscale = -(fmax + 0.1 * Float(step)) / max
            sumLX = 0
            sumL2 = 0
            for i in 0..<n {
                let l = clamp(Arithmetic.nearestInt(iscale * x[i]), -nmax, nmax - 1)
                let w = x[i] * x[i]
                let fl = Float(l)
                sumLX += w * x[i] * fl
                sumL2 += w * fl * fl
            }
            if sumL2 > 0 && sumLX * sumLX > best * sumL2 {
                for i in 0..<n {
                    let l = clamp(Arithmetic.nearestInt(iscale * x[i]), -nmax, nmax - 1)
                    L[i] = UInt8(truncatingIfNeeded: l + nmax)
                }
                scale = sumLX / sumL2
                best = scale * sumLX
            }
        }
        return scale
    }

    /// `MAX(low, MIN(high, value))` on integers.
    @inline(__always)
    static func clamp(_ value: Int32, _ low: Int32, _ high: Int32) -> Int32 {
        let upper = high < value ? high : value
        return low > upper ? low : upper
    }
}
