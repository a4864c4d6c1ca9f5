import Foundation

/// Messages posted from the backend's tasks to the run loop.
final class Mailbox: @unchecked Sendable {
    private let lock = NSLock()
    private var messages: [Message] = []

    func post(_ message: Message) { lock.withLock { messages.append(message) } }
    func drain() -> [Message] { lock.withLock { defer { messages = [] }; return messages } }
    var isEmpty: Bool { lock.withLock { messages.isEmpty } }
}

/// Hands a manual judge's question to the UI and its answer back.
final class PickBroker: @unchecked Sendable {
    private let lock = NSLock()
    private var waiting: CheckedContinuation<Int, any Error>?
    private var cancelled = false

    func request(_ post: @escaping @Sendable () -> Void) async throws -> Int {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Int, any Error>) in
                let resumeNow: Bool = lock.withLock {
                    if cancelled { cancelled = false; return true }
                    waiting = continuation
                    return false
                }
                if resumeNow { continuation.resume(throwing: CancellationError()) } else { post() }
            }
        } onCancel: {
            let continuation: CheckedContinuation<Int, any Error>? = lock.withLock {
                defer { waiting = nil }
                if waiting == nil { cancelled = true }
                return waiting
            }
            continuation?.resume(throwing: CancellationError())
        }
    }

    func answer(_ index: Int) {
        let continuation = lock.withLock { defer { waiting = nil }; return waiting }
        continuation?.resume(returning: index)
    }

    func reset() { lock.withLock { cancelled = false } }
}

/// The run loop: reads input, runs the update, performs its effects (backend calls in tasks
/// that post back to a mailbox), and draws only the cells that changed. The only code that
/// touches the terminal.
public final class ChatApp {
    public private(set) var state: AppState
    public let terminal: any Terminal
    let backend: any ChatBackend
    let view = View()
    let mailbox = Mailbox()
    let broker = PickBroker()
    private var task: Task<Void, Never>?
    private var tasks = 0
    private let pending = PendingCounter()
    private var previous: CellBuffer?
    private var headerRows: [Int: Int] = [:]
    private var dirty = true
    private let started = Date()
    /// Where preferences and sessions go (tests point them at a temporary folder).
    public var preferencesFile: URL
    public var sessionDirectory: URL
    /// Whether time passes by the clock (false in tests: elapsed times stay 0 for snapshots).
    public var ticks = true

    public init(state: AppState, terminal: any Terminal, backend: any ChatBackend,
                preferencesFile: URL = Preferences.file(), sessionDirectory: URL = Session.directory()) {
        var state = state
        state.size = terminal.size
        state.colors = terminal.colors
        if state.modelName.isEmpty { state.modelName = backend.modelName }
        self.state = state
        self.terminal = terminal
        self.backend = backend
        self.preferencesFile = preferencesFile
        self.sessionDirectory = sessionDirectory
    }

    /// Runs until the user quits. Blocks the calling thread.
    public func run() {
        if let path = state.imagePath, state.image == nil { perform(.loadImage(path)) }
        render()
        while !state.quit {
            let events = terminal.read(timeoutMilliseconds: state.isRunning || !pending.isZero ? 15 : 200)
            for event in events { send(event) }
            step()
        }
        task?.cancel()
        terminal.restore()
    }

    /// Handles one input event.
    public func send(_ event: InputEvent) {
        switch event {
        case .key(.control("z")):
            terminal.suspend()
            previous = nil
            dirty = true
        case .click(let point):
            if let stage = headerRows[point.y] { dispatch(.stageClicked(stage)) }
        case .resize:
            dispatch(.input(.resize(terminal.size)))
        default:
            dispatch(.input(event))
        }
    }

    public func send(_ keys: [Key]) { for key in keys { send(.key(key)) } }

    public func type(_ text: String) { for character in text { send(.key(.character(character))) } }

    /// Applies what the backend posted and redraws if anything changed.
    public func step() {
        for message in mailbox.drain() { dispatch(message) }
        if ticks && state.isRunning { dispatch(.tick(Date().timeIntervalSince(started))) }
        if dirty { render() }
    }

    /// Whether nothing is in flight: no answer, no image loading, nothing in the mailbox.
    public var isIdle: Bool { !state.isRunning && pending.isZero && mailbox.isEmpty }

    /// Steps until `condition` holds (or `seconds` pass); for tests.
    @discardableResult
    public func run(until condition: (AppState) -> Bool, seconds: Double = 120) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            step()
            if condition(state) && mailbox.isEmpty { return true }
            try? await Task.sleep(nanoseconds: 2_000_000)
        }
        step()
        return condition(state)
    }

    /// Steps until idle; for tests.
    @discardableResult
    public func settle(seconds: Double = 120) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            step()
            if isIdle { step(); return true }
            try? await Task.sleep(nanoseconds: 2_000_000)
        }
        return false
    }

    public func dispatch(_ message: Message) {
        let effects = state.update(message)
        dirty = true
        for effect in effects { perform(effect) }
    }

    /// Draws the state and sends the changed cells to the terminal; returns how many cells.
    @discardableResult
    public func render() -> Int {
        let frame = view.render(state)
        headerRows = frame.headerRows
        let runs = diff(from: previous, to: frame.buffer)
        if previous == nil { terminal.invalidate() }
        terminal.draw(runs, cursor: frame.cursor)
        previous = frame.buffer
        dirty = false
        return runs.reduce(0) { $0 + $1.cells.count }
    }

    /// The last frame drawn.
    public var screen: CellBuffer? { previous }

    private func perform(_ effect: Effect) {
        let mailbox = self.mailbox, broker = self.broker, backend = self.backend, pending = self.pending
        switch effect {
        case .ask(let turn, let question, let settings):
            start(turn: turn, branch: 0) { pick, events in
                try await backend.ask(turn: turn, question: question, settings: settings, pick: pick, events: events)
            }
        case .branch(let turn, let from, let stage, let candidate, let settings):
            let branch = state.turns[turn].branches.count - 1
            start(turn: turn, branch: branch) { pick, events in
                try await backend.branch(turn: turn, from: from, stage: stage, candidate: candidate, settings: settings,
                                         pick: pick, events: events)
            }
        case .stop:
            task?.cancel()
        case .answerPick(let index):
            broker.answer(index)
        case .loadImage(let path):
            pending.add(1)
            Task {
                do {
                    let image = try await backend.loadImage(path: path) { text in mailbox.post(.notice(text)) }
                    mailbox.post(.imageLoaded(path: path, image))
                } catch {
                    mailbox.post(.imageFailed(path: path, String(describing: error)))
                }
                pending.add(-1)
            }
        case .connect(let server):
            pending.add(1)
            Task {
                do {
                    let model = try await backend.connect(server: server) { text in mailbox.post(.notice(text)) }
                    mailbox.post(.serverConnected(model: model))
                } catch {
                    mailbox.post(.serverFailed(String(describing: error)))
                }
                pending.add(-1)
            }
        case .save(let name):
            let url = Session.file(named: name, in: sessionDirectory)
            do {
                try Session(imagePath: state.imagePath, settings: state.settings, turns: state.turns).save(to: url)
                dispatch(.notice("Saved \(url.path)."))
            } catch {
                dispatch(.notice("Cannot save \(url.path): \(error.localizedDescription)"))
            }
        case .load(let name):
            let url = Session.file(named: name, in: sessionDirectory)
            do {
                dispatch(.sessionLoaded(try Session.load(from: url)))
            } catch {
                dispatch(.notice("Cannot load \(url.path): \(error.localizedDescription)"))
            }
        case .savePreferences(let preferences):
            try? preferences.save(to: preferencesFile)
        case .redraw:
            previous = nil
        case .quit:
            task?.cancel()
        }
    }

    private func start(turn: Int, branch: Int,
                       _ body: @escaping @Sendable (@escaping @Sendable (PickRequest) async throws -> Int,
                                                    @escaping @Sendable (BackendEvent) -> Void) async throws -> AnswerSummary) {
        let mailbox = self.mailbox, broker = self.broker
        broker.reset()
        task = Task {
            let pick: @Sendable (PickRequest) async throws -> Int = { request in
                try await broker.request { mailbox.post(.pickRequested(turn: turn, branch: branch, request)) }
            }
            do {
                let summary = try await body(pick) { event in mailbox.post(.backend(turn: turn, branch: branch, event)) }
                mailbox.post(.finished(turn: turn, branch: branch, summary))
            } catch is CancellationError {
                mailbox.post(.finished(turn: turn, branch: branch, AnswerSummary(generatedTokens: 0, seconds: 0, stopped: true)))
            } catch {
                mailbox.post(.failed(turn: turn, branch: branch, String(describing: error)))
            }
        }
    }
}

/// Counts tasks in flight (image loads).
final class PendingCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add(_ delta: Int) { lock.withLock { count += delta } }
    var isZero: Bool { lock.withLock { count == 0 } }
}
