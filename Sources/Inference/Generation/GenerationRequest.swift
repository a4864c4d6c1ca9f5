/// What to generate: a prompt, how to sample, when to stop, and how many candidates.
///
/// A request may hold several groups, each a prompt continuing its own sequence with its own
/// number of candidates; all of them are prefilled in one batch and decoded together (what
/// stage-level beam search with several kept beams uses). Candidates are numbered group by
/// group.
public struct GenerationRequest: Sendable, Equatable {
    /// One prompt, the sequence it continues, and how many candidates sample from it.
    public struct Group: Sendable, Equatable {
        /// The inputs to prefill in one batch.
        public var prompt: GenerationPrompt
        /// An existing model sequence to continue: it is forked (left unchanged) and the prompt
        /// is prefilled on the fork. Nil starts a new sequence.
        public var continuing: SequenceID?
        public var count: Int

        public init(prompt: GenerationPrompt, continuing: SequenceID? = nil, count: Int = 1) {
            self.prompt = prompt
            self.continuing = continuing
            self.count = count
        }
    }

    /// The groups, in candidate order (at least one).
    public var groups: [Group]
    /// Candidate `i` (over all groups) samples with `parameters.offsettingSeed(by: i)`.
    public var parameters: SamplingParameters
    public var stop: StopCondition
    /// Leave every candidate's sequence in the model (`GenerationResult.sequence`) for the
    /// caller to fork from and release; otherwise each is released as soon as it finishes.
    public var keepsSequences: Bool
    /// Whether control tokens' text (e.g. `<|eot_id|>`) appears in the output text.
    public var rendersSpecialTokens: Bool

    public init(prompt: GenerationPrompt, continuing: SequenceID? = nil, parameters: SamplingParameters = .greedy,
                stop: StopCondition = StopCondition(), count: Int = 1, keepsSequences: Bool = false,
                rendersSpecialTokens: Bool = false) {
        self.init(groups: [Group(prompt: prompt, continuing: continuing, count: count)], parameters: parameters,
                  stop: stop, keepsSequences: keepsSequences, rendersSpecialTokens: rendersSpecialTokens)
    }

    public init(groups: [Group], parameters: SamplingParameters = .greedy, stop: StopCondition = StopCondition(),
                keepsSequences: Bool = false, rendersSpecialTokens: Bool = false) {
        self.groups = groups
        self.parameters = parameters
        self.stop = stop
        self.keepsSequences = keepsSequences
        self.rendersSpecialTokens = rendersSpecialTokens
    }

    /// The first group's prompt.
    public var prompt: GenerationPrompt {
        get { groups[0].prompt }
        set { groups[0].prompt = newValue }
    }

    /// The sequence the first group continues.
    public var continuing: SequenceID? {
        get { groups[0].continuing }
        set { groups[0].continuing = newValue }
    }

    /// The number of candidates over all groups; setting it keeps only the first group, with
    /// that many candidates.
    public var count: Int {
        get { groups.reduce(0) { $0 + $1.count } }
        set { groups = [Group(prompt: groups[0].prompt, continuing: groups[0].continuing, count: newValue)] }
    }

    /// The first problem with the request itself, before any model call.
    var problem: GenerationError? {
        if groups.isEmpty { return .invalidCandidateCount(0) }
        if groups.contains(where: { $0.prompt.inputs.isEmpty }) { return .emptyPrompt }
        if let group = groups.first(where: { $0.count < 1 }) { return .invalidCandidateCount(group.count) }
        let problems = parameters.problems
        return problems.isEmpty ? nil : .invalidParameters(problems)
    }
}

/// What to prefill: tokens, and optionally rows of input embeddings (image tokens) at some
/// positions.
public struct GenerationPrompt: Sendable, Equatable {
    public var inputs: [Batch.Input]

    public init(inputs: [Batch.Input]) {
        self.inputs = inputs
    }

    public init(tokens: [Int32]) {
        inputs = tokens.map { .token($0) }
    }

    public var count: Int { inputs.count }

    /// The token ids of the prompt, skipping embedding rows (for the repetition window).
    public var tokens: [Int32] {
        inputs.compactMap { if case .token(let token) = $0 { token } else { nil } }
    }
}

/// Why a generation could not run. `description` is one sentence naming the value at fault.
public enum GenerationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// There was nothing to prefill, so there are no logits to sample the first token from.
    case emptyPrompt
    /// A sampling parameter is out of range (the sentences name it).
    case invalidParameters([String])
    /// The candidate count of a batch is below 1.
    case invalidCandidateCount(Int)
    /// The model failed in a forward pass or a cache operation.
    case model(TextModelError)

    public var description: String {
        switch self {
        case .emptyPrompt:
            "the prompt is empty, so there is nothing to continue; give at least one token"
        case .invalidParameters(let problems):
            problems.joined(separator: "; ")
        case .invalidCandidateCount(let count):
            "the number of candidates must be at least 1, not \(count)"
        case .model(let error):
            error.description
        }
    }
}
