import Foundation
import Inference

/// One stage's (or best-of-n's whole answer's) candidates and the decision over them.
public struct StageRecord: Sendable, Codable, Equatable {
    public var stage: String
    public var candidates: [Candidate]
    /// The best candidate, whose text the answer uses.
    public var chosen: Int
    /// The candidates kept as beams for the next stage, best first (`[chosen]` unless the run
    /// keeps several).
    public var kept: [Int]
    public var by: ChoiceSource
    public var verdict: Verdict?

    public init(stage: String, candidates: [Candidate], chosen: Int, kept: [Int]? = nil, by: ChoiceSource,
                verdict: Verdict? = nil) {
        self.stage = stage
        self.candidates = candidates
        self.chosen = chosen
        self.kept = kept ?? [chosen]
        self.by = by
        self.verdict = verdict
    }
}

/// Where a run continued from an earlier run's candidate ("take this candidate instead").
public struct BranchPoint: Sendable, Codable, Equatable {
    /// The index of the step (stage) in the earlier record.
    public var step: Int
    /// The candidate of that step taken instead.
    public var candidate: Int

    public init(step: Int, candidate: Int) {
        self.step = step
        self.candidate = candidate
    }
}

/// The whole run, a tree: per step, every candidate (each pointing at the candidate of the
/// step before that it continues), every decision, and the answer.
public struct ReasoningRecord: Sendable, Codable, Equatable {
    public var strategy: Strategy
    public var steps: [StageRecord]
    /// The chosen text of each stage (a stage the model skipped is absent).
    public var stages: [String: String]
    /// The conclusion, the answer proper.
    public var answer: String
    /// Positions prefilled into the model: the prompt, stage tags and branch paths, and the
    /// self judge's comparison prompts.
    public var promptTokens: Int
    public var generatedTokens: Int
    /// Of the prompt positions, those a server reported served from its prefix cache (nil: a
    /// local run, or a server that does not say).
    public var cachedTokens: Int?
    public var seconds: Double
    /// True when the run was stopped (cancelled) before it finished: the steps so far are
    /// complete records, and the last one holds the partial candidates.
    public var stopped: Bool
    /// Set when this run continued from another record's candidate.
    public var branchedFrom: BranchPoint?

    public init(strategy: Strategy, steps: [StageRecord], stages: [String: String], answer: String,
                promptTokens: Int, generatedTokens: Int, seconds: Double, stopped: Bool = false,
                branchedFrom: BranchPoint? = nil, cachedTokens: Int? = nil) {
        self.strategy = strategy
        self.cachedTokens = cachedTokens
        self.steps = steps
        self.stages = stages
        self.answer = answer
        self.promptTokens = promptTokens
        self.generatedTokens = generatedTokens
        self.seconds = seconds
        self.stopped = stopped
        self.branchedFrom = branchedFrom
    }

    /// The candidate index of every step on the path that ends at `candidate` of step `step`,
    /// found through the candidates' parents (a step without parents continues its chosen one).
    public func path(to candidate: Int, at step: Int) -> [Int] {
        Self.pathIndices(steps: steps, to: candidate, at: step)
    }

    static func pathIndices(steps: [StageRecord], to candidate: Int, at step: Int) -> [Int] {
        var indices = [candidate]
        var current = candidate
        var index = step
        while index > 0 {
            let parent = steps[index].candidates[current].parent ?? steps[index - 1].chosen
            indices.insert(parent, at: 0)
            current = parent
            index -= 1
        }
        return indices
    }

    /// The stage texts along the path to `candidate` of step `step` (stage-beam records).
    func stageTexts(to candidate: Int, at step: Int) -> [(Stage, String)] {
        path(to: candidate, at: step).enumerated().compactMap { index, chosen in
            Stage(rawValue: steps[index].stage).map { ($0, steps[index].candidates[chosen].text.trimmed) }
        }
    }
}

extension String {
    var trimmed: String { trimmingCharacters(in: .whitespacesAndNewlines) }
}
