import Foundation
import Inference
import Testing
@testable import Reasoning

/// A scripted model: after the question (which ends with `?`) it writes `answer` character by
/// character, then ends the sequence. Prefilled stage tags that follow the script keep it on
/// track, as a model trained on the format would be.
struct ScriptedModel {
    static let answer = "<SUMMARY>Count.</SUMMARY>\n\n<CAPTION>Three apples.</CAPTION>\n\n"
        + "<REASONING>1 + 1 + 1 = 3.</REASONING>\n\n<CONCLUSION>3</CONCLUSION>"
    let tokenizer = CharacterTokenizer()

    func model() -> FakeTextModel {
        let tokenizer = self.tokenizer
        let answer = Array(Self.answer)
        return FakeTextModel(vocabularySize: tokenizer.vocabularySize, contextLength: 1024) { history in
            let text = tokenizer.decode(history.filter { $0 >= 0 }, renderSpecial: true)
            let written = text.split(separator: "?", omittingEmptySubsequences: false).last.map(Array.init) ?? []
            var logits = [Float](repeating: 0, count: tokenizer.vocabularySize)
            let next: Int32
            if written.count < answer.count, Array(answer.prefix(written.count)) == written {
                next = tokenizer.encode(String(answer[written.count]), addSpecial: false, parseSpecial: false)[0]
            } else {
                next = tokenizer.endOfSequenceToken!
            }
            logits[Int(next)] = 12
            return logits
        }
    }

    func prompt() -> GenerationPrompt {
        GenerationPrompt(tokens: tokenizer.encode("How many apples?", addSpecial: true, parseSpecial: false))
    }
}

@Suite("Reasoner strategies")
struct ReasonerTests {
    static let expectedStages = ["summary": "Count.", "caption": "Three apples.", "reasoning": "1 + 1 + 1 = 3.", "conclusion": "3"]

    @Test("greedy: one pass, the stages parsed from the answer")
    func greedy() async throws {
        let script = ScriptedModel()
        let reasoner = Reasoner(generator: Generator(model: script.model(), tokenizer: script.tokenizer), judge: FirstJudge())
        let record = try await reasoner.run(prompt: script.prompt(), question: "How many apples?",
                                            configuration: ReasoningConfiguration(strategy: .greedy))
        #expect(record.stages == Self.expectedStages)
        #expect(record.answer == "3")
        #expect(record.steps.count == 1 && record.steps[0].by == .only)
    }

    @Test("stage-beam: N candidates per stage in one batch, the judge's choice becomes the prefix")
    func stageBeam() async throws {
        let script = ScriptedModel()
        let model = script.model()
        let reasoner = Reasoner(generator: Generator(model: model, tokenizer: script.tokenizer), judge: LogProbabilityJudge())
        var events: [ReasoningEvent] = []
        let record = try await reasoner.run(prompt: script.prompt(), question: "How many apples?",
                                            configuration: ReasoningConfiguration(strategy: .stageBeam, candidates: 3,
                                                                                  stageTokenBudget: 64)) { events.append($0) }
        #expect(record.stages == Self.expectedStages)
        #expect(record.steps.map(\.stage) == ["summary", "caption", "reasoning", "conclusion"])
        #expect(record.steps.allSatisfy { $0.candidates.count == 3 && $0.by == .judge })
        let started = events.compactMap { if case .stageStarted(let stage, let n) = $0 { "\(stage)×\(n)" } else { nil } }
        #expect(started == ["summary×3", "caption×3", "reasoning×3", "conclusion×3"])
        let chosen = events.filter { if case .stageChosen = $0 { true } else { false } }
        #expect(chosen.count == 4)
        // Decode steps ran the 3 candidates together.
        #expect(model.forwardBatchSizes.contains(3))
        // The question was prefilled once; every later batch is at most a few tag tokens per candidate.
        let promptLength = script.prompt().count
        #expect(model.forwardBatchSizes.filter { $0 >= promptLength }.count == 1)
    }

    @Test("best-of-n: whole answers decoded together, one chosen by the judge")
    func bestOfN() async throws {
        let script = ScriptedModel()
        let reasoner = Reasoner(generator: Generator(model: script.model(), tokenizer: script.tokenizer), judge: FirstJudge())
        let record = try await reasoner.run(prompt: script.prompt(), question: "How many apples?",
                                            configuration: ReasoningConfiguration(strategy: .bestOfN, candidates: 2))
        #expect(record.steps.count == 1 && record.steps[0].stage == "answer" && record.steps[0].candidates.count == 2)
        #expect(record.answer == "3")
    }

    @Test("a manual judge that fails stops the run and releases the candidates")
    func failingJudgeReleasesSequences() async throws {
        struct Refusal: Error {}
        let script = ScriptedModel()
        let model = script.model()
        let reasoner = Reasoner(generator: Generator(model: model, tokenizer: script.tokenizer),
                                judge: ManualJudge { _ in throw Refusal() })
        await #expect(throws: Refusal.self) {
            _ = try await reasoner.run(prompt: script.prompt(), question: "q?",
                                       configuration: ReasoningConfiguration(strategy: .stageBeam, candidates: 2))
        }
        // No sequence is left behind: a new one gets the next id and nothing else exists.
        for id in 0..<16 { #expect(model.history(of: SequenceID(rawValue: id)) == nil) }
    }

    @Test("records round-trip through JSON")
    func recordJSON() async throws {
        let script = ScriptedModel()
        let reasoner = Reasoner(generator: Generator(model: script.model(), tokenizer: script.tokenizer), judge: FirstJudge())
        let record = try await reasoner.run(prompt: script.prompt(), question: "How many apples?",
                                            configuration: ReasoningConfiguration(strategy: .stageBeam, candidates: 2))
        let decoded = try JSONDecoder().decode(ReasoningRecord.self, from: JSONEncoder().encode(record))
        #expect(decoded == record)
    }
}
