import Foundation
import Inference

/// How the answer is searched for.
public enum Strategy: String, Sendable, CaseIterable, Codable {
    /// One pass through the four stages.
    case greedy
    /// N whole answers, decoded together; the judge picks one.
    case bestOfN = "best-of-n"
    /// Per stage, N candidates decoded together from a fork of the accepted prefix; the judge
    /// keeps one, which becomes the prefix of the next stage.
    case stageBeam = "stage-beam"
}

/// The settings of one reasoning run.
public struct ReasoningConfiguration: Sendable {
    public var strategy: Strategy
    /// Candidates per stage (stage-beam) or whole answers (best-of-n); 1 for greedy.
    public var candidates: Int
    public var parameters: SamplingParameters
    /// Most tokens of one stage (stage-beam) before it is cut.
    public var stageTokenBudget: Int
    /// Most tokens of a whole answer (greedy, best-of-n).
    public var maxTokens: Int

    public init(strategy: Strategy = .greedy, candidates: Int = 4, parameters: SamplingParameters = .greedy,
                stageTokenBudget: Int = 512, maxTokens: Int = 2048) {
        self.strategy = strategy
        self.candidates = candidates
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
    case candidateFinished(stage: String, candidate: Int, text: String, tokens: Int, logprob: Double)
    case stageChosen(stage: String, candidate: Int, by: ChoiceSource, scores: [Double])
}

/// One stage's (or best-of-n's whole answer's) candidates and the decision over them.
public struct StageRecord: Sendable, Codable, Equatable {
    public var stage: String
    public var candidates: [Candidate]
    public var chosen: Int
    public var by: ChoiceSource
    public var verdict: Verdict?
}

/// The whole run: every decision on record, and the answer.
public struct ReasoningRecord: Sendable, Codable, Equatable {
    public var strategy: Strategy
    public var steps: [StageRecord]
    /// The chosen text of each stage (a stage the model skipped is absent).
    public var stages: [String: String]
    /// The conclusion, the answer proper.
    public var answer: String
    public var promptTokens: Int
    public var generatedTokens: Int
    public var seconds: Double
}

/// Runs a strategy over a text model: the model's stream is cut into stages by
/// `StageParser`, candidates are decoded together in one batch per step, and stage-beam
/// continues from forks of the accepted prefix, so nothing is prefilled twice.
public struct Reasoner: Sendable {
    public let generator: Generator
    public let judge: any Judge

    public init(generator: Generator, judge: any Judge) {
        self.generator = generator
        self.judge = judge
    }

    public func run(prompt: GenerationPrompt, question: String, configuration: ReasoningConfiguration,
                    onEvent: (ReasoningEvent) -> Void = { _ in }) async throws -> ReasoningRecord {
        let start = Date()
        switch configuration.strategy {
        case .greedy, .bestOfN:
            let count = configuration.strategy == .greedy ? 1 : max(1, configuration.candidates)
            let request = GenerationRequest(prompt: prompt, parameters: configuration.parameters,
                                            stop: StopCondition(maxTokens: configuration.maxTokens), count: count)
            let label = "answer"
            onEvent(.stageStarted(stage: label, candidates: count))
            let (results, stats) = await generator.run(request) { event in
                Self.forward(event, stage: label, onEvent)
            }
            try Task.checkCancellation()
            let candidates = results.map { Candidate(text: $0.text, tokens: $0.tokens, logProbabilities: $0.logProbabilities) }
            let step = try await choose(stage: label, stageForJudge: .conclusion, question: question,
                                        accepted: [], candidates: candidates, onEvent: onEvent)
            let text = candidates[step.chosen].text
            let stages = StageParser.stages(of: text)
            return ReasoningRecord(strategy: configuration.strategy, steps: [step],
                                   stages: Dictionary(uniqueKeysWithValues: stages.map { ($0.key.rawValue, $0.value) }),
                                   answer: stages[.conclusion] ?? "", promptTokens: stats.promptTokens,
                                   generatedTokens: stats.generatedTokens, seconds: Date().timeIntervalSince(start))
        case .stageBeam:
            return try await stageBeam(prompt: prompt, question: question, configuration: configuration,
                                       start: start, onEvent: onEvent)
        }
    }

    private func stageBeam(prompt: GenerationPrompt, question: String, configuration: ReasoningConfiguration,
                           start: Date, onEvent: (ReasoningEvent) -> Void) async throws -> ReasoningRecord {
        let model = generator.model, tokenizer = generator.tokenizer
        var prefix: SequenceID?
        var steps: [StageRecord] = []
        var accepted: [(Stage, String)] = []
        var promptTokens = 0, generatedTokens = 0
        // Sampled tokens of the chosen candidate that its sequence does not hold yet (the
        // last sampled token is only fed to the model by the next step).
        var unfed: [Int32] = []
        defer { if let prefix { model.release(prefix) } }
        for (index, stage) in Stage.allCases.enumerated() {
            // The opening tag is prefilled: after the question for the first stage, after the
            // accepted prefix (which ends with the previous closing tag) for the others.
            let opening = tokenizer.encode((index == 0 ? "" : "\n\n") + stage.openingTag, addSpecial: false, parseSpecial: true)
            let inputs = (index == 0 ? prompt.inputs : []) + (unfed + opening).map { Batch.Input.token($0) }
            let count = max(1, configuration.candidates)
            let request = GenerationRequest(
                prompt: GenerationPrompt(inputs: inputs), continuing: prefix,
                parameters: configuration.parameters.offsettingSeed(by: 1000 * index),
                stop: StopCondition(stopStrings: [stage.closingTag], maxTokens: configuration.stageTokenBudget),
                count: count, keepsSequences: true)
            onEvent(.stageStarted(stage: stage.rawValue, candidates: count))
            let (results, stats) = await generator.run(request) { event in
                Self.forward(event, stage: stage.rawValue, onEvent)
            }
            promptTokens += stats.promptTokens
            generatedTokens += stats.generatedTokens
            let sequences = results.compactMap(\.sequence)
            do {
                try Task.checkCancellation()
                if case .failed(let error)? = results.first?.reason { throw error }
            } catch {
                sequences.forEach(model.release)
                throw error
            }
            let candidates = results.map { Candidate(text: $0.text, tokens: $0.tokens, logProbabilities: $0.logProbabilities) }
            let step: StageRecord
            do {
                step = try await choose(stage: stage.rawValue, stageForJudge: stage, question: question,
                                        accepted: accepted, candidates: candidates, onEvent: onEvent)
            } catch {
                sequences.forEach(model.release)
                throw error
            }
            steps.append(step)
            accepted.append((stage, candidates[step.chosen].text.trimmingCharacters(in: .whitespacesAndNewlines)))
            // The chosen candidate's sequence is the next prefix; the others are dropped.
            let prefixLength = try prefix.map { try model.length(of: $0) } ?? 0
            let chosen = results[step.chosen]
            if let sequence = chosen.sequence {
                let held = try model.length(of: sequence) - prefixLength - inputs.count
                unfed = Array(chosen.tokens.suffix(max(0, chosen.tokens.count - held)))
            }
            if let previous = prefix { model.release(previous) }
            prefix = chosen.sequence
            for (i, sequence) in sequences.enumerated() where results[i].sequence != prefix { model.release(sequence) }
        }
        let stages = Dictionary(uniqueKeysWithValues: accepted.map { ($0.0.rawValue, $0.1) })
        return ReasoningRecord(strategy: .stageBeam, steps: steps, stages: stages, answer: stages["conclusion"] ?? "",
                               promptTokens: promptTokens, generatedTokens: generatedTokens,
                               seconds: Date().timeIntervalSince(start))
    }

    private func choose(stage: String, stageForJudge: Stage, question: String, accepted: [(Stage, String)],
                        candidates: [Candidate], onEvent: (ReasoningEvent) -> Void) async throws -> StageRecord {
        if candidates.count == 1 {
            onEvent(.stageChosen(stage: stage, candidate: 0, by: .only, scores: []))
            return StageRecord(stage: stage, candidates: candidates, chosen: 0, by: .only, verdict: nil)
        }
        let verdict = try await judge.judge(JudgeContext(stage: stageForJudge, question: question,
                                                         acceptedStages: accepted, candidates: candidates))
        let by: ChoiceSource = judge.name == "manual" ? .user : .judge
        onEvent(.stageChosen(stage: stage, candidate: verdict.chosen, by: by, scores: verdict.scores))
        return StageRecord(stage: stage, candidates: candidates, chosen: verdict.chosen, by: by, verdict: verdict)
    }

    private static func forward(_ event: BatchGenerationEvent, stage: String, _ onEvent: (ReasoningEvent) -> Void) {
        switch event {
        case .token(let candidate, let token):
            if !token.text.isEmpty { onEvent(.token(stage: stage, candidate: candidate, text: token.text)) }
        case .finished(let candidate, let result):
            onEvent(.candidateFinished(stage: stage, candidate: candidate, text: result.text, tokens: result.tokens.count,
                                       logprob: result.totalLogProbability))
        case .done:
            break
        }
    }
}
