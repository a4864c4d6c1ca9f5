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
    var answer = Self.answer

    func model() -> FakeTextModel {
        let tokenizer = self.tokenizer
        let answer = Array(self.answer)
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

    func prompt(_ question: String = "How many apples?") -> GenerationPrompt {
        GenerationPrompt(tokens: tokenizer.encode(question, addSpecial: true, parseSpecial: false))
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
        #expect(record.steps.allSatisfy { $0.candidates.allSatisfy { $0.cutAt == nil } })
        let started = events.compactMap { if case .stageStarted(let stage, let n) = $0 { "\(stage)×\(n)" } else { nil } }
        #expect(started == ["summary×3", "caption×3", "reasoning×3", "conclusion×3"])
        let chosen = events.filter { if case .stageChosen = $0 { true } else { false } }
        #expect(chosen.count == 4)
        // Decode steps ran the 3 candidates together.
        #expect(model.forwardBatchSizes.contains(3))
        // The question was prefilled once (all but its last token, which the first stage
        // feeds); every later batch is at most a few tag tokens per candidate.
        let promptLength = script.prompt().count
        #expect(model.forwardBatchSizes.filter { $0 >= promptLength - 1 }.count == 1)
    }

    @Test("stage-beam over a thinking model: the reasoning in <think>, then the answer as the conclusion")
    func stageBeamOverAThinkingModel() async throws {
        var script = ScriptedModel()
        script.answer = "<think>\n1 + 1 + 1 = 3.</think>\n\nThere are 3."
        let reasoner = Reasoner(generator: Generator(model: script.model(), tokenizer: script.tokenizer), judge: LogProbabilityJudge())
        var configuration = ReasoningConfiguration(strategy: .stageBeam, candidates: 2, stageTokenBudget: 64)
        configuration.stagePlan = .thinking
        var events: [ReasoningEvent] = []
        let record = try await reasoner.run(prompt: script.prompt(), question: "How many apples?",
                                            configuration: configuration) { events.append($0) }
        let started = events.compactMap { event -> String? in
            if case .stageStarted(let stage, _) = event { return stage }
            return nil
        }
        #expect(started == ["reasoning", "conclusion"])
        #expect(record.stages == ["reasoning": "1 + 1 + 1 = 3.", "conclusion": "There are 3."])
        #expect(record.answer == "There are 3.")
        #expect(record.steps.map(\.stage) == ["reasoning", "conclusion"])
    }

    @Test("the stage plans: LLaVA-CoT's four tags, a thinking model's <think> and its answer")
    func stagePlans() {
        #expect(StagePlan.llavaCoT.stages == Stage.allCases)
        #expect(StagePlan.llavaCoT.opening(0) == "<SUMMARY>" && StagePlan.llavaCoT.opening(1) == "\n\n<CAPTION>")
        #expect(StagePlan.llavaCoT.stopStrings(3) == ["</CONCLUSION>"])
        #expect(StagePlan.thinking.stages == [.reasoning, .conclusion])
        #expect(StagePlan.thinking.opening(0) == "<think>\n" && StagePlan.thinking.opening(1) == "")
        #expect(StagePlan.thinking.stopStrings(0) == ["</think>"] && StagePlan.thinking.stopStrings(1).isEmpty)
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

    @Test("stage-beam keeping K beams: M candidates per stage in one batch, M/K from each kept beam")
    func keepSeveralBeams() async throws {
        let script = ScriptedModel()
        let model = script.model()
        let reasoner = Reasoner(generator: Generator(model: model, tokenizer: script.tokenizer), judge: LogProbabilityJudge())
        var events: [ReasoningEvent] = []
        let configuration = ReasoningConfiguration(strategy: .stageBeam, candidates: 4, keep: 2, stageTokenBudget: 64)
        let question = "Counting carefully, and looking at every part of the table, how many apples are there?"
        let record = try await reasoner.run(prompt: script.prompt(question), question: question,
                                            configuration: configuration) { events.append($0) }
        #expect(record.stages == Self.expectedStages)
        #expect(record.steps.map(\.candidates.count) == [4, 4, 4, 4])
        // Equal log-probabilities: the ranking keeps the earliest two; the last stage keeps one.
        #expect(record.steps.map(\.kept) == [[0, 1], [0, 1], [0, 1], [0]])
        #expect(record.steps[0].candidates.allSatisfy { $0.parent == nil })
        for step in record.steps.dropFirst() { #expect(step.candidates.map(\.parent) == [0, 0, 1, 1]) }
        #expect(record.path(to: 3, at: 3) == [0, 0, 1, 3])
        let kept = events.compactMap { if case .beamsKept(let stage, let kept) = $0 { "\(stage):\(kept)" } else { nil } }
        #expect(kept == ["summary:[0, 1]", "caption:[0, 1]", "reasoning:[0, 1]"])
        // The two beams' prompts went in one prefill batch and all four candidates decode together.
        #expect(model.forwardBatchSizes.contains(4))
        #expect(model.forwardBatchSizes.filter { $0 >= script.prompt(question).count - 1 }.count == 1)
        for id in 0..<64 { #expect(model.history(of: SequenceID(rawValue: id)) == nil) }
    }

    @Test("a branch continues from another candidate's tokens on the prepared prompt, which is not prefilled again")
    func branch() async throws {
        let script = ScriptedModel()
        let seen = HistoryLog()
        let base = script.model()
        let model = FakeTextModel(vocabularySize: script.tokenizer.vocabularySize, contextLength: 1024) { history in
            seen.add(script.tokenizer.decode(history.filter { $0 >= 0 }, renderSpecial: true))
            return base.logits(after: history)
        }
        let reasoner = Reasoner(generator: Generator(model: model, tokenizer: script.tokenizer), judge: FirstJudge())
        let question = "Counting carefully, and looking at every part of the table, how many apples are there?"
        let prepared = try reasoner.prepare(script.prompt(question))
        let configuration = ReasoningConfiguration(strategy: .stageBeam, candidates: 2, stageTokenBudget: 64)
        var record = try await reasoner.run(prepared: prepared, question: question, configuration: configuration)
        #expect(record.stages == Self.expectedStages)
        // Make caption candidate 2 different, as sampling would: its tokens are what the branch feeds.
        let other = "Two pears.</CAPTION>"
        record.steps[1].candidates[1] = Candidate(text: "Two pears.", tokens: script.tokenizer.encode(
            other, addSpecial: false, parseSpecial: false), parent: 0)
        let batchesBefore = model.forwardBatchSizes.count
        var events: [ReasoningEvent] = []
        let branched = try await reasoner.branch(from: record, step: 1, candidate: 1, prepared: prepared, question: question,
                                                 configuration: configuration) { events.append($0) }
        #expect(branched.branchedFrom == BranchPoint(step: 1, candidate: 1))
        #expect(branched.steps.count == 4)
        #expect(branched.steps[0] == record.steps[0])
        #expect(branched.steps[1].chosen == 1 && branched.steps[1].by == .user)
        #expect(branched.stages["caption"] == "Two pears.")
        #expect(events.first == .stageChosen(stage: "caption", candidate: 1, by: .user, scores: []))
        // The next stage opened right after the branch candidate's own tokens.
        #expect(seen.contains(question + "<SUMMARY>Count.</SUMMARY>\n\n<CAPTION>Two pears.</CAPTION>\n\n<REASONING>"))
        // The branch prefilled its path, never the question again.
        let path = branched.promptTokens
        #expect(model.forwardBatchSizes.dropFirst(batchesBefore).allSatisfy { $0 <= path })
        #expect(path < script.prompt(question).count)
        // A pick in the last stage, or in a best-of-n record, only re-chooses.
        let repicked = try await reasoner.branch(from: record, step: 3, candidate: 1, prepared: prepared,
                                                 question: question, configuration: configuration)
        #expect(repicked.steps[3].chosen == 1 && repicked.generatedTokens == 0 && repicked.answer == "3")
        await #expect(throws: ReasoningError.noSuchCandidate(step: 1, candidate: 7)) {
            _ = try await reasoner.branch(from: record, step: 1, candidate: 7, prepared: prepared, question: question,
                                          configuration: configuration)
        }
    }

    @Test("cancelling mid-run returns a consistent record marked stopped and releases every sequence")
    func cancellation() async throws {
        let script = ScriptedModel()
        for strategy in [Strategy.stageBeam, .greedy] {
            let model = script.model()
            let reasoner = Reasoner(generator: Generator(model: model, tokenizer: script.tokenizer), judge: LogProbabilityJudge())
            let configuration = ReasoningConfiguration(strategy: strategy, candidates: 2, stageTokenBudget: 64)
            let task = Task { () -> (ReasoningRecord, [ReasoningEvent]) in
                var events: [ReasoningEvent] = []
                var tokens = 0
                let record = try await reasoner.run(prompt: script.prompt(), question: "How many apples?",
                                                    configuration: configuration) { event in
                    events.append(event)
                    if case .token = event { tokens += 1 }
                    // Stop in the middle of the caption (stage-beam: 2 × 6 characters of
                    // summary text) or of the answer (greedy).
                    if tokens == 20 { withUnsafeCurrentTask { $0?.cancel() } }
                }
                return (record, events)
            }
            let (record, events) = try await task.value
            #expect(record.stopped, "\(strategy)")
            let last = try #require(record.steps.last)
            #expect(last.by == .stopped && last.chosen == 0)
            #expect(record.steps.dropLast().allSatisfy { $0.by != .stopped })
            #expect(events.last == .stageChosen(stage: last.stage, candidate: 0, by: .stopped, scores: []))
            let decoded = try JSONDecoder().decode(ReasoningRecord.self, from: JSONEncoder().encode(record))
            #expect(decoded == record)
            if strategy == .stageBeam {
                #expect(record.steps.map(\.stage) == ["summary", "caption"])
                #expect(record.stages["summary"] == "Count." && "Three apples.".hasPrefix(record.stages["caption"] ?? "-"))
            } else {
                let tokens = record.steps[0].candidates[0].tokens.count
                #expect(tokens >= 20 && tokens < ScriptedModel.answer.count)
            }
            for id in 0..<32 { #expect(model.history(of: SequenceID(rawValue: id)) == nil) }
        }
    }
}

/// The texts a fake model was asked to continue.
final class HistoryLog: @unchecked Sendable {
    private var texts: [String] = []
    private let lock = NSLock()
    func add(_ text: String) { lock.withLock { texts.append(text) } }
    func contains(_ text: String) -> Bool { lock.withLock { texts.contains { $0.contains(text) } } }
    var all: [String] { lock.withLock { texts } }
}
