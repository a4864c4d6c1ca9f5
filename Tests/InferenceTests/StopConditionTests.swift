import Testing
@testable import Inference

/// Stop strings across token boundaries, held-back text, and the finish reasons of single
/// tokens. Expected texts are written out by hand.
@Suite("Stop condition")
struct StopConditionTests {
    /// Feeds `pieces` and returns what each call released, then the flush.
    static func run(_ stops: [String], _ pieces: [String]) -> (released: [String], match: String?, flushed: String) {
        var matcher = StopStringMatcher(stopStrings: stops)
        let released = pieces.map { matcher.append($0) }
        let match = matcher.match
        return (released, match, matcher.flush())
    }

    @Test("a stop string split across pieces is found and not emitted")
    func splitStopString() {
        let outcome = Self.run(["</SUMMARY>"], ["The plan.", " </SU", "MM", "ARY> tail", "more"])
        #expect(outcome.released == ["The plan.", " ", "", "", ""])
        #expect(outcome.match == "</SUMMARY>")
        #expect(outcome.flushed == "")
    }

    @Test("held-back text is released when the partial match fails")
    func partialMatchFails() {
        let outcome = Self.run(["</SUMMARY>"], ["a </S", "UM", "B> b"])
        #expect(outcome.released == ["a ", "", "</SUMB> b"])
        #expect(Self.run(["</SUMMARY>"], ["a </S", "UB"]).released == ["a ", "</SUB"])
        #expect(outcome.match == nil)
        // A new partial match can start inside the failed one.
        let nested = Self.run(["abc"], ["aab", "x", "ab", "ab", "c!"])
        #expect(nested.released == ["a", "abx", "", "ab", ""])
        #expect(nested.match == "abc")
    }

    @Test("text held at the end is released by flush")
    func flushReleasesHeld() {
        let outcome = Self.run(["\n\n"], ["one\n"])
        #expect(outcome.released == ["one"])
        #expect(outcome.flushed == "\n")
        #expect(outcome.match == nil)
    }

    @Test("the earliest of several stop strings wins, the longest at the same place")
    func severalStopStrings() {
        #expect(Self.run(["END", "STOP"], ["xSTOPyEND"]).released == ["x"])
        #expect(Self.run(["END", "STOP"], ["xSTOPyEND"]).match == "STOP")
        #expect(Self.run(["ab", "abc"], ["zabc"]).match == "abc")
        #expect(Self.run(["", "q"], ["pq"]).released == ["p"])
        #expect(Self.run([], ["anything"]).released == ["anything"])
    }

    @Test("multi-byte characters: a stop string of accented letters split inside a character")
    func multiByte() {
        // "é" is C3 A9; pieces as the streaming detokenizer gives them are whole characters,
        // but a stop string may end in the middle of a word.
        let outcome = Self.run(["été."], ["Un é", "t", "é", ". Fin"])
        #expect(outcome.released == ["Un ", "", "", ""])
        #expect(outcome.match == "été.")
        let emoji = Self.run(["🙂!"], ["ok 🙂", "?"])
        #expect(emoji.released == ["ok ", "🙂?"])
    }

    @Test("the budget counts sampled tokens")
    func budget() {
        #expect(!StopCondition().budgetIsSpent(after: 1_000_000))
        #expect(!StopCondition(maxTokens: 3).budgetIsSpent(after: 2))
        #expect(StopCondition(maxTokens: 3).budgetIsSpent(after: 3))
        #expect(StopCondition(maxTokens: 0).budgetIsSpent(after: 0))
    }

    @Test("a candidate ends on EOS without emitting it, and on the budget with held text released")
    func candidateReasons() {
        let tokenizer = CharacterTokenizer()
        let eos = tokenizer.endOfSequenceToken!
        let stop = StopCondition(stopStrings: ["ab!"], maxTokens: 4)
        var candidate = GenerationCandidate(sequence: nil, length: 0, parameters: .greedy, promptTokens: [],
                                            tokenizer: tokenizer, stop: stop, rendersSpecialTokens: false)
        let tokens = tokenizer.encode("xab", addSpecial: false, parseSpecial: false)
        var texts: [String] = []
        for token in tokens {
            texts.append(candidate.take(SampledToken(token: token, logProbability: -1), tokenizer: tokenizer,
                                        stop: stop, canContinue: true).text)
        }
        #expect(texts == ["x", "", ""])
        #expect(candidate.isActive)
        let last = candidate.take(SampledToken(token: eos, logProbability: -0.5), tokenizer: tokenizer,
                                  stop: stop, canContinue: true)
        #expect(last.text == "ab")
        #expect(candidate.reason == .endOfGeneration)
        #expect(candidate.text == "xab")
        #expect(candidate.result(sequence: nil).totalLogProbability == -3.5)

        var budgeted = GenerationCandidate(sequence: nil, length: 0, parameters: .greedy, promptTokens: [],
                                           tokenizer: tokenizer, stop: StopCondition(stopStrings: ["ab!"], maxTokens: 2),
                                           rendersSpecialTokens: false)
        let first = budgeted.take(SampledToken(token: tokens[0], logProbability: 0), tokenizer: tokenizer,
                                  stop: StopCondition(stopStrings: ["ab!"], maxTokens: 2), canContinue: true)
        let second = budgeted.take(SampledToken(token: tokens[1], logProbability: 0), tokenizer: tokenizer,
                                   stop: StopCondition(stopStrings: ["ab!"], maxTokens: 2), canContinue: true)
        #expect([first.text, second.text] == ["x", "a"])
        #expect(budgeted.reason == .maxTokens)
    }

    @Test("finish reasons have stable short names")
    func reasonNames() {
        #expect(FinishReason.endOfGeneration.name == "eos")
        #expect(FinishReason.stopString("x").name == "stop")
        #expect(FinishReason.maxTokens.name == "length")
        #expect(FinishReason.cancelled.name == "cancelled")
        #expect(FinishReason.failed(.emptyPrompt).description.hasPrefix("error: the prompt is empty"))
    }
}
