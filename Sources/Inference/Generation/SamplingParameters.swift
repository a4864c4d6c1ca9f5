/// How the next token is chosen from a row of logits.
///
/// The filters run in the order of llama.cpp's default common sampler chain:
/// repetition penalty → top-k → top-p → min-p → temperature → draw. Each filter sees the
/// candidates the previous one left; top-p and min-p look at the logits *before* temperature.
/// A temperature of 0 or below is greedy decoding: the penalised argmax, no random draw.
public struct SamplingParameters: Sendable, Hashable {
    /// Divides the logits before the draw. `≤ 0` means greedy.
    public var temperature: Float
    /// Keep only the `topK` most likely tokens; `≤ 0` keeps all.
    public var topK: Int
    /// Keep the smallest set of most likely tokens whose probability reaches `topP`
    /// (at least one); `≥ 1` keeps all.
    public var topP: Float
    /// Drop tokens whose probability is below `minP` times the most likely token's; `≤ 0`
    /// keeps all.
    public var minP: Float
    /// Logits of tokens seen in the last `repetitionWindow` tokens are divided by this when
    /// positive and multiplied by it when negative (CTRL-style, as llama.cpp). `1` is off.
    public var repetitionPenalty: Float
    /// How many of the most recent tokens the penalty looks at; `0` turns it off.
    public var repetitionWindow: Int
    /// Seeds the draw. The same seed and logits give the same tokens on every machine and
    /// thread count.
    public var seed: UInt64

    public init(temperature: Float = 0.8, topK: Int = 40, topP: Float = 0.95, minP: Float = 0.05,
                repetitionPenalty: Float = 1, repetitionWindow: Int = 64, seed: UInt64 = 0) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.minP = minP
        self.repetitionPenalty = repetitionPenalty
        self.repetitionWindow = repetitionWindow
        self.seed = seed
    }

    /// Always the most likely token (after the repetition penalty, if any).
    public static let greedy = SamplingParameters(temperature: 0, topK: 0, topP: 1, minP: 0)

    /// LLaVA-CoT's recommended decoding: temperature 0.6, top-p 0.9, nothing else.
    public static func llavaCoT(seed: UInt64 = 0) -> SamplingParameters {
        SamplingParameters(temperature: 0.6, topK: 0, topP: 0.9, minP: 0, seed: seed)
    }

    public var isGreedy: Bool { !(temperature > 0) }

    var penaltyIsActive: Bool { repetitionWindow > 0 && repetitionPenalty != 1 }

    /// The same parameters with the seed moved by `offset`: sequence `i` of a batch samples
    /// with `seed + i`, so it draws exactly what a lone generation with that seed would.
    public func offsettingSeed(by offset: Int) -> SamplingParameters {
        var copy = self
        copy.seed = seed &+ UInt64(truncatingIfNeeded: offset)
        return copy
    }

    /// Problems with the values, as sentences naming the parameter; empty when all are fine.
    public var problems: [String] {
        var result: [String] = []
        if temperature.isNaN { result.append("temperature must be a number") }
        if topP.isNaN || topP < 0 { result.append("top-p must be between 0 and 1, not \(topP)") }
        if minP.isNaN || minP > 1 { result.append("min-p must be between 0 and 1, not \(minP)") }
        if !(repetitionPenalty > 0) || !repetitionPenalty.isFinite {
            result.append("repetition penalty must be a finite number above 0, not \(repetitionPenalty)")
        }
        if repetitionWindow < 0 { result.append("repetition window must be 0 or more, not \(repetitionWindow)") }
        return result
    }
}

/// xoshiro256** seeded through SplitMix64: small, fast, and the same sequence on every
/// platform for a given seed (unlike `SystemRandomNumberGenerator`).
public struct SeededRandomNumberGenerator: RandomNumberGenerator, Sendable, Hashable {
    private var state: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var mixer = seed
        func splitMix() -> UInt64 {
            mixer &+= 0x9E37_79B9_7F4A_7C15
            var z = mixer
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = (splitMix(), splitMix(), splitMix(), splitMix())
    }

    public mutating func next() -> UInt64 {
        let result = rotateLeft(state.1 &* 5, 7) &* 9
        let shifted = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= shifted
        state.3 = rotateLeft(state.3, 45)
        return result
    }

    /// A uniform double in [0, 1) with 53 random bits.
    public mutating func nextUnitInterval() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    private func rotateLeft(_ value: UInt64, _ count: UInt64) -> UInt64 {
        (value << count) | (value >> (64 - count))
    }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.state == rhs.state
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(state.0)
        hasher.combine(state.1)
        hasher.combine(state.2)
        hasher.combine(state.3)
    }
}
