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
}
