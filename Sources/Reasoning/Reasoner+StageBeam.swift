import Foundation
import Inference

extension Reasoner {
    /// One kept candidate of the previous stage: where the model continues from, and the path
    /// that led there.
    struct Beam {
        /// The prompt and the accepted text on this beam's path (released with the beam).
        var prefix: any ReasoningPrefix
        /// The earlier stages' texts on this beam's path.
        var history: [(Stage, String)]
        /// The candidate of the previous step this beam is.
        var origin: Int?
    }

    /// What a stage-beam search accumulates.
    struct Search {
        let prepared: any ReasoningPrefix
        let question: String
        let configuration: ReasoningConfiguration
        var steps: [StageRecord] = []
        var promptTokens = 0
        var cachedTokens: Int?
        var generatedTokens = 0
        var stopped = false
        var branchedFrom: BranchPoint?
    }

    /// Stage-level beam search from stage `first` on, with `beams` as the accepted prefixes.
    func stageBeam(_ search: inout Search, from first: Int, beams start: [Beam],
                   onEvent: (ReasoningEvent) -> Void) async throws -> ReasoningRecord {
        let configuration = search.configuration
        var beams = start
        let plan = configuration.stagePlan
        for index in first..<plan.stages.count where !search.stopped {
            let stage = plan.stages[index]
            let perBeam = max(1, configuration.candidates / max(1, beams.count))
            // Another stage's tag ends a candidate too: it is cut there, and continues as if it
            // had ended with its own closing tag.
            let request = SampleRequest(groups: beams.map { .init(prefix: $0.prefix, count: perBeam) },
                                        opening: plan.opening(index), stops: plan.stopStrings(index),
                                        cuts: plan.cutStrings(index), closing: plan.closing(index),
                                        parameters: configuration.parameters.offsettingSeed(by: 1000 * index),
                                        maxTokens: configuration.stageTokenBudget, keepsContinuations: true)
            onEvent(.stageStarted(stage: stage.rawValue, candidates: perBeam * beams.count))
            let result = try await model.sample(request) { Self.forward($0, stage: stage.rawValue, onEvent) }
            search.promptTokens += result.promptTokens
            search.generatedTokens += result.generatedTokens
            if let cached = result.cachedTokens { search.cachedTokens = (search.cachedTokens ?? 0) + cached }
            if let failure = result.failure { throw failure }
            let beamOf = result.candidates.indices.map { $0 / perBeam }
            var candidates = result.candidates
            for i in candidates.indices { candidates[i].parent = beams[beamOf[i]].origin }
            let step = try await choose(stage: stage.rawValue, stageForJudge: stage, question: search.question,
                                        histories: beamOf.map { beams[$0].history }, candidates: candidates,
                                        keep: index == plan.stages.count - 1 ? 1 : configuration.keep,
                                        shared: search.prepared, onEvent: onEvent)
            search.steps.append(step)
            search.promptTokens += step.verdict?.prefilledTokens ?? 0
            if step.by == .stopped {
                search.stopped = true
                break
            }
            // The kept candidates' continuations are the next beams; the rest are released.
            beams = try step.kept.map { kept in
                guard kept < result.continuations.count, let prefix = result.continuations[kept] else {
                    throw ReasoningError.noContinuation(stage: stage.rawValue, candidate: kept)
                }
                return Beam(prefix: prefix, history: beams[beamOf[kept]].history + [(stage, candidates[kept].text.trimmed)],
                            origin: kept)
            }
        }
        return record(of: search)
    }

    /// The record of a search: the answer follows the last step's chosen candidate's path.
    func record(of search: Search) -> ReasoningRecord {
        var record = ReasoningRecord(strategy: .stageBeam, steps: search.steps, stages: [:], answer: "",
                                     promptTokens: search.promptTokens, generatedTokens: search.generatedTokens,
                                     seconds: 0, stopped: search.stopped, branchedFrom: search.branchedFrom,
                                     cachedTokens: search.cachedTokens)
        if let last = search.steps.indices.last {
            let texts = record.stageTexts(to: search.steps[last].chosen, at: last)
            record.stages = Dictionary(texts.map { ($0.0.rawValue, $0.1) }, uniquingKeysWith: { _, latest in latest })
            record.answer = record.stages[Stage.conclusion.rawValue] ?? ""
        }
        return record
    }

    func finished(_ record: ReasoningRecord, start: Date) -> ReasoningRecord {
        var record = record
        record.seconds = Date().timeIntervalSince(start)
        return record
    }

    /// Continues `record` from candidate `candidate` of step `step` instead of the one chosen
    /// there (the UI's "take this candidate instead"): the steps up to it are kept, that
    /// candidate becomes the user's choice, and the later stages are generated again from it.
    /// Its path is prefilled from its tokens on the prepared prompt; nothing else is. A
    /// best-of-n or greedy record, or a pick in the last stage, needs no generation.
    public func branch(from record: ReasoningRecord, step: Int, candidate: Int, prepared: any ReasoningPrefix,
                       question: String, configuration: ReasoningConfiguration,
                       onEvent: (ReasoningEvent) -> Void = { _ in }) async throws -> ReasoningRecord {
        guard record.steps.indices.contains(step), record.steps[step].candidates.indices.contains(candidate) else {
            throw ReasoningError.noSuchCandidate(step: step, candidate: candidate)
        }
        let start = Date()
        let path = record.path(to: candidate, at: step)
        var steps = Array(record.steps.prefix(step + 1))
        for (index, chosen) in path.enumerated() where steps[index].chosen != chosen || index == step {
            steps[index].chosen = chosen
            steps[index].kept = [chosen]
            steps[index].by = .user
        }
        let stage = record.steps[step].stage
        onEvent(.stageChosen(stage: stage, candidate: candidate, by: .user, scores: steps[step].verdict?.scores ?? []))
        let branchPoint = BranchPoint(step: step, candidate: candidate)
        guard record.strategy == .stageBeam, step + 1 < configuration.stagePlan.stages.count else {
            var picked = ReasoningRecord(strategy: record.strategy, steps: steps, stages: [:], answer: "",
                                         promptTokens: 0, generatedTokens: 0, seconds: 0, branchedFrom: branchPoint)
            if record.strategy == .stageBeam {
                picked = self.record(of: Search(prepared: prepared, question: question, configuration: configuration,
                                                steps: steps, branchedFrom: branchPoint))
            } else {
                let stages = StageParser.stages(of: steps[step].candidates[candidate].text)
                picked.stages = Dictionary(uniqueKeysWithValues: stages.map { ($0.key.rawValue, $0.value) })
                picked.answer = stages[.conclusion] ?? ""
            }
            return finished(picked, start: start)
        }
        let plan = configuration.stagePlan
        let pieces = path.enumerated().flatMap { index, chosen -> [PrefixPiece] in
            let picked = steps[index].candidates[chosen]
            return [PrefixPiece(text: plan.opening(index)),
                    PrefixPiece(text: picked.text + (plan.closing(index) ?? ""), tokens: picked.tokens.isEmpty ? nil : picked.tokens)]
        }
        let branchStart = try await model.extend(prepared, with: pieces)
        var search = Search(prepared: prepared, question: question, configuration: configuration, steps: steps,
                            branchedFrom: branchPoint)
        let beam = Beam(prefix: branchStart, history: record.stageTexts(to: candidate, at: step), origin: candidate)
        return finished(try await stageBeam(&search, from: step + 1, beams: [beam], onEvent: onEvent), start: start)
    }
}
