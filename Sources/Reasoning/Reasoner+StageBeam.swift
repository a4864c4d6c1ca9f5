import Foundation
import Inference

extension Reasoner {
    /// One kept candidate of the previous stage: where its text is held in the model and what
    /// is still to be fed before the next stage.
    struct Beam {
        /// Its own model sequence (released when the beam is dropped); nil: the prepared
        /// prompt's sequence, which the run does not own.
        var sequence: SequenceID?
        /// Inputs the sequence does not hold yet: the last sampled token (or the prompt's last
        /// input, or a branch's stage tokens).
        var pending: [Batch.Input]
        /// The earlier stages' texts on this beam's path.
        var history: [(Stage, String)]
        /// The candidate of the previous step this beam is.
        var origin: Int?
    }

    /// What a stage-beam search accumulates.
    struct Search {
        let prepared: PreparedPrompt
        let question: String
        let configuration: ReasoningConfiguration
        var steps: [StageRecord] = []
        var promptTokens = 0
        var generatedTokens = 0
        var stopped = false
        var branchedFrom: BranchPoint?
    }

    /// The tokens that open stage `index` of `plan` (LLaVA-CoT: its tag, after a blank line
    /// except for the first).
    func openingTokens(_ index: Int, _ plan: StagePlan) -> [Int32] {
        generator.tokenizer.encode(plan.opening(index), addSpecial: false, parseSpecial: true)
    }

    /// Stage-level beam search from stage `first` on, with `beams` as the accepted prefixes.
    func stageBeam(_ search: inout Search, from first: Int, beams start: [Beam],
                   onEvent: (ReasoningEvent) -> Void) async throws -> ReasoningRecord {
        let model = generator.model
        let configuration = search.configuration
        var beams = start
        defer { for beam in beams { if let sequence = beam.sequence { model.release(sequence) } } }
        let plan = configuration.stagePlan
        for index in first..<plan.stages.count where !search.stopped {
            let stage = plan.stages[index]
            let opening = openingTokens(index, plan).map { Batch.Input.token($0) }
            let perBeam = max(1, configuration.candidates / max(1, beams.count))
            let groups = beams.map { beam in
                GenerationRequest.Group(prompt: GenerationPrompt(inputs: beam.pending + opening),
                                        continuing: beam.sequence ?? search.prepared.sequence, count: perBeam)
            }
            let parameters = configuration.parameters.offsettingSeed(by: 1000 * index)
            // Another stage's tag ends a candidate too: it is cut there (`Reasoner+Cut`).
            let cuts = plan.cutStrings(index)
            let stop = StopCondition(stopStrings: plan.stopStrings(index) + cuts, maxTokens: configuration.stageTokenBudget)
            onEvent(.stageStarted(stage: stage.rawValue, candidates: perBeam * beams.count))
            let results: [GenerationResult]
            if let naivePrompt = configuration.naivePrompt {
                results = try await naiveCandidates(naivePrompt, beams: beams, opening: opening, perBeam: perBeam,
                                                    parameters: parameters, stop: stop, stage: stage, cuts: cuts,
                                                    search: &search, onEvent: onEvent)
            } else {
                let request = GenerationRequest(groups: groups, parameters: parameters, stop: stop, keepsSequences: true)
                let (generated, stats) = await generator.run(request) { event in
                    Self.forward(event, stage: stage.rawValue, cuts: cuts, onEvent)
                }
                search.promptTokens += stats.promptTokens
                search.generatedTokens += stats.generatedTokens
                results = generated
            }
            let sequences = results.compactMap(\.sequence)
            var keptSequences: Set<SequenceID> = []
            defer { for sequence in sequences where !keptSequences.contains(sequence) { model.release(sequence) } }
            if case .failed(let error)? = results.first(where: { if case .failed = $0.reason { true } else { false } })?.reason {
                throw error
            }
            let beamOf = results.indices.map { $0 / perBeam }
            let candidates = results.enumerated().map { i, result in
                candidate(from: result, cuts: cuts, closing: plan.closing(index), parent: beams[beamOf[i]].origin)
            }
            let step: StageRecord
            do {
                step = try await choose(stage: stage.rawValue, stageForJudge: stage, question: search.question,
                                        histories: beamOf.map { beams[$0].history }, candidates: candidates,
                                        keep: index == plan.stages.count - 1 ? 1 : configuration.keep,
                                        shared: search.prepared.shared, onEvent: onEvent)
            }
            search.steps.append(step)
            search.promptTokens += step.verdict?.prefilledTokens ?? 0
            if step.by == .stopped {
                search.stopped = true
                break
            }
            // The kept candidates' sequences are the next beams; the rest are released. A sequence
            // holds the sampled tokens but the last; one that departs from the candidate's tokens
            // (a cut candidate: the tag that cut it) is truncated where they part, and the
            // candidate's tokens from there on are fed before the next stage.
            var next: [Beam] = []
            for kept in step.kept {
                let parent = beams[beamOf[kept]]
                let result = results[kept]
                let tokens = candidates[kept].tokens
                var pending: [Batch.Input] = []
                if let sequence = result.sequence {
                    keptSequences.insert(sequence)
                    let parentLength = try parent.sequence.map { try model.length(of: $0) } ?? search.prepared.held.count
                    let length = try model.length(of: sequence)
                    let held = min(max(0, length - parentLength - parent.pending.count - opening.count), result.tokens.count)
                    let reused = Self.commonPrefixLength(result.tokens.prefix(held), tokens)
                    if reused < held { try model.truncate(sequence, to: length - held + reused) }
                    pending = tokens.dropFirst(reused).map { .token($0) }
                }
                next.append(Beam(sequence: result.sequence, pending: pending,
                                 history: parent.history + [(stage, candidates[kept].text.trimmed)], origin: kept))
            }
            for beam in beams { if let sequence = beam.sequence { model.release(sequence) } }
            beams = next
        }
        return record(of: search)
    }

    /// The reference implementation's cost: each candidate on its own, from a prompt built
    /// anew (the image encoded again) and prefilled with its whole accepted path.
    private func naiveCandidates(_ naivePrompt: @Sendable () throws -> GenerationPrompt, beams: [Beam],
                                 opening: [Batch.Input], perBeam: Int, parameters: SamplingParameters,
                                 stop: StopCondition, stage: Stage, cuts: [String], search: inout Search,
                                 onEvent: (ReasoningEvent) -> Void) async throws -> [GenerationResult] {
        var results: [GenerationResult] = []
        for (beamIndex, beam) in beams.enumerated() {
            let path = search.steps.isEmpty ? [] : search.steps.indices.flatMap { step -> [Batch.Input] in
                let chosen = ReasoningRecord.pathIndices(steps: search.steps, to: beam.origin ?? 0, at: search.steps.count - 1)[step]
                return (openingTokens(step, search.configuration.stagePlan) + search.steps[step].candidates[chosen].tokens)
                    .map { .token($0) }
            }
            for copy in 0..<perBeam {
                let prompt = try naivePrompt()
                let offset = beamIndex * perBeam + copy
                let request = GenerationRequest(prompt: GenerationPrompt(inputs: prompt.inputs + path + opening),
                                                parameters: parameters.offsettingSeed(by: offset), stop: stop)
                let (generated, stats) = await generator.run(request) { event in
                    Self.forward(event, stage: stage.rawValue, candidateOffset: offset, cuts: cuts, onEvent)
                }
                search.promptTokens += stats.promptTokens
                search.generatedTokens += stats.generatedTokens
                results += generated
            }
        }
        return results
    }

    /// The record of a search: the answer follows the last step's chosen candidate's path.
    func record(of search: Search) -> ReasoningRecord {
        var record = ReasoningRecord(strategy: .stageBeam, steps: search.steps, stages: [:], answer: "",
                                     promptTokens: search.promptTokens, generatedTokens: search.generatedTokens,
                                     seconds: 0, stopped: search.stopped, branchedFrom: search.branchedFrom)
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
    public func branch(from record: ReasoningRecord, step: Int, candidate: Int, prepared: PreparedPrompt,
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
        let pending = prepared.pending + path.enumerated().flatMap { index, chosen in
            (openingTokens(index, configuration.stagePlan) + steps[index].candidates[chosen].tokens).map { Batch.Input.token($0) }
        }
        var search = Search(prepared: prepared, question: question, configuration: configuration, steps: steps,
                            branchedFrom: branchPoint)
        let beam = Beam(sequence: nil, pending: pending, history: record.stageTexts(to: candidate, at: step), origin: candidate)
        return finished(try await stageBeam(&search, from: step + 1, beams: [beam], onEvent: onEvent), start: start)
    }
}
