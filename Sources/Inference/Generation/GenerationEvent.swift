/// One sampled token of a generated sequence.
public struct GeneratedToken: Sendable, Hashable {
    public var token: Int32
    /// The text this token releases: complete UTF-8 only, with text that may begin a stop
    /// string held back until it is settled (so it can be empty, or carry earlier tokens' text).
    public var text: String
    /// The model's log-probability of the token (log-softmax of the raw logits, temperature 1).
    public var logProbability: Float

    public init(token: Int32, text: String, logProbability: Float) {
        self.token = token
        self.text = text
        self.logProbability = logProbability
    }
}

/// Timing and counts of one generation (or one batch of candidates).
public struct GenerationStats: Sendable, Hashable {
    /// Inputs prefilled (tokens and embedding rows), counted once for a batch.
    public var promptTokens: Int
    /// Tokens sampled, over all candidates of a batch.
    public var generatedTokens: Int
    public var promptSeconds: Double
    public var generationSeconds: Double

    public init(promptTokens: Int = 0, generatedTokens: Int = 0, promptSeconds: Double = 0, generationSeconds: Double = 0) {
        self.promptTokens = promptTokens
        self.generatedTokens = generatedTokens
        self.promptSeconds = promptSeconds
        self.generationSeconds = generationSeconds
    }

    public var promptTokensPerSecond: Double { promptSeconds > 0 ? Double(promptTokens) / promptSeconds : 0 }
    public var generationTokensPerSecond: Double {
        generationSeconds > 0 ? Double(generatedTokens) / generationSeconds : 0
    }
}

/// A finished sequence.
public struct GenerationResult: Sendable, Equatable {
    /// The emitted text: every token's text, without the stop string and what followed it.
    public var text: String
    /// Every sampled token, including an end-of-generation token or the one that completed a
    /// stop string.
    public var tokens: [Int32]
    /// The model's log-probability of each token in `tokens`.
    public var logProbabilities: [Float]
    public var reason: FinishReason
    /// The model sequence holding the prompt and every token but the last (which was sampled
    /// and never fed back); nil once released. Only kept when the request asks for it.
    public var sequence: SequenceID?

    public init(text: String, tokens: [Int32], logProbabilities: [Float], reason: FinishReason, sequence: SequenceID?) {
        self.text = text
        self.tokens = tokens
        self.logProbabilities = logProbabilities
        self.reason = reason
        self.sequence = sequence
    }

    /// The sum of `logProbabilities`: the log-probability of the whole continuation.
    public var totalLogProbability: Double { logProbabilities.reduce(0) { $0 + Double($1) } }
}

/// Events of `Generator.generate` (one sequence).
public enum GenerationEvent: Sendable, Equatable {
    case token(GeneratedToken)
    /// The last event.
    case finished(GenerationResult, GenerationStats)
}

/// Events of `Generator.generateBatch` (N candidates from one prompt). Tokens of different
/// candidates interleave, in candidate order within a step.
public enum BatchGenerationEvent: Sendable, Equatable {
    case token(candidate: Int, GeneratedToken)
    /// Candidate `candidate` ended; the others go on.
    case finished(candidate: Int, GenerationResult)
    /// The last event: every candidate has finished.
    case done([GenerationResult], GenerationStats)
}
