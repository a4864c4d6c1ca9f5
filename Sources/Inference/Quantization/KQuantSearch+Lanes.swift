/// `KQuantSearch.scaleAndMin` for the eight 32-element sub-blocks of a Q4_K/Q5_K block at
/// once, one sub-block per SIMD lane.
///
/// The scalar search is bound by the latency of its running sums (each element's add waits
/// for the previous one). Lanes keep each sub-block's sums in exactly the scalar order, so
/// every lane computes the same floats as the scalar code, bit for bit, while eight chains
/// run side by side. Branches become masks: a lane updates its best fit only where the scalar
/// code would have taken the branch, and a constant sub-block (max = min) gets the scalar
/// early exit's result at the end, whatever its lane computed meanwhile.
extension KQuantSearch {
    typealias Lanes = SIMD8<Float>
    typealias IntLanes = SIMD8<Int32>

    /// `x`: 32 rows of 8 lanes (element i of sub-block j is `x[i][j]`), `weights` likewise.
    /// Writes the quants to `L` (32 rows of 8 lanes) and returns each sub-block's scale and
    /// (non-negative) min. `Laux` is 32 rows of scratch.
    static func scaleAndMin(lanes x: UnsafePointer<Lanes>, weights: UnsafePointer<Lanes>, L: UnsafeMutablePointer<IntLanes>,
                            Laux: UnsafeMutablePointer<IntLanes>, nmax: Int32, rmin: Float, rdelta: Float,
                            nstep: Int) -> (scale: Lanes, min: Lanes) {
        let n = 32
        var min = x[0]
        var max = x[0]
        var sumW = weights[0]
        var sumX = sumW * x[0]
        for i in 1..<n {
            min.replace(with: x[i], where: x[i] .< min)
            max.replace(with: x[i], where: x[i] .> max)
            let w = weights[i]
            sumW += w
            sumX += w * x[i]
        }
        min.replace(with: 0, where: min .> 0)
        let flat = max .== min
        let flatMin = min
        let fmax = Float(nmax)
        let iscale = Lanes(repeating: fmax) / (max - min)
        var scale = 1 / iscale
        var bestError = Lanes()
        let zero = IntLanes(), top = IntLanes(repeating: nmax)
        for i in 0..<n {
            let l = pointwiseMin(pointwiseMax(nearestInt(iscale * (x[i] - min)), zero), top)
            L[i] = l
            let diff = scale * Lanes(l) + min - x[i]
            bestError += weights[i] * (diff * diff)
        }
        for step in 0...nstep {
            // `min` moves when a step wins, and later steps divide by the new range, as in C.
            let iscale = Lanes(repeating: rmin + rdelta * Float(step) + fmax) / (max - min)
            var sumL = Lanes(), sumL2 = Lanes(), sumXL = Lanes()
            for i in 0..<n {
                let l = pointwiseMin(pointwiseMax(nearestInt(iscale * (x[i] - min)), zero), top)
                Laux[i] = l
                let w = weights[i]
                let fl = Lanes(l)
                sumL += w * fl
                sumL2 += w * fl * fl
                sumXL += w * fl * x[i]
            }
            let D = sumW * sumL2 - sumL * sumL
            let valid = D .> 0
            if !any(valid) { continue }
            var thisScale = (sumW * sumXL - sumX * sumL) / D
            var thisMin = (sumL2 * sumX - sumL * sumXL) / D
            let positive = thisMin .> 0
            thisMin.replace(with: 0, where: positive)
            thisScale.replace(with: sumXL / sumL2, where: positive)
            var curError = Lanes()
            for i in 0..<n {
                let diff = thisScale * Lanes(Laux[i]) + thisMin - x[i]
                curError += weights[i] * (diff * diff)
            }
            let better = valid .& (curError .< bestError)
            if !any(better) { continue }
            for i in 0..<n { L[i].replace(with: Laux[i], where: better) }
            bestError.replace(with: curError, where: better)
            scale.replace(with: thisScale, where: better)
            min.replace(with: thisMin, where: better)
        }
        if any(flat) {
            for i in 0..<n { L[i].replace(with: zero, where: flat) }
            scale.replace(with: 0, where: flat)
            min.replace(with: flatMin, where: flat)
        }
        // Negated by flipping the sign bit: SIMD's prefix minus is `0 − x`, which turns
        // +0 into +0 where C's `-min` gives −0.
        let negated = unsafeBitCast(unsafeBitCast(min, to: SIMD8<UInt32>.self) ^ 0x8000_0000, to: Lanes.self)
        return (scale, negated)
    }

    /// `nearest_int` on every lane.
    @inline(__always)
    static func nearestInt(_ value: Lanes) -> IntLanes {
        let biased = value + 12_582_912
        let bits = unsafeBitCast(biased, to: SIMD8<UInt32>.self) & 0x007F_FFFF
        return IntLanes(truncatingIfNeeded: bits) &- 0x0040_0000
    }
}

extension KQuantSearch {
    /// `symmetricScale` for eight 16-element sub-blocks of a Q6_K block at once, one per lane,
    /// bit-identical per lane. `x`: 16 rows of 8 lanes (element i of sub-block j at `x[i][j]`).
    /// Writes the quants (0..<2·nmax) to `L` and returns the scales. (Eight lanes, not
    /// sixteen: Swift's 16-lane code is several times slower here.)
    static func symmetricScale(lanes x: UnsafePointer<Lanes>, nmax: Int32, L: UnsafeMutablePointer<IntLanes>,
                               Laux: UnsafeMutablePointer<IntLanes>) -> Lanes {
        let n = 16
        var max = Lanes(), amax = Lanes()
        for i in 0..<n {
            let ax = magnitude(x[i])
            let larger = ax .> amax
            amax.replace(with: ax, where: larger)
            max.replace(with: x[i], where: larger)
        }
        let zeroGroup = amax .< 1e-15                           // GROUP_MAX_EPS
        let fmax = Float(nmax)
        let low = IntLanes(repeating: -nmax), high = IntLanes(repeating: nmax - 1), offset = IntLanes(repeating: nmax)
        var iscale = Lanes(repeating: Float(-nmax)) / max
        var sumLX = Lanes(), sumL2 = Lanes()
        for i in 0..<n {
            let l = pointwiseMin(pointwiseMax(nearestInt(iscale * x[i]), low), high)
            L[i] = l &+ offset
            let w = x[i] * x[i]
            let fl = Lanes(l)
            sumLX += w * x[i] * fl
            sumL2 += w * fl * fl
        }
        var scale = (sumLX / sumL2).replacing(with: 0, where: sumL2 .== 0)
        var best = scale * sumLX
        for step in -9...9 where step != 0 {
            iscale = Lanes(repeating: -(fmax + 0.1 * Float(step))) / max
            sumLX = Lanes()
            sumL2 = Lanes()
            for i in 0..<n {
                let l = pointwiseMin(pointwiseMax(nearestInt(iscale * x[i]), low), high)
                Laux[i] = l &+ offset
                let w = x[i] * x[i]
                let fl = Lanes(l)
                sumLX += w * x[i] * fl
                sumL2 += w * fl * fl
            }
            let better = (sumL2 .> 0) .& (sumLX * sumLX .> best * sumL2)
            if !any(better) { continue }
            for i in 0..<n { L[i].replace(with: Laux[i], where: better) }
            scale.replace(with: sumLX / sumL2, where: better)
            best.replace(with: scale * sumLX, where: better)
        }
        if any(zeroGroup) {
            for i in 0..<n { L[i].replace(with: IntLanes(), where: zeroGroup) }
            scale.replace(with: 0, where: zeroGroup)
        }
        return scale
    }

    /// `fabsf` on every lane (clears the sign bit, as fabsf does, NaN included).
    @inline(__always)
    static func magnitude(_ value: Lanes) -> Lanes {
        unsafeBitCast(unsafeBitCast(value, to: SIMD8<UInt32>.self) & 0x7FFF_FFFF, to: Lanes.self)
    }
}
