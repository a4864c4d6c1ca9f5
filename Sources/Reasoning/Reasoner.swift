import Foundation
import Inference

/// How the answer is searched for.
public enum Strategy: String, Sendable, CaseIterable, Codable {
    /// One pass through the four stages.
    case greedy
    /// N whole answers, decoded together; the judge picks one.
    case bestOfN = "best-of-n"
    /// Per stage, N candidates decoded together from forks of the accepted prefix; the judge
    /// keeps the best (or the best K), which become the prefixes of the next stage.
    case stageBeam = "stage-beam"
}

/// The settings of one reasoning run.
public struct ReasoningConfiguration: Sendable {
    public var strategy: Strategy
    /// Candidates per stage (stage-beam) or whole answers (best-of-n); 1 for greedy.
    public var candidates: Int
    /// Stage-beam: how many of a stage's candidates are kept as beams for the next stage
    /// (each then spawns `candidates / keep` candidates). 1 is LLaVA-CoT's search.
    public var keep: Int
    public var parameters: SamplingParameters
    /// Most tokens of one stage (stage-beam) before it is cut.
    public var stageTokenBudget: Int
    /// Most tokens of a whole answer (greedy, best-of-n).
    public var maxTokens: Int
    /// The stages a stage-beam search runs: LLaVA-CoT's four, or a thinking model's two.
    public var stagePlan: StagePlan = .llavaCoT

    public init(strategy: Strategy = .greedy, candidates: Int = 4, keep: Int = 1, parameters: SamplingParameters = .greedy,
                stageTokenBudget: Int = 512, maxTokens: Int = 2048) {
        self.strategy = strategy
        self.candidates = candidates
        self.keep = keep
        self.parameters = parameters
        self.stageTokenBudget = stageTokenBudget
        self.maxTokens = maxTokens
    }
}

/// What a run reports as it goes, for the UI and `ask --json`.
public enum ReasoningEvent: Sendable, Equatable {
    /// `stage` is a stage name, or `answer` for best-of-n's whole-answer candidates.
    case stageStarted(stage: String, candidates: Int)
    case token(stage: String, candidate: Int, text: String)
    /// `cutAt`: the other stage's tag the candidate ran into and was cut at (stage-beam), if any.
    case candidateFinished(stage: String, candidate: Int, text: String, tokens: Int, logprob: Double, cutAt: String? = nil)
    case stageChosen(stage: String, candidate: Int, by: ChoiceSource, scores: [Double])
    /// Stage-beam keeping several beams: the candidates kept, best first.
    case beamsKept(stage: String, candidates: [Int])
}

/// Why a reasoning request cannot run. `description` is one sentence naming the value.
public enum ReasoningError: Error, Sendable, Equatable, CustomStringConvertible {
    case noSuchCandidate(step: Int, candidate: Int)
    /// The model returned no continuation for a kept candidate (a model's fault).
    case noContinuation(stage: String, candidate: Int)

    public var description: String {
        switch self {
        case .noSuchCandidate(let step, let candidate):
            "The run has no candidate \(candidate + 1) at step \(step + 1) to continue from."
        case .noContinuation(let stage, let candidate):
            "The model kept no continuation of \(stage) candidate \(candidate + 1), so the next stage cannot start from it."
        }
    }
}

/// Runs a strategy over a `ReasoningModel`: the model's stream is cut into stages by
/// `StageParser`, candidates are sampled together in one request per step, and every
/// continuation starts from the prompt prepared once (the model shares what the candidates
/// have in common: forked KV caches locally, the server's prefix cache remotely). Cancelling
/// the calling task stops the run and returns a consistent record marked `stopped`.
public struct Reasoner: Sendable {
    public let model: any ReasoningModel
    public let judge: any Judge

    public init(model: any ReasoningModel, judge: any Judge) {
        self.model = model
        self.judge = judge
    }

    /// Prepares `conversation` once, for `run(prepared:…)` and `branch(…)`.
    public func prepare(_ conversation: ReasoningConversation) async throws -> any ReasoningPrefix {
        try await model.prepare(conversation)
    }

    /// Prepares `conversation` and runs `configuration.strategy` on it.
    public func run(conversation: ReasoningConversation, configuration: ReasoningConfiguration,
                    onEvent: (ReasoningEvent) -> Void = { _ in }) async throws -> ReasoningRecord {
        let start = Date()
        let prepared = try await prepare(conversation)
        var record = try await run(prepared: prepared, question: conversation.question, configuration: configuration,
                                   onEvent: onEvent)
        record.promptTokens += prepared.promptPositions
        record.seconds = Date().timeIntervalSince(start)
        return record
    }

    /// Runs `configuration.strategy` from a prepared prompt (which stays usable afterwards).
    public func run(prepared: any ReasoningPrefix, question: String, configuration: ReasoningConfiguration,
                    onEvent: (ReasoningEvent) -> Void = { _ in }) async throws -> ReasoningRecord {
        let start = Date()
        switch configuration.strategy {
        case .greedy, .bestOfN:
            var record = try await wholeAnswers(prepared: prepared, question: question, configuration: configuration,
                                                onEvent: onEvent)
            record.seconds = Date().timeIntervalSince(start)
            return record
        case .stageBeam:
            let beam = Beam(prefix: prepared, history: [], origin: nil)
            var search = Search(prepared: prepared, question: question, configuration: configuration)
            let record = try await stageBeam(&search, from: 0, beams: [beam], onEvent: onEvent)
            return finished(record, start: start)
        }
    }

    /// Greedy and best-of-n: whole answers from the prompt, then the judge's choice.
    private func wholeAnswers(prepared: any ReasoningPrefix, question: String, configuration: ReasoningConfiguration,
                              onEvent: (ReasoningEvent) -> Void) async throws -> ReasoningRecord {
        let count = configuration.strategy == .greedy ? 1 : max(1, configuration.candidates)
        let request = SampleRequest(groups: [.init(prefix: prepared, count: count)], parameters: configuration.parameters,
                                    maxTokens: configuration.maxTokens)
        let label = "answer"
        onEvent(.stageStarted(stage: label, candidates: count))
        let result = try await model.sample(request) { Self.forward($0, stage: label, onEvent) }
        if let failure = result.failure { throw failure }
        let candidates = result.candidates
        let step = try await choose(stage: label, stageForJudge: .conclusion, question: question, histories: nil,
                                    candidates: candidates, keep: 1, shared: prepared, onEvent: onEvent)
        let stages = StageParser.stages(of: candidates[step.chosen].text)
        return ReasoningRecord(strategy: configuration.strategy, steps: [step],
                               stages: Dictionary(uniqueKeysWithValues: stages.map { ($0.key.rawValue, $0.value) }),
                               answer: stages[.conclusion] ?? "",
                               promptTokens: result.promptTokens + (step.verdict?.prefilledTokens ?? 0),
                               generatedTokens: result.generatedTokens, seconds: 0, stopped: step.by == .stopped,
                               cachedTokens: result.cachedTokens)
    }

    /// Picks among a step's candidates: the judge's ranking, or `.stopped` when the run was
    /// cancelled before or during the judging.
    func choose(stage: String, stageForJudge: Stage, question: String, histories: [[(Stage, String)]]?,
                candidates: [Candidate], keep: Int, shared: (any ReasoningPrefix)?,
                onEvent: (ReasoningEvent) -> Void) async throws -> StageRecord {
        func stopped() -> StageRecord {
            onEvent(.stageChosen(stage: stage, candidate: 0, by: .stopped, scores: []))
            return StageRecord(stage: stage, candidates: candidates, chosen: 0, by: .stopped)
        }
        if Task.isCancelled { return stopped() }
        if candidates.count == 1 {
            onEvent(.stageChosen(stage: stage, candidate: 0, by: .only, scores: []))
            return StageRecord(stage: stage, candidates: candidates, chosen: 0, by: .only)
        }
        let histories = histories ?? Array(repeating: [], count: candidates.count)
        let context = JudgeContext(stage: stageForJudge, question: question, acceptedStages: Self.common(histories),
                                   candidates: candidates, histories: histories, sharedPrefix: shared)
        let verdict: Verdict
        do {
            verdict = try await judge.judge(context)
        } catch is CancellationError {
            return stopped()
        }
        if Task.isCancelled { return stopped() }
        let by: ChoiceSource = judge.name == "manual" ? .user : .judge
        let kept = Array(verdict.ranking(count: candidates.count).prefix(max(1, keep)))
        onEvent(.stageChosen(stage: stage, candidate: verdict.chosen, by: by, scores: verdict.scores))
        if kept.count > 1 { onEvent(.beamsKept(stage: stage, candidates: kept)) }
        return StageRecord(stage: stage, candidates: candidates, chosen: verdict.chosen, kept: kept, by: by, verdict: verdict)
    }

    /// The stages every history starts with.
    static func common(_ histories: [[(Stage, String)]]) -> [(Stage, String)] {
        guard var shared = histories.first else { return [] }
        for history in histories.dropFirst() {
            var length = 0
            while length < min(shared.count, history.count), shared[length] == history[length] { length += 1 }
            shared = Array(shared.prefix(length))
        }
        return shared
    }

    /// Passes a model's event on as a reasoning event of `stage`.
    static func forward(_ event: SampleEvent, stage: String, _ onEvent: (ReasoningEvent) -> Void) {
        switch event {
        case .token(let candidate, let text):
            onEvent(.token(stage: stage, candidate: candidate, text: text))
        case .finished(let candidate, let text, let generated, let logprob, let cutAt):
            onEvent(.candidateFinished(stage: stage, candidate: candidate, text: text, tokens: generated, logprob: logprob,
                                       cutAt: cutAt))
        }
    }
}
