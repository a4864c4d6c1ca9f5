import Foundation
import Inference
import Testing
@testable import Reasoning

/// A `ReasoningModel` in text only, as a server is: a prefix is the assistant text so far.
/// Candidate k of a stage writes `stages[stage][k % count]` (the whole answer for an empty
/// opening), one character per token event, with log-probability −(k + 1)/10 per character; the
/// self judge prefers the response that contains "good". Every call is logged.
final class FakeReasoningModel: ReasoningModel, @unchecked Sendable {
    final class Prefix: ReasoningPrefix {
        let text: String
        var promptPositions: Int { 0 }
        init(_ text: String) { self.text = text }
    }

    final class Session: ChoiceSession, @unchecked Sendable {
        var promptTokens = 0
        let log: FakeReasoningModel
        init(_ log: FakeReasoningModel) { self.log = log }
        func logProbabilities(_ conversation: ReasoningConversation, choices: [String]) async throws -> [Double] {
            log.lock.withLock { log.judged.append(conversation.question) }
            promptTokens += conversation.question.count
            let first = conversation.question.components(separatedBy: "Response 1:").last?
                .components(separatedBy: "Response 2:").first ?? ""
            return first.contains("good") ? [-0.1, -2.3] : [-2.3, -0.1]
        }
    }

    let stages: [String: [String]]
    let lock = NSLock()
    var prepared: [ReasoningConversation] = []
    /// Per sample call: the prefixes' texts and the opening.
    var requests: [(prefixes: [String], opening: String)] = []
    var judged: [String] = []

    init(stages: [String: [String]]) { self.stages = stages }

    func prepare(_ conversation: ReasoningConversation) async throws -> any ReasoningPrefix {
        lock.withLock { prepared.append(conversation) }
        return Prefix("")
    }

    func sample(_ request: SampleRequest, onEvent: (SampleEvent) -> Void) async throws -> SampleResult {
        let key = request.opening.trimmingCharacters(in: .whitespacesAndNewlines)
        let texts = stages[key] ?? ["?"]
        lock.withLock { requests.append((request.groups.map(\.prefix.text), request.opening)) }
        var candidates: [Candidate] = [], continuations: [(any ReasoningPrefix)?] = []
        var k = 0
        for group in request.groups {
            for _ in 0..<group.count {
                try Task.checkCancellation()
                let text = texts[k % texts.count]
                for character in text { onEvent(.token(candidate: k, text: String(character))) }
                let logprobs = [Float](repeating: -Float(k + 1) / 10, count: text.count)
                onEvent(.finished(candidate: k, text: text, generated: text.count, logprob: Double(logprobs.reduce(0, +)),
                                  cutAt: nil))
                candidates.append(Candidate(text: text, logProbabilities: logprobs))
                let closing = request.stops.first ?? ""
                continuations.append(request.keepsContinuations
                                     ? Prefix(group.prefix.text + request.opening + text + closing) : nil)
                k += 1
            }
        }
        return SampleResult(candidates: candidates, continuations: continuations, promptTokens: 10 * request.groups.count,
                            cachedTokens: 7 * request.groups.count, generatedTokens: candidates.reduce(0) { $0 + $1.text.count })
    }

    func extend(_ prefix: any ReasoningPrefix, with pieces: [PrefixPiece]) async throws -> any ReasoningPrefix {
        Prefix(prefix.text + pieces.map(\.text).joined())
    }

    func choiceSession(sharing: (any ReasoningPrefix)?) -> any ChoiceSession { Session(self) }
}

@Suite("Strategies over a text-only ReasoningModel")
struct FakeReasoningModelTests {
    static let stages = [
        "<SUMMARY>": ["Count them.", "Guess."],
        "<CAPTION>": ["Two apples.", "Three apples, a good look.", "Four apples."],
        "<REASONING>": ["1 + 1 + 1 = 3, good."],
        "<CONCLUSION>": ["3", "three"],
        "": ["<SUMMARY>S</SUMMARY>\n\n<CAPTION>C</CAPTION>\n\n<REASONING>R</REASONING>\n\n<CONCLUSION>7</CONCLUSION>"],
    ]
    static let conversation = ReasoningConversation(question: "How many apples?", system: "Be brief.")

    @Test("stage-beam: each stage continues the chosen candidate's text, with its opening and closing tags")
    func stageBeamContinuesText() async throws {
        let model = FakeReasoningModel(stages: Self.stages)
        let record = try await Reasoner(model: model, judge: LogProbabilityJudge())
            .run(conversation: Self.conversation, configuration: ReasoningConfiguration(strategy: .stageBeam, candidates: 3))
        // The log-probability judge prefers candidate 0 (−0.1 per character) everywhere.
        #expect(record.stages == ["summary": "Count them.", "caption": "Two apples.", "reasoning": "1 + 1 + 1 = 3, good.",
                                  "conclusion": "3"])
        #expect(model.prepared == [Self.conversation])
        #expect(model.requests.map(\.opening) == ["<SUMMARY>", "\n\n<CAPTION>", "\n\n<REASONING>", "\n\n<CONCLUSION>"])
        #expect(model.requests[2].prefixes == ["<SUMMARY>Count them.</SUMMARY>\n\n<CAPTION>Two apples.</CAPTION>"])
        #expect(record.promptTokens == 40 && record.cachedTokens == 28)
    }

    @Test("the self judge reads its verdicts from the model's choice log-probabilities")
    func selfJudge() async throws {
        let model = FakeReasoningModel(stages: Self.stages)
        let record = try await Reasoner(model: model, judge: SelfJudge(model: model, system: "Be brief."))
            .run(conversation: Self.conversation, configuration: ReasoningConfiguration(strategy: .stageBeam, candidates: 3))
        #expect(record.stages["caption"] == "Three apples, a good look.")
        #expect(model.judged.contains { $0.contains("Question: How many apples?") && $0.contains("Response 2: Three apples") })
        #expect(model.requests[2].prefixes[0].hasSuffix("<CAPTION>Three apples, a good look.</CAPTION>"))
    }

    @Test("greedy and best-of-n: whole answers cut into stages")
    func wholeAnswers() async throws {
        let model = FakeReasoningModel(stages: Self.stages)
        for strategy in [Strategy.greedy, .bestOfN] {
            let record = try await Reasoner(model: model, judge: LogProbabilityJudge())
                .run(conversation: Self.conversation, configuration: ReasoningConfiguration(strategy: strategy, candidates: 2))
            #expect(record.answer == "7" && record.stages["caption"] == "C")
            #expect(record.steps[0].candidates.count == (strategy == .greedy ? 1 : 2))
        }
    }

    @Test("a branch continues from the picked candidate's text, and later stages build on it")
    func branch() async throws {
        let model = FakeReasoningModel(stages: Self.stages)
        let reasoner = Reasoner(model: model, judge: LogProbabilityJudge())
        let configuration = ReasoningConfiguration(strategy: .stageBeam, candidates: 2)
        let prepared = try await reasoner.prepare(Self.conversation)
        let record = try await reasoner.run(prepared: prepared, question: Self.conversation.question, configuration: configuration)
        let branched = try await reasoner.branch(from: record, step: 1, candidate: 1, prepared: prepared,
                                                 question: Self.conversation.question, configuration: configuration)
        #expect(branched.stages["caption"] == "Three apples, a good look." && branched.branchedFrom?.candidate == 1)
        #expect(model.requests.last?.prefixes.first?.contains("<CAPTION>Three apples, a good look.</CAPTION>\n\n<REASONING>") == true)
    }

    @Test("cancelling mid-stage returns a record marked stopped")
    func cancellation() async throws {
        let model = FakeReasoningModel(stages: Self.stages)
        let reasoner = Reasoner(model: model, judge: ManualJudge { _ in
            withUnsafeCurrentTask { $0?.cancel() }
            throw CancellationError()
        })
        let record = try await Task {
            try await reasoner.run(conversation: Self.conversation,
                                   configuration: ReasoningConfiguration(strategy: .stageBeam, candidates: 2))
        }.value
        #expect(record.stopped && record.steps.count == 1 && record.steps[0].by == .stopped)
    }
}
