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
    /// For benchmarks only: stage-beam as the reference implementation runs it, every
    /// candidate from scratch on its own, with the prompt this builds (which may encode the
    /// image again). Nil is Ponder's shared-prefix search.
    public var naivePrompt: (@Sendable () throws -> GenerationPrompt)?
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

    public var description: String {
        switch self {
        case .noSuchCandidate(let step, let candidate):
            "The run has no candidate \(candidate + 1) at step \(step + 1) to continue from."
        }
    }
}

/// Runs a strategy over a text model: the model's stream is cut into stages by
/// `StageParser`, candidates are decoded together in one batch per step, and every
/// continuation forks the prompt prefilled once (`PreparedPrompt`), so nothing is prefilled
/// twice. Cancelling the calling task stops the run and returns a consistent record marked
/// `stopped`.
public struct Reasoner: Sendable {
    public let generator: Generator
    public let judge: any Judge

    public init(generator: Generator, judge: any Judge) {
        self.generator = generator
        self.judge = judge
    }

    /// Prefills `prompt` once, for `run(prepared:…)` and `branch(…)`.
    public func prepare(_ prompt: GenerationPrompt) throws -> PreparedPrompt {
        try PreparedPrompt(model: generator.model, prompt: prompt)
    }

    /// Prepares `prompt` and runs `configuration.strategy` on it.
    public func run(prompt: GenerationPrompt, question: String, configuration: ReasoningConfiguration,
                    onEvent: (ReasoningEvent) -> Void = { _ in }) async throws -> ReasoningRecord {
        let start = Date()
        let prepared = try prepare(prompt)
        var record = try await run(prepared: prepared, question: question, configuration: configuration, onEvent: onEvent)
        record.promptTokens += prepared.held.count
        record.seconds = Date().timeIntervalSince(start)
        return record
    }

    /// Runs `configuration.strategy` from a prepared prompt (which stays usable afterwards).
    public func run(prepared: PreparedPrompt, question: String, configuration: ReasoningConfiguration,
                    onEvent: (ReasoningEvent) -> Void = { _ in }) async throws -> ReasoningRecord {
        let start = Date()
        switch configuration.strategy {
        case .greedy, .bestOfN:
            var record = try await wholeAnswers(prepared: prepared, question: question, configuration: configuration,
                                                onEvent: onEvent)
            record.seconds = Date().timeIntervalSince(start)
            return record
        case .stageBeam:
            let beam = Beam(sequence: nil, pending: prepared.pending, history: [], origin: nil)
            var search = Search(prepared: prepared, question: question, configuration: configuration)
            let record = try await stageBeam(&search, from: 0, beams: [beam], onEvent: onEvent)
            return finished(record, start: start)
        }
    }

    /// Greedy and best-of-n: whole answers from the prompt, then the judge's choice.
    private func wholeAnswers(prepared: PreparedPrompt, question: String, configuration: ReasoningConfiguration,
                              onEvent: (ReasoningEvent) -> Void) async throws -> ReasoningRecord {
        let count = configuration.strategy == .greedy ? 1 : max(1, configuration.candidates)
        let request = GenerationRequest(prompt: GenerationPrompt(inputs: prepared.pending), continuing: prepared.sequence,
                                        parameters: configuration.parameters,
                                        stop: StopCondition(maxTokens: configuration.maxTokens), count: count)
        let label = "answer"
        onEvent(.stageStarted(stage: label, candidates: count))
        let (results, stats) = await generator.run(request) { event in
            Self.forward(event, stage: label, onEvent)
        }
        if case .failed(let error)? = results.first?.reason { throw error }
        let candidates = results.map { Candidate(text: $0.text, tokens: $0.tokens, logProbabilities: $0.logProbabilities) }
        let step = try await choose(stage: label, stageForJudge: .conclusion, question: question, histories: nil,
                                    candidates: candidates, keep: 1, shared: prepared.shared, onEvent: onEvent)
        let stages = StageParser.stages(of: candidates[step.chosen].text)
        return ReasoningRecord(strategy: configuration.strategy, steps: [step],
                               stages: Dictionary(uniqueKeysWithValues: stages.map { ($0.key.rawValue, $0.value) }),
                               answer: stages[.conclusion] ?? "",
                               promptTokens: stats.promptTokens + (step.verdict?.prefilledTokens ?? 0),
                               generatedTokens: stats.generatedTokens, seconds: 0, stopped: step.by == .stopped)
    }

    /// Picks among a step's candidates: the judge's ranking, or `.stopped` when the run was
    /// cancelled before or during the judging.
    func choose(stage: String, stageForJudge: Stage, question: String, histories: [[(Stage, String)]]?,
                candidates: [Candidate], keep: Int, shared: SharedPrefix?,
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

    /// Passes a generation event on as a reasoning event; a candidate that stopped at one of
    /// `cuts` is reported cut there, with its text up to the tag.
    static func forward(_ event: BatchGenerationEvent, stage: String, candidateOffset: Int = 0, cuts: [String] = [],
                        _ onEvent: (ReasoningEvent) -> Void) {
        switch event {
        case .token(let candidate, let token):
            if !token.text.isEmpty { onEvent(.token(stage: stage, candidate: candidate + candidateOffset, text: token.text)) }
        case .finished(let candidate, let result):
            let cut = cutTag(of: result, cuts: cuts)
            onEvent(.candidateFinished(stage: stage, candidate: candidate + candidateOffset,
                                       text: cut == nil ? result.text : result.text.trimmedAtEnd,
                                       tokens: result.tokens.count, logprob: result.totalLogProbability, cutAt: cut))
        case .done:
            break
        }
    }
}
