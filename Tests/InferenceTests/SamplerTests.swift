import Foundation
import Testing
@testable import Inference

/// Sampler semantics on hand-made logits. Expected values come from the definitions
/// (probabilities written as logs, argmax by inspection), never from the code under test.
@Suite("Sampler")
struct SamplerTests {
    /// Logits whose softmax is exactly `probabilities`.
    static func logits(_ probabilities: [Double]) -> [Float] {
        probabilities.map { Float(Foundation.log($0)) }
    }

    /// A reproducible row of `count` logits in [-4, 4).
    static func randomRow(count: Int, seed: UInt64) -> [Float] {
        var random = SeededRandomNumberGenerator(seed: seed)
        return (0..<count).map { _ in Float.random(in: -4..<4, using: &random) }
    }

    static func draws(_ parameters: SamplingParameters, _ row: [Float], count: Int) -> [Int32] {
        var sampler = Sampler(parameters: parameters)
        return (0..<count).map { _ in sampler.sample(row).token }
    }

    @Test("greedy picks the argmax, the first one on ties", arguments: 0..<8)
    func greedyIsArgmax(seed: UInt64) {
        let row = Self.randomRow(count: 300, seed: seed)
        let expected = Int32(row.indices.max { row[$0] < row[$1] }!)
        #expect(Self.draws(.greedy, row, count: 3) == [expected, expected, expected])
        #expect(Sampler.argmax([1, 3, 2, 3]) == 1)
        #expect(Sampler.argmax([.nan, -1, -2]) == 1)
    }

    @Test("top-k = 1 is greedy whatever the temperature and seed", arguments: [UInt64(1), 2, 3, 99])
    func topKOneIsGreedy(seed: UInt64) {
        let row = Self.randomRow(count: 1000, seed: seed)
        let parameters = SamplingParameters(temperature: 5, topK: 1, topP: 1, minP: 0, seed: seed)
        let expected = Sampler.argmax(row)
        #expect(Self.draws(parameters, row, count: 20).allSatisfy { $0 == expected })
    }

    @Test("top-k keeps exactly the k best, lower ids first on ties")
    func topKRanking() {
        // Few distinct values so ties are everywhere.
        var random = SeededRandomNumberGenerator(seed: 7)
        let row = (0..<5000).map { _ in Float(Int.random(in: 0..<9, using: &random)) }
        for k in [1, 5, 40, 300, 1300, 4999] {
            let expected = row.indices.sorted { row[$0] > row[$1] || (row[$0] == row[$1] && $0 < $1) }
                .prefix(k).map(Int32.init)
            let ranked = row.withUnsafeBufferPointer { TokenCandidates.ranking($0, first: k) }
            #expect(ranked == expected, "k = \(k)")
        }
    }

    @Test("top-p keeps the smallest ranked prefix reaching p")
    func topPCut() {
        // Probabilities 0.1, 0.5, 0.15, 0.25 (ids 0…3): the ranking is 1, 3, 2, 0.
        let row = Self.logits([0.1, 0.5, 0.15, 0.25])
        // After top-k 3 the softmax is over the three left: 0.5/0.9, 0.25/0.9, 0.15/0.9.
        let cases: [(Float, [Int32], [Int32])] = [(0.05, [1], [1]), (0.49, [1], [1]), (0.7, [1, 3], [1, 3]),
                                                  (0.8, [1, 3, 2], [1, 3]), (0.95, [1, 3, 2, 0], [1, 3, 2])]
        for (p, expected, expectedAfterTopK) in cases {
            var candidates = TokenCandidates()
            row.withUnsafeBufferPointer { candidates.load($0, topK: 0) }
            candidates.keepTopP(p)
            #expect(candidates.ids == expected, "top-p \(p)")
            // Same cut after a top-k that keeps everything sorted.
            var ranked = TokenCandidates()
            row.withUnsafeBufferPointer { ranked.load($0, topK: 3) }
            ranked.keepTopP(p)
            #expect(ranked.ids == expectedAfterTopK, "top-k 3, top-p \(p)")
            #expect(ranked.logits.count == ranked.ids.count)
        }
    }

    @Test("top-p over a large flat vocabulary ranks past the first 256")
    func topPLargeVocabulary() {
        // 2000 equal logits: each token holds 1/2000; 1001 tokens are needed to pass 0.50025.
        let flat = [Float](repeating: 0.5, count: 2000)
        var candidates = TokenCandidates()
        flat.withUnsafeBufferPointer { candidates.load($0, topK: 0) }
        candidates.keepTopP(0.500_25)
        #expect(candidates.ids == (0..<1001).map(Int32.init))
        // One dominant token (at the end): the first 256 suffice.
        var peaked = [Float](repeating: 0, count: 3000)
        peaked[2999] = 20
        candidates.load(peaked.withUnsafeBufferPointer { $0 }, topK: 0)
        candidates.keepTopP(0.9)
        #expect(candidates.ids == [2999])
    }

    @Test("min-p keeps tokens at least p times as likely as the best")
    func minPCut() {
        // Logits 0, -1, -2, -3, -10: relative probabilities e^0, e^-1, … e^-10.
        let row: [Float] = [-2, 0, -10, -1, -3]
        let cases: [(Float, Set<Int32>)] = [(Float(Foundation.exp(-2.5)), [1, 3, 0]), (0.5, [1]),
                                            (Float(Foundation.exp(-0.5)), [1]), (Float(Foundation.exp(-9.5)), [0, 1, 3, 4])]
        for (p, expected) in cases {
            for topK in [0, 5, 4] {
                var candidates = TokenCandidates()
                row.withUnsafeBufferPointer { candidates.load($0, topK: topK) }
                candidates.keepMinP(p)
                #expect(Set(candidates.ids) == expected, "min-p \(p), top-k \(topK)")
                #expect(candidates.logits.count == candidates.ids.count)
            }
        }
        // End to end: only kept tokens are ever drawn, and each of them is.
        let parameters = SamplingParameters(temperature: 1, topK: 0, topP: 1, minP: Float(Foundation.exp(-2.5)), seed: 5)
        #expect(Set(Self.draws(parameters, row, count: 400)) == [1, 3, 0])
    }

    @Test("repetition penalty divides positive and multiplies negative logits")
    func repetitionPenalty() {
        let parameters = SamplingParameters(temperature: 0, topK: 0, topP: 1, minP: 0,
                                            repetitionPenalty: 2, repetitionWindow: 3)
        // Token 0 at 2 → 1 once seen, so token 2 (1.5) wins.
        var sampler = Sampler(parameters: parameters)
        #expect(sampler.sample([2, -2, 1.5, 0.5]).token == 0)
        #expect(sampler.sample([2, -2, 1.5, 0.5]).token == 2)
        // Negative logits are multiplied: token 0 at -1 → -2 loses to token 1 at -1.5.
        var negative = Sampler(parameters: parameters)
        negative.accept(0)
        #expect(negative.sample([-1, -1.5]).token == 1)
        // The window forgets: after three other tokens, token 0 is no longer penalised.
        var forgetting = Sampler(parameters: parameters)
        forgetting.accept(contentsOf: [0, 5, 6])
        #expect(forgetting.sample([2, -2, 1.5, 0.5]).token == 2)
        forgetting.accept(7)
        #expect(forgetting.recentTokens == [6, 2, 7])
        #expect(forgetting.sample([2, -2, 1.5, 0.5]).token == 0)
        // The reported log-probability is the unpenalised one.
        var reporting = Sampler(parameters: parameters)
        reporting.accept(0)
        let chosen = reporting.sample([2, -2, 1.5, 0.5])
        #expect(chosen.token == 2)
        #expect(abs(chosen.logProbability - Sampler.logSoftmax([2, -2, 1.5, 0.5])[2]) < 1e-6)
    }

    @Test("the same seed draws the same tokens; different seeds differ")
    func seeds() {
        let row = Self.randomRow(count: 500, seed: 3).map { $0 / 4 }
        func run(_ seed: UInt64) -> [Int32] {
            Self.draws(SamplingParameters(temperature: 1, topK: 0, topP: 0.98, minP: 0.01, seed: seed), row, count: 24)
        }
        #expect(run(11) == run(11))
        #expect(run(11) != run(12))
        #expect(Set(run(11)).count > 8)
        #expect(SamplingParameters(seed: 10).offsettingSeed(by: 3).seed == 13)
    }

    @Test("draws follow softmax(logits / temperature)")
    func distribution() {
        let row = Self.logits([0.5, 0.3, 0.2])
        for (temperature, expected) in [(Float(1), [0.5, 0.3, 0.2]), (0.5, [0.25 / 0.38, 0.09 / 0.38, 0.04 / 0.38])] {
            let parameters = SamplingParameters(temperature: temperature, topK: 0, topP: 1, minP: 0, seed: 1)
            let tokens = Self.draws(parameters, row, count: 20000)
            for token in 0..<3 {
                let frequency = Double(tokens.count { $0 == Int32(token) }) / 20000
                #expect(abs(frequency - expected[token]) < 0.015, "temperature \(temperature), token \(token)")
            }
        }
    }

    @Test("log-probabilities exponentiate to a distribution and ignore the sampling parameters")
    func logProbabilities() {
        let row = Self.randomRow(count: 32003, seed: 9).map { $0 * 3 }
        let logSoftmax = Sampler.logSoftmax(row)
        let total = logSoftmax.reduce(0.0) { $0 + Foundation.exp(Double($1)) }
        #expect(abs(total - 1) < 1e-5)
        // Against a double-precision reference.
        let maximum = Double(row.max()!)
        let reference = maximum + Foundation.log(row.reduce(0.0) { $0 + Foundation.exp(Double($1) - maximum) })
        for index in [0, 17, 32002] {
            #expect(abs(Double(logSoftmax[index]) - (Double(row[index]) - reference)) < 1e-5)
        }
        var sampler = Sampler(parameters: SamplingParameters(temperature: 0.3, topK: 5, topP: 0.5, minP: 0.2, seed: 4))
        for _ in 0..<5 {
            let chosen = sampler.sample(row)
            #expect(abs(chosen.logProbability - logSoftmax[Int(chosen.token)]) < 1e-5)
        }
    }

    @Test("the vectorised exp matches Foundation's, and is 0 below the float range")
    func vectorisedExponential() {
        var random = SeededRandomNumberGenerator(seed: 2)
        for _ in 0..<200 {
            let x = LogitMath.Vector((0..<16).map { _ in Float.random(in: -87..<88, using: &random) })
            let e = LogitMath.exponential(x)
            for lane in 0..<16 {
                let reference = Foundation.exp(Double(x[lane]))
                #expect(abs(Double(e[lane]) - reference) <= reference * 4e-7, "exp(\(x[lane]))")
            }
        }
        let edges = LogitMath.exponential(LogitMath.Vector(repeating: -.infinity))
        #expect(edges == .zero)
        #expect(LogitMath.exponential(.zero) == LogitMath.Vector(repeating: 1))
    }

    @Test("invalid parameters are named")
    func problems() {
        #expect(SamplingParameters().problems.isEmpty)
        #expect(SamplingParameters.greedy.problems.isEmpty)
        #expect(SamplingParameters(repetitionPenalty: 0).problems == ["repetition penalty must be a finite number above 0, not 0.0"])
        #expect(SamplingParameters(topP: -1).problems.count == 1)
    }
}
