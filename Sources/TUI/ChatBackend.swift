/// An image as the preview draws it: RGB bytes, top row first.
public struct PreviewImage: Sendable, Equatable {
    public var width: Int
    public var height: Int
    /// `3 · width · height` bytes, R G B.
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        self.width = width
        self.height = height
        self.pixels = pixels
    }
}

/// The four stages, in order. A backend names stages by these raw values.
public enum StageName: String, Sendable, CaseIterable, Codable {
    case summary, caption, reasoning, conclusion

    public var title: String { rawValue.prefix(1).uppercased() + rawValue.dropFirst() }
    public var isHidden: Bool { self != .conclusion }
}

/// The generation settings the user can change with commands.
public struct ChatSettings: Sendable, Equatable, Codable {
    /// greedy, best-of-n or stage-beam.
    public var strategy: String
    public var beam: Int
    /// self, logprob, first or manual.
    public var judge: String
    public var temperature: Double?

    public init(strategy: String = "greedy", beam: Int = 4, judge: String = "logprob", temperature: Double? = nil) {
        self.strategy = strategy
        self.beam = beam
        self.judge = judge
        self.temperature = temperature
    }

    public static let strategies = ["greedy", "best-of-n", "stage-beam"]
    public static let judges = ["self", "logprob", "first", "manual"]
}

/// What a backend reports while it answers. Stage names are `StageName` raw values: a backend
/// over a whole-answer strategy splits each candidate's text into stages itself.
public enum BackendEvent: Sendable, Equatable {
    case stageStarted(stage: String, candidates: Int)
    case token(stage: String, candidate: Int, text: String)
    /// `cutAt`: the other stage's tag the candidate ran into and was cut at, if any.
    case candidateFinished(stage: String, candidate: Int, tokens: Int, cutAt: String? = nil)
    /// `by`: judge, user, only or stopped. `scores` may be empty.
    case stageChosen(stage: String, candidate: Int, by: String, scores: [Double])
}

/// The end of an answer.
public struct AnswerSummary: Sendable, Equatable {
    public var generatedTokens: Int
    public var seconds: Double
    public var stopped: Bool

    public init(generatedTokens: Int, seconds: Double, stopped: Bool) {
        self.generatedTokens = generatedTokens
        self.seconds = seconds
        self.stopped = stopped
    }
}

/// A stage waiting for the user's pick (manual judge).
public struct PickRequest: Sendable, Equatable {
    public var stage: String
    public var candidates: Int
    public init(stage: String, candidates: Int) { self.stage = stage; self.candidates = candidates }
}

/// What answers questions about an image: the `ponder` executable implements it over the
/// reasoning engine, tests with a script. Cancelling the task of `ask` or `branch` stops it;
/// it then returns a summary with `stopped` set.
public protocol ChatBackend: Sendable {
    /// The model's name, for the status bar.
    var modelName: String { get }
    /// Loads an image for the next questions, returning its pixels for the preview. Long
    /// encodes report how far they are through `progress` (a short line for the status bar).
    func loadImage(path: String, progress: @escaping @Sendable (String) -> Void) async throws -> PreviewImage
    /// Answers `question` (turn `turn` of the conversation), reporting events as they come.
    /// With the manual judge, `pick` is asked at each choice and answers a candidate index.
    func ask(turn: Int, question: String, settings: ChatSettings,
             pick: @escaping @Sendable (PickRequest) async throws -> Int,
             events: @escaping @Sendable (BackendEvent) -> Void) async throws -> AnswerSummary
    /// Continues branch `from` of turn `turn` (0: the answer `ask` gave, then the branches in
    /// the order they were made) from candidate `candidate` of stage `stage` instead of the one
    /// chosen there: the later stages are generated again, as a new branch; the old ones stay.
    func branch(turn: Int, from: Int, stage: String, candidate: Int, settings: ChatSettings,
                pick: @escaping @Sendable (PickRequest) async throws -> Int,
                events: @escaping @Sendable (BackendEvent) -> Void) async throws -> AnswerSummary
    /// `/server URL`: answers from now on with the model that server serves (the conversation
    /// and the image stay); returns the model's name for the status bar.
    func connect(server: String, progress: @escaping @Sendable (String) -> Void) async throws -> String
}

extension ChatBackend {
    public func connect(server: String, progress: @escaping @Sendable (String) -> Void) async throws -> String {
        throw BackendUnsupported(description: "This chat cannot switch to a server.")
    }
}

/// A request the backend does not support: one sentence.
public struct BackendUnsupported: Error, CustomStringConvertible {
    public let description: String
}
