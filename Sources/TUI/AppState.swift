/// One candidate of a stage as it streams.
public struct CandidateState: Sendable, Equatable, Codable {
    public var text = ""
    public var tokens = 0
    public var finished = false
    /// The other stage's tag the candidate ran into and was cut at (the compare view marks it).
    public var cutAt: String?
    public init(text: String = "", tokens: Int = 0, finished: Bool = false, cutAt: String? = nil) {
        self.text = text; self.tokens = tokens; self.finished = finished; self.cutAt = cutAt
    }
}

public enum StagePhase: String, Sendable, Equatable, Codable {
    case waiting, streaming, choosing, done, stopped, skipped, failed

    /// Whether the stage is being produced now (its body is open).
    public var isLive: Bool { self == .streaming || self == .choosing }
}

/// A stage of one answer: its candidates, the choice, and how it is shown.
public struct StageState: Sendable, Equatable, Codable {
    public var name: StageName
    public var candidates: [CandidateState] = []
    public var chosen: Int?
    /// The candidate whose text is shown (the chosen one unless the user browses).
    public var viewing = 0
    public var by: String?
    public var scores: [Double] = []
    public var phase: StagePhase = .waiting
    /// The user's own toggle, over the default.
    public var expanded: Bool?
    public var pinned = false

    public init(name: StageName) { self.name = name }

    public var shown: CandidateState? { candidates.indices.contains(viewing) ? candidates[viewing] : nil }
}

/// One answer to a question: the four stages. A turn holds several when the user picked
/// another candidate and the later stages were generated again.
public struct Branch: Sendable, Equatable, Codable {
    public var stages: [StageState] = StageName.allCases.map(StageState.init)
    /// Where it left the branch it came from: the stage index and the candidate taken.
    public var from: BranchOrigin?
    public var error: String?
    public var running = false
    public var stopped = false
    public var generatedTokens = 0
    public var seconds = 0.0
    public init() {}
}

public struct BranchOrigin: Sendable, Equatable, Codable {
    public var branch: Int
    public var stage: Int
    public var candidate: Int
}

/// A question and its answers.
public struct Turn: Sendable, Equatable, Codable {
    public var question: String
    public var branches: [Branch] = [Branch()]
    /// The branch shown.
    public var current = 0
    public init(question: String) { self.question = question }

    public var branch: Branch {
        get { branches[current] }
        set { branches[current] = newValue }
    }
}

/// What lies over the conversation.
public enum Overlay: Sendable, Equatable {
    case help
    /// All candidates of stage `stage` of the last turn; `selected` is highlighted; `manual`
    /// when the run waits for this pick.
    case compare(stage: Int, selected: Int, manual: Bool)
}

/// Settings that outlive a session (written to the config directory).
public struct Preferences: Sendable, Equatable, Codable {
    /// Whether finished hidden stages stay expanded.
    public var expandStages = false
    public init(expandStages: Bool = false) { self.expandStages = expandStages }
}

/// The whole state of the app: the Elm architecture's model.
public struct AppState: Sendable {
    public var size: Size
    public var theme: Theme
    public var colors: ColorSupport
    public var settings: ChatSettings
    public var preferences: Preferences
    public var modelName: String
    public var imagePath: String?
    public var image: PreviewImage?
    public var turns: [Turn] = []
    public var input = InputLine()
    /// The stage of the last turn that stage keys act on.
    public var focus: Int?
    public var overlay: Overlay?
    /// The turn and branch being generated.
    public var active: (turn: Int, branch: Int)?
    public var pendingPick: PickRequest?
    /// Lines scrolled up from the bottom of the conversation (0 follows the end).
    public var scroll = 0
    /// A message for the status line (an error or a confirmation).
    public var notice: String?
    /// Ctrl-C when idle arms quitting; a second one quits.
    public var quitArmed = false
    public var quit = false
    /// Seconds since the app started (ticks), for the elapsed time and tokens/s.
    public var now = 0.0
    public var runStarted = 0.0
    public var runTokens = 0

    public init(size: Size, theme: Theme = .fallback, colors: ColorSupport = .trueColor, settings: ChatSettings = ChatSettings(),
                preferences: Preferences = Preferences(), modelName: String = "", imagePath: String? = nil,
                image: PreviewImage? = nil, question: String = "") {
        self.size = size
        self.theme = theme
        self.colors = colors
        self.settings = settings
        self.preferences = preferences
        self.modelName = modelName
        self.imagePath = imagePath
        self.image = image
        input.text = question
        input.cursor = question.count
    }

    public var isRunning: Bool { active != nil }

    /// Whether a stage's body is shown.
    public func isExpanded(_ stage: StageState) -> Bool {
        if stage.name == .conclusion { return true }
        if let expanded = stage.expanded { return expanded }
        if stage.pinned || stage.phase.isLive { return true }
        return preferences.expandStages
    }
}
