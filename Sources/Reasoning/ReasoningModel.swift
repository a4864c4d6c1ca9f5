import Inference

/// The seam between the search and a model (DESIGN.md, "The seam between search and model").
///
/// The search (greedy, best-of-N, stage-beam, the judges) works in text: a conversation, the
/// assistant text so far, stage tags. The model side owns everything below text: chat templates,
/// tokens, images, KV caches and their forks (`LocalReasoningModel`), or requests to a server
/// whose prefix cache does the sharing (`RemoteModel`).
public protocol ReasoningModel: Sendable {
    /// Renders `conversation` and makes it ready to continue: the start of the assistant turn.
    func prepare(_ conversation: ReasoningConversation) async throws -> any ReasoningPrefix

    /// Samples `count` continuations of each group's prefix, after `request.opening`, until one
    /// of `request.stops` (or a cut), the end of the turn or the token budget. Candidates are
    /// numbered group by group; `onEvent` sees their text as it is sampled.
    func sample(_ request: SampleRequest, onEvent: (SampleEvent) -> Void) async throws -> SampleResult

    /// `prefix` followed by `pieces` (a chosen path's stage texts, as a branch continues it).
    func extend(_ prefix: any ReasoningPrefix, with pieces: [PrefixPiece]) async throws -> any ReasoningPrefix

    /// A session of the self judge's comparisons over one stage; it may keep what consecutive
    /// comparisons share (`sharing`: the run's prompt, image included).
    func choiceSession(sharing: (any ReasoningPrefix)?) -> any ChoiceSession
}

/// What the model is asked about: the system prompt, the earlier turns, and the question (with
/// the image, when the conversation has one).
public struct ReasoningConversation: Sendable, Equatable {
    public struct Turn: Sendable, Equatable {
        public var question: String
        public var answer: String

        public init(question: String, answer: String) {
            self.question = question
            self.answer = answer
        }
    }

    public var system: String?
    public var history: [Turn]
    public var question: String
    /// An instruction that asks for the four stages, put with the question (nil: none).
    public var instruction: String?
    /// Whether the image of the conversation goes with the question.
    public var withImage: Bool

    public init(question: String, system: String? = nil, history: [Turn] = [], instruction: String? = nil,
                withImage: Bool = true) {
        self.system = system
        self.history = history
        self.question = question
        self.instruction = instruction
        self.withImage = withImage
    }
}

/// A point to continue from: a prepared prompt and the assistant text after it. The model that
/// made it knows what it holds (a KV sequence, or the text to send again).
public protocol ReasoningPrefix: AnyObject, Sendable {
    /// The assistant text after the prompt.
    var text: String { get }
    /// The prompt positions computed to prepare the prompt (0 where a server does it later).
    var promptPositions: Int { get }
}

/// Fixed text appended to a prefix: the text, and the tokens a local model sampled for it
/// (used instead of encoding the text again, so a path is held exactly as it was sampled).
public struct PrefixPiece: Sendable, Equatable {
    public var text: String
    public var tokens: [Int32]?

    public init(text: String, tokens: [Int32]? = nil) {
        self.text = text
        self.tokens = tokens
    }
}

/// One request to sample candidates.
public struct SampleRequest: Sendable {
    public struct Group: Sendable {
        public var prefix: any ReasoningPrefix
        public var count: Int

        public init(prefix: any ReasoningPrefix, count: Int) {
            self.prefix = prefix
            self.count = count
        }
    }

    public var groups: [Group]
    /// Text written after each prefix before sampling (a stage's opening tag; "" for a whole answer).
    public var opening: String
    /// Strings that end a candidate as its stage should (the closing tag); excluded from its text.
    public var stops: [String]
    /// Strings that end a candidate early (other stages' tags): it is cut there.
    public var cuts: [String]
    /// What a cut candidate's continuation ends with instead of the tag that cut it.
    public var closing: String?
    public var parameters: SamplingParameters
    public var maxTokens: Int
    /// Whether each candidate's continuation (prefix + opening + text + closing) is returned.
    public var keepsContinuations: Bool

    public init(groups: [Group], opening: String = "", stops: [String] = [], cuts: [String] = [], closing: String? = nil,
                parameters: SamplingParameters, maxTokens: Int, keepsContinuations: Bool = false) {
        self.groups = groups
        self.opening = opening
        self.stops = stops
        self.cuts = cuts
        self.closing = closing
        self.parameters = parameters
        self.maxTokens = maxTokens
        self.keepsContinuations = keepsContinuations
    }
}

/// What a model reports while it samples.
public enum SampleEvent: Sendable {
    case token(candidate: Int, text: String)
    /// `text`: the candidate's text (a cut one: up to the tag); `generated`: the tokens it
    /// sampled and `logprob` their total log-probability (a cut one: up to and with the cut).
    case finished(candidate: Int, text: String, generated: Int, logprob: Double, cutAt: String?)
}

/// The candidates of a request, their continuations where asked for, and what it cost.
public struct SampleResult: Sendable {
    public var candidates: [Candidate]
    /// Per candidate, its continuation (`SampleRequest.keepsContinuations`).
    public var continuations: [(any ReasoningPrefix)?]
    /// Prompt positions computed for the request, and of those the ones a server reported cached.
    public var promptTokens: Int
    public var cachedTokens: Int?
    public var generatedTokens: Int
    /// A candidate's failure, if any (the others are kept).
    public var failure: (any Error)?

    public init(candidates: [Candidate], continuations: [(any ReasoningPrefix)?] = [], promptTokens: Int = 0,
                cachedTokens: Int? = nil, generatedTokens: Int = 0, failure: (any Error)? = nil) {
        self.candidates = candidates
        self.continuations = continuations
        self.promptTokens = promptTokens
        self.cachedTokens = cachedTokens
        self.generatedTokens = generatedTokens
        self.failure = failure
    }
}

/// The self judge's comparisons of one stage.
public protocol ChoiceSession: AnyObject, Sendable {
    /// The log-probabilities of `choices` (single tokens, e.g. `1` and `2`) as the first token
    /// of the answer to `conversation`.
    func logProbabilities(_ conversation: ReasoningConversation, choices: [String]) async throws -> [Double]
    /// Prompt positions computed so far (the part not shared with earlier comparisons).
    var promptTokens: Int { get }
}
