import Inference

/// One candidate continuation of a stage (or, for best-of-N, of the whole answer).
public struct Candidate: Sendable, Equatable, Codable {
    /// The stage text, tags removed.
    public var text: String
    /// The tokens a later stage continues from: the sampled tokens (with the closing tag that
    /// ended the stage), or for a cut candidate the sampled tokens before the cut and then the
    /// stage's own closing tag.
    public var tokens: [Int32]
    /// Natural-log probability of each sampled token under the sampling distribution's model
    /// (a cut candidate: of the sampled tokens it keeps).
    public var logProbabilities: [Float]
    /// The candidate of the previous step that this one continues, when a run keeps several
    /// beams (nil: the previous step's chosen candidate).
    public var parent: Int?
    /// The tag of another stage that the candidate ran into and was cut at (e.g. `</SUMMARY>`
    /// in a caption); nil when it ended as its stage should.
    public var cutAt: String?

    public init(text: String, tokens: [Int32] = [], logProbabilities: [Float] = [], parent: Int? = nil,
                cutAt: String? = nil) {
        self.text = text
        self.tokens = tokens
        self.logProbabilities = logProbabilities
        self.parent = parent
        self.cutAt = cutAt
    }

    /// Mean log-probability per token; −∞ for an empty candidate.
    public var meanLogProbability: Double {
        logProbabilities.isEmpty ? -.infinity : logProbabilities.reduce(0) { $0 + Double($1) } / Double(logProbabilities.count)
    }
}

/// Who or what picked a stage's candidate.
public enum ChoiceSource: String, Sendable, Codable {
    /// A judge compared or scored the candidates.
    case judge
    /// The person at the keyboard (the UI's manual pick or "take this candidate instead").
    case user
    /// There was one candidate.
    case only
    /// The run was stopped before a choice was made; the first candidate stands, as far as
    /// it got.
    case stopped
}

/// A judge's decision over a stage's candidates.
public struct Verdict: Sendable, Equatable, Codable {
    /// Index of the chosen candidate.
    public var chosen: Int
    /// A score per candidate where the judge has one (higher is better): mean log-probability
    /// for `logprob`, knockout wins for `self`; empty for `first` and `manual`.
    public var scores: [Double]
    /// The pairwise comparisons made, in order (for `self`): the two indices and the winner.
    public var comparisons: [Comparison]
    /// Positions the judge prefilled into the model (the self judge's comparison prompts,
    /// less what they forked from the run's prompt or the previous comparison); 0 otherwise.
    public var prefilledTokens: Int

    public struct Comparison: Sendable, Equatable, Codable {
        public var first: Int
        public var second: Int
        public var winner: Int

        public init(first: Int, second: Int, winner: Int) {
            self.first = first
            self.second = second
            self.winner = winner
        }
    }

    public init(chosen: Int, scores: [Double] = [], comparisons: [Comparison] = [], prefilledTokens: Int = 0) {
        self.chosen = chosen
        self.scores = scores
        self.comparisons = comparisons
        self.prefilledTokens = prefilledTokens
    }

    /// All `count` candidates, best first: the chosen one, then the others by score (higher
    /// first; no scores keeps their order), ties by index. Stage-beam keeps a prefix of this.
    public func ranking(count: Int) -> [Int] {
        let others = (0..<count).filter { $0 != chosen }.sorted { a, b in
            let scoreA = a < scores.count ? scores[a] : 0, scoreB = b < scores.count ? scores[b] : 0
            return scoreA != scoreB ? scoreA > scoreB : a < b
        }
        return [chosen] + others
    }
}

/// What a judge sees: the stage, the accepted text of the earlier stages, and the candidates.
public struct JudgeContext: Sendable {
    public var stage: Stage
    /// The question as the user asked it.
    public var question: String
    /// The chosen text of each earlier stage, where all candidates share it.
    public var acceptedStages: [(Stage, String)]
    public var candidates: [Candidate]
    /// Per candidate, the earlier stages it continues (all equal to `acceptedStages` unless
    /// the run keeps several beams).
    public var histories: [[(Stage, String)]]
    /// The run's prepared prompt, for a judge that runs the model and may share it.
    public var sharedPrefix: (any ReasoningPrefix)?

    public init(stage: Stage, question: String, acceptedStages: [(Stage, String)] = [], candidates: [Candidate],
                histories: [[(Stage, String)]]? = nil, sharedPrefix: (any ReasoningPrefix)? = nil) {
        self.stage = stage
        self.question = question
        self.acceptedStages = acceptedStages
        self.candidates = candidates
        self.histories = histories ?? Array(repeating: acceptedStages, count: candidates.count)
        self.sharedPrefix = sharedPrefix
    }
}

/// Picks one of a stage's candidates: the seam between the search and whatever decides.
public protocol Judge: Sendable {
    /// The name used on the command line and in records (`self`, `logprob`, `first`, `manual`).
    var name: String { get }
    /// Chooses among `context.candidates` (at least one). Throws `CancellationError` when the
    /// surrounding task is cancelled.
    func judge(_ context: JudgeContext) async throws -> Verdict
}

/// Always the first candidate: deterministic, for tests and for greedy runs.
public struct FirstJudge: Judge {
    public init() {}
    public var name: String { "first" }
    public func judge(_ context: JudgeContext) async throws -> Verdict {
        precondition(!context.candidates.isEmpty, "a judge needs at least one candidate")
        return Verdict(chosen: 0)
    }
}

/// The candidate whose tokens the model found most likely on average (ties: the earlier one).
public struct LogProbabilityJudge: Judge {
    public init() {}
    public var name: String { "logprob" }
    public func judge(_ context: JudgeContext) async throws -> Verdict {
        precondition(!context.candidates.isEmpty, "a judge needs at least one candidate")
        let scores = context.candidates.map(\.meanLogProbability)
        var best = 0
        for (index, score) in scores.enumerated() where score > scores[best] { best = index }
        return Verdict(chosen: best, scores: scores)
    }
}

/// Hands the choice to the caller (the UI), which answers through an async callback.
public struct ManualJudge: Judge {
    public let choose: @Sendable (JudgeContext) async throws -> Int

    public init(choose: @escaping @Sendable (JudgeContext) async throws -> Int) {
        self.choose = choose
    }

    public var name: String { "manual" }

    /// The error of a callback that picks no candidate.
    public struct InvalidChoice: Error, CustomStringConvertible {
        public let index: Int
        public let count: Int
        public var description: String { "The manual choice \(index) is not one of the \(count) candidates (0…\(count - 1))." }
    }

    public func judge(_ context: JudgeContext) async throws -> Verdict {
        let index = try await choose(context)
        try Task.checkCancellation()
        guard context.candidates.indices.contains(index) else {
            throw InvalidChoice(index: index, count: context.candidates.count)
        }
        return Verdict(chosen: index)
    }
}
