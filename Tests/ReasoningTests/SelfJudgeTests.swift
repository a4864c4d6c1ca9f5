import Foundation
import Inference
import Testing
@testable import Reasoning

@Suite("Self judge")
struct SelfJudgeTests {
    /// A model that answers "1" when response 1 contains "good" and "2" otherwise.
    static func judgeModel(tokenizer: CharacterTokenizer) -> FakeTextModel {
        FakeTextModel(vocabularySize: tokenizer.vocabularySize, contextLength: 4096) { history in
            let text = tokenizer.decode(history.filter { $0 >= 0 })
            var logits = [Float](repeating: 0, count: tokenizer.vocabularySize)
            let firstIsGood = text.components(separatedBy: "Response 1:").last?
                .components(separatedBy: "Response 2:").first?.contains("good") ?? false
            let answer = tokenizer.encode(firstIsGood ? "1" : "2", addSpecial: false, parseSpecial: false)[0]
            logits[Int(answer)] = 3
            return logits
        }
    }

    @Test("a knockout over the candidates, one forward pass per comparison, read from the answer logits")
    func knockout() async throws {
        let tokenizer = CharacterTokenizer()
        let model = Self.judgeModel(tokenizer: tokenizer)
        let judge = SelfJudge(model: model, tokenizer: tokenizer) { instruction in
            GenerationPrompt(tokens: tokenizer.encode(instruction, addSpecial: true, parseSpecial: false))
        }
        let candidates = ["meh", "bad", "good one", "worse"].map { Candidate(text: $0) }
        let context = JudgeContext(stage: .caption, question: "What is shown?", acceptedStages: [(.summary, "Look.")],
                                   candidates: candidates)
        let verdict = try await judge.judge(context)
        #expect(verdict.chosen == 2)
        #expect(verdict.comparisons.map(\.winner) == [1, 2, 2])
        #expect(verdict.scores == [0, 1, 2, 0])
        #expect(model.forwardBatchSizes.count == 3)
        for id in 0..<8 { #expect(model.history(of: SequenceID(rawValue: id)) == nil) }
    }

    @Test("the instruction carries the question, the accepted stages, the criterion and both responses")
    func instruction() {
        let context = JudgeContext(stage: .reasoning, question: "Why?", acceptedStages: [(.summary, "S"), (.caption, "C")],
                                   candidates: [])
        let text = SelfJudge.instruction(context, Candidate(text: " A "), Candidate(text: "B"))
        #expect(text.contains("Question: Why?") && text.contains("summary: S") && text.contains("caption: C"))
        #expect(text.contains(SelfJudge.criterion(for: .reasoning)))
        #expect(text.contains("Response 1: A\n") && text.contains("Response 2: B\n"))
        #expect(Set(Stage.allCases.map(SelfJudge.criterion(for:))).count == 4)
    }

    @Test("comparisons fork the run's prompt and each other's shared prefix, with the same verdict as from scratch")
    func sharedPrefixes() async throws {
        let tokenizer = CharacterTokenizer()
        let preamble = String(repeating: "[image rows] ", count: 20)
        let build: SelfJudge.PromptBuilder = { instruction in
            GenerationPrompt(tokens: tokenizer.encode(preamble + instruction, addSpecial: true, parseSpecial: false))
        }
        let candidates = ["meh", "bad", "good one", "worse"].map { Candidate(text: $0) }
        // From scratch: every comparison prefills its whole prompt.
        let scratchModel = Self.judgeModel(tokenizer: tokenizer)
        let scratch = SelfJudge(model: scratchModel, tokenizer: tokenizer, sharesPrefixes: false, prompt: build)
        let context = JudgeContext(stage: .caption, question: "What is shown?", acceptedStages: [(.summary, "Look.")],
                                   candidates: candidates)
        let expected = try await scratch.judge(context)
        let sizes = scratchModel.forwardBatchSizes
        #expect(sizes.count == 3)

        // Shared: the run's prompt (the preamble) is already in the model.
        let model = Self.judgeModel(tokenizer: tokenizer)
        let held = tokenizer.encode(preamble, addSpecial: true, parseSpecial: false)
        let local = LocalReasoningModel(generator: Generator(model: model, tokenizer: tokenizer)) { try build($0.question) }
        // A prepared prompt holds every input but the last.
        let prepared = try local.prepare(prompt: GenerationPrompt(tokens: held + [held[0]]))
        let prompt = prepared.sequence
        let before = model.forwardBatchSizes.count
        var shared = context
        shared.sharedPrefix = prepared
        let judge = SelfJudge(model: local)
        let verdict = try await judge.judge(shared)
        #expect(verdict.chosen == expected.chosen && verdict.comparisons == expected.comparisons && verdict.scores == expected.scores)
        let fed = Array(model.forwardBatchSizes.dropFirst(before))
        #expect(expected.prefilledTokens == sizes.reduce(0, +) && verdict.prefilledTokens == fed.reduce(0, +))
        #expect(fed.count == 3)
        #expect(fed[0] == sizes[0] - held.count, "the first comparison skips the run's prompt")
        // Later ones share the question, earlier stages and criterion with the one before.
        let shared1 = SelfJudge.instruction(context, candidates[0], candidates[1])
        let criterionEnd = shared1.range(of: "Response 1: ")!.lowerBound
        let sharedLength = held.count + shared1[..<criterionEnd].count
        #expect(fed.dropFirst().allSatisfy { $0 <= sizes.max()! - sharedLength })
        // The run's prompt is untouched and the judge's own sequences are released.
        #expect(model.history(of: prompt) == held)
        for id in 1..<16 { #expect(model.history(of: SequenceID(rawValue: id)) == nil) }
    }

    @Test("candidates of different beams are compared with their own earlier stages")
    func histories() {
        let context = JudgeContext(stage: .reasoning, question: "Why?", candidates: [Candidate(text: "A"), Candidate(text: "B")],
                                   histories: [[(.summary, "S1")], [(.summary, "S2")]])
        let text = SelfJudge.instruction(context, context.candidates[0], context.candidates[1])
        #expect(text.contains("Response 1: (after summary: S1) A\n") && text.contains("Response 2: (after summary: S2) B\n"))
        #expect(!text.contains("Already written"))
    }
}
