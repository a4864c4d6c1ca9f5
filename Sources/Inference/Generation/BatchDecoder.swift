/// Decodes N continuations of one prompt together, one model batch per step: the stepping
/// API under `Generator` and stage-level beam search.
///
/// The first `step()` prefills the prompt as one batch into one sequence (forked from
/// `request.continuing` when given), forks it N − 1 times (the forks share the prompt's cache)
/// and samples every candidate's first token from the prompt's last logits row. A request of
/// several groups prefills all their prompts in that one batch, each on its own sequence. Each later
/// step feeds every unfinished candidate's last token as one batch of N items and samples the
/// next tokens. Candidate `i` has its own sampler, seeded with `seed + i`, its own stop
/// matcher and its own budget, so it produces exactly what a lone generation with seed
/// `seed + i` would.
///
/// Errors never escape: they end the affected candidates with `.failed`.
public struct BatchDecoder: Sendable {
    public let model: any TextModel
    public let tokenizer: any Tokenizer
    public let request: GenerationRequest
    private var candidates: [GenerationCandidate] = []
    /// The latest forward pass and, for each candidate, its row there.
    private var logits: Logits?
    private var rows: [Int]
    private var prefilled = false
    private var reportedDone = false
    public private(set) var stats = GenerationStats()
    private let clock = ContinuousClock()

    public init(model: any TextModel, tokenizer: any Tokenizer, request: GenerationRequest) {
        self.model = model
        self.tokenizer = tokenizer
        self.request = request
        rows = Array(repeating: 0, count: max(0, request.count))
    }

    /// True once every candidate has finished and `done` was returned.
    public var isFinished: Bool { reportedDone }

    /// The model sequences of unfinished candidates (nil before the prompt is prefilled).
    public var activeSequences: [SequenceID] {
        candidates.filter(\.isActive).compactMap(\.sequence)
    }

    /// Samples one token for every unfinished candidate (prefilling the prompt on the first
    /// call) and feeds them to the model. The last call's events end with `.done`.
    public mutating func step() -> [BatchGenerationEvent] {
        guard !reportedDone else { return [] }
        var events: [BatchGenerationEvent] = []
        if !prefilled {
            prefilled = true
            if let failure = prefill() {
                return failAll(failure)
            }
        }
        let start = clock.now
        var batch = Batch()
        var fed: [Int] = []
        for index in candidates.indices where candidates[index].isActive {
            if request.stop.budgetIsSpent(after: candidates[index].tokens.count) {
                candidates[index].end(.maxTokens)
                events += finish(index)
                continue
            }
            let rowIndex = rows[index]
            let sampled = logits!.row(rowIndex).withUnsafeBufferPointer { candidates[index].sampler.sample($0) }
            let canContinue = candidates[index].length < model.contextLength
            let token = candidates[index].take(sampled, tokenizer: tokenizer, stop: request.stop, canContinue: canContinue)
            stats.generatedTokens += 1
            events.append(.token(candidate: index, token))
            if candidates[index].isActive {
                batch.add(token: sampled.token, sequence: candidates[index].sequence!,
                          position: candidates[index].length, wantsLogits: true)
                fed.append(index)
            } else {
                events += finish(index)
            }
        }
        if !batch.isEmpty {
            do {
                let output = try model.forward(batch)
                logits = output
                for (row, index) in fed.enumerated() {
                    rows[index] = row
                    candidates[index].length += 1
                }
            } catch {
                for index in fed {
                    candidates[index].end(.failed(.model(error)))
                    events += finish(index)
                }
            }
        }
        stats.generationSeconds += seconds(since: start)
        events += doneIfFinished()
        return events
    }

    /// Ends every unfinished candidate as cancelled (releasing sequences as requested).
    public mutating func cancel() -> [BatchGenerationEvent] {
        guard !reportedDone else { return [] }
        if !prefilled {
            prefilled = true
            candidates = makeCandidates(sequences: Array(repeating: nil, count: max(0, request.count)))
        }
        var events: [BatchGenerationEvent] = []
        for index in candidates.indices where candidates[index].isActive {
            candidates[index].end(.cancelled)
            events += finish(index)
        }
        return events + doneIfFinished()
    }

    // MARK: - Steps

    /// Prefills every group's prompt in one batch and forks the candidates; nil on success.
    private mutating func prefill() -> GenerationError? {
        if let problem = request.problem { return problem }
        let start = clock.now
        var made: [SequenceID] = []
        do throws(TextModelError) {
            var bases: [(sequence: SequenceID, length: Int)] = []
            var batch = Batch()
            for group in request.groups {
                let base: SequenceID
                if let parent = group.continuing {
                    base = try model.fork(parent)
                } else {
                    base = try model.makeSequence()
                }
                made.append(base)
                let startPosition = try model.length(of: base)
                for (offset, input) in group.prompt.inputs.enumerated() {
                    let last = offset == group.prompt.count - 1
                    batch.items.append(Batch.Item(sequence: base, position: startPosition + offset, input: input,
                                                  wantsLogits: last))
                }
                bases.append((base, startPosition + group.prompt.count))
            }
            logits = try model.forward(batch)
            // Candidates in group order; each group's logits row is its prompt's last.
            var sequences: [SequenceID] = [], lengths: [Int] = [], groupOf: [Int] = []
            for (groupIndex, group) in request.groups.enumerated() {
                for copy in 0..<group.count {
                    let sequence = copy == 0 ? bases[groupIndex].sequence : try model.fork(bases[groupIndex].sequence)
                    if copy > 0 { made.append(sequence) }
                    sequences.append(sequence)
                    lengths.append(bases[groupIndex].length)
                    groupOf.append(groupIndex)
                }
            }
            rows = groupOf
            stats.promptTokens = request.groups.reduce(0) { $0 + $1.prompt.count }
            stats.promptSeconds = seconds(since: start)
            candidates = makeCandidates(sequences: sequences, lengths: lengths, groups: groupOf)
            return nil
        } catch {
            for sequence in made { model.release(sequence) }
            return .model(error)
        }
    }

    private func makeCandidates(sequences: [SequenceID?], lengths: [Int]? = nil, groups: [Int]? = nil) -> [GenerationCandidate] {
        let promptTokens = request.groups.map(\.prompt.tokens)
        return sequences.enumerated().map { index, sequence in
            GenerationCandidate(sequence: sequence, length: lengths?[index] ?? 0,
                                parameters: request.parameters.offsettingSeed(by: index),
                                promptTokens: promptTokens.isEmpty ? [] : promptTokens[groups?[index] ?? 0],
                                tokenizer: tokenizer, stop: request.stop,
                                rendersSpecialTokens: request.rendersSpecialTokens)
        }
    }

    private mutating func failAll(_ failure: GenerationError) -> [BatchGenerationEvent] {
        candidates = makeCandidates(sequences: Array(repeating: nil, count: max(0, request.count)))
        var events: [BatchGenerationEvent] = []
        for index in candidates.indices {
            candidates[index].reason = .failed(failure)
            events += finish(index)
        }
        return events + doneIfFinished()
    }

    /// Releases a candidate's sequence (unless kept) and reports it finished.
    private mutating func finish(_ index: Int) -> [BatchGenerationEvent] {
        var kept: SequenceID? = nil
        if let sequence = candidates[index].sequence {
            if request.keepsSequences {
                kept = sequence
            } else {
                model.release(sequence)
                candidates[index].sequence = nil
            }
        }
        return [.finished(candidate: index, candidates[index].result(sequence: kept))]
    }

    private mutating func doneIfFinished() -> [BatchGenerationEvent] {
        guard !reportedDone, candidates.allSatisfy({ !$0.isActive }) else { return [] }
        reportedDone = true
        let results = candidates.map { $0.result(sequence: request.keepsSequences ? $0.sequence : nil) }
        return [.done(results, stats)]
    }

    private func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = clock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    }
}

/// The state of one generated sequence: its model sequence, sampler, detokenizer and stop
/// matcher, and what it produced so far.
struct GenerationCandidate: Sendable {
    var sequence: SequenceID?
    /// The positions the model sequence holds (its next position).
    var length: Int
    var sampler: Sampler
    var detokenizer: StreamingDetokenizer
    var matcher: StopStringMatcher
    var tokens: [Int32] = []
    var logProbabilities: [Float] = []
    var text = ""
    var reason: FinishReason?

    init(sequence: SequenceID?, length: Int, parameters: SamplingParameters, promptTokens: [Int32],
         tokenizer: any Tokenizer, stop: StopCondition, rendersSpecialTokens: Bool) {
        self.sequence = sequence
        self.length = length
        sampler = Sampler(parameters: parameters)
        if parameters.penaltyIsActive { sampler.accept(contentsOf: promptTokens.suffix(parameters.repetitionWindow)) }
        detokenizer = StreamingDetokenizer(tokenizer: tokenizer, renderSpecial: rendersSpecialTokens)
        matcher = StopStringMatcher(stopStrings: stop.stopStrings)
    }

    var isActive: Bool { reason == nil }

    func result(sequence kept: SequenceID?) -> GenerationResult {
        GenerationResult(text: text, tokens: tokens, logProbabilities: logProbabilities,
                         reason: reason ?? .cancelled, sequence: kept)
    }

    /// Records a sampled token and decides whether the sequence ends with it. `canContinue` is
    /// false when the model sequence has no room for the token.
    mutating func take(_ sampled: SampledToken, tokenizer: any Tokenizer, stop: StopCondition,
                       canContinue: Bool) -> GeneratedToken {
        tokens.append(sampled.token)
        logProbabilities.append(sampled.logProbability)
        var released: String
        if stop.stopsAtEndOfGeneration && tokenizer.isEndOfGeneration(sampled.token) {
            released = matcher.append(detokenizer.finish())
            reason = .endOfGeneration
        } else {
            released = matcher.append(detokenizer.append(sampled.token))
            if stop.budgetIsSpent(after: tokens.count) {
                reason = .maxTokens
            } else if !canContinue {
                reason = .contextFull
            }
        }
        if let match = matcher.match {
            reason = .stopString(match)
        } else if reason != nil {
            released += endText()
        }
        text += released
        return GeneratedToken(token: sampled.token, text: released, logProbability: sampled.logProbability)
    }

    /// Ends the sequence without a new token (cancelled, failed, or a budget of 0). Text held
    /// back as a possible stop string is dropped, so `text` stays what was streamed.
    mutating func end(_ why: FinishReason) {
        reason = why
    }

    /// What the detokenizer and the stop matcher still hold, once the text is known to end.
    private mutating func endText() -> String {
        var released = matcher.append(detokenizer.finish())
        if let match = matcher.match {
            reason = .stopString(match)
        } else {
            released += matcher.flush()
        }
        return released
    }
}
