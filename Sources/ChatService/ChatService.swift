import Foundation
import Inference
import Reasoning
import TUI

/// The `ChatBackend` the TUI talks to, over any `ReasoningModel` (local or remote): the
/// conversation since the image was loaded, the model that sees it, and each turn's records,
/// so that a candidate can be taken instead (`branch`) while the old branch stays.
public final class ChatService: ChatBackend, @unchecked Sendable {
    /// Connects to a server for `/server` (nil: the chat cannot switch).
    public typealias Connector = @Sendable (_ server: String) async throws -> any ChatModelSource

    public let system: String?
    /// The stage instruction, for models that want it (`ChatModelSource.wantsStageInstruction`).
    public let instruction: String?
    public let connector: Connector?
    public let baseParameters: SamplingParameters
    public let fixedSeed: Bool
    public let maxTokens: Int

    private let lock = NSLock()
    private var source: any ChatModelSource
    /// The model that answers: with the loaded image in view, or the text-only one.
    private var model: any ReasoningModel
    /// The loaded image, attached again when the source changes.
    private var imagePath: String?
    /// Questions and answers (conclusions) since the image was loaded.
    private var history: [ReasoningConversation.Turn] = []
    /// The turns' runs: per turn, the prepared prompt and each branch's record.
    private var runs: [Int: Run] = [:]

    private struct Run {
        var prepared: any ReasoningPrefix
        var model: any ReasoningModel
        var question: String
        var records: [ReasoningRecord]
        /// Where its answer is in `history` (nil: stopped, not part of the conversation).
        var historyIndex: Int?
    }

    /// `instruction`: asks for the four stages with every question, for the sources that want
    /// it (nil: never). `fixedSeed`: every answer samples with `parameters.seed` (else a new one).
    public init(source: any ChatModelSource, system: String?, instruction: String?, parameters: SamplingParameters,
                fixedSeed: Bool, maxTokens: Int, connector: Connector? = nil) throws {
        self.source = source
        self.connector = connector
        self.system = system
        self.instruction = instruction
        baseParameters = parameters
        self.fixedSeed = fixedSeed
        self.maxTokens = maxTokens
        model = try source.textOnlyModel()
    }

    public var modelName: String { lock.withLock { source.name } }

    /// Loads the image for the preview and for the model; later questions are about it (the
    /// conversation starts again).
    public func loadImage(path: String, progress: @escaping @Sendable (String) -> Void) async throws -> PreviewImage {
        let source = lock.withLock { self.source }
        let (preview, model) = try await source.attach(imageAt: path, progress: progress)
        lock.withLock {
            self.model = model
            imagePath = path
            history = []
        }
        return preview
    }

    /// Answers from now on with the model `server` serves; the conversation goes on, and the
    /// loaded image is sent to it.
    public func connect(server: String, progress: @escaping @Sendable (String) -> Void) async throws -> String {
        guard let connector else { throw ChatFailure("This chat cannot switch to a server.") }
        let source = try await connector(server)
        var model = try source.textOnlyModel()
        if let path = lock.withLock({ imagePath }) { model = try await source.attach(imageAt: path, progress: progress).1 }
        lock.withLock {
            self.source = source
            self.model = model
        }
        return source.name
    }

    func configuration(_ settings: ChatSettings) -> ReasoningConfiguration {
        var parameters = baseParameters
        let strategy = Strategy(rawValue: settings.strategy) ?? .greedy
        parameters.temperature = Float(settings.temperature ?? (strategy == .greedy ? 0 : 0.6))
        if !fixedSeed { parameters.seed = UInt64.random(in: 0..<UInt64(UInt32.max)) }
        var configuration = ReasoningConfiguration(strategy: strategy, candidates: max(1, settings.beam), keep: 1,
                                                   parameters: parameters, stageTokenBudget: maxTokens, maxTokens: maxTokens)
        configuration.stagePlan = lock.withLock { source.stagePlan }
        return configuration
    }

    /// The judge the settings name; the self judge compares on `model`, image in view.
    func judge(_ settings: ChatSettings, model: any ReasoningModel,
               pick: @escaping @Sendable (PickRequest) async throws -> Int) -> any Judge {
        switch settings.judge {
        case "manual":
            ManualJudge { context in
                try await pick(PickRequest(stage: context.stage.rawValue, candidates: context.candidates.count))
            }
        case "first": FirstJudge()
        case "self": SelfJudge(model: model, system: system)
        default: LogProbabilityJudge()
        }
    }

    public func ask(turn: Int, question: String, settings: ChatSettings,
                    pick: @escaping @Sendable (PickRequest) async throws -> Int,
                    events: @escaping @Sendable (BackendEvent) -> Void) async throws -> AnswerSummary {
        let (model, history, wantsInstruction) = lock.withLock { (self.model, self.history, source.wantsStageInstruction) }
        let reasoner = Reasoner(model: model, judge: judge(settings, model: model, pick: pick))
        let conversation = ReasoningConversation(question: question, system: system, history: history,
                                                 instruction: wantsInstruction ? instruction : nil)
        let start = Date()
        let prepared = try await reasoner.prepare(conversation)
        var translator = EventTranslator(events: events)
        let record = try await reasoner.run(prepared: prepared, question: question, configuration: configuration(settings)) {
            translator.handle($0)
        }
        lock.withLock {
            runs = runs.filter { $0.key >= turn - 1 }   // keep the last turns' caches only
            var index: Int?
            if !record.stopped {
                index = self.history.count
                self.history.append(.init(question: question, answer: record.answer))
            }
            runs[turn] = Run(prepared: prepared, model: model, question: question, records: [record], historyIndex: index)
        }
        return AnswerSummary(generatedTokens: record.generatedTokens, seconds: Date().timeIntervalSince(start),
                             stopped: record.stopped)
    }

    public func branch(turn: Int, from: Int, stage: String, candidate: Int, settings: ChatSettings,
                       pick: @escaping @Sendable (PickRequest) async throws -> Int,
                       events: @escaping @Sendable (BackendEvent) -> Void) async throws -> AnswerSummary {
        guard let run = lock.withLock({ runs[turn] }), run.records.indices.contains(from) else {
            throw ChatFailure("This answer's candidates are no longer held by the model (only the latest answers can branch); ask again.")
        }
        let record = run.records[from]
        let start = Date()
        let reasoner = Reasoner(model: run.model, judge: judge(settings, model: run.model, pick: pick))
        var configuration = configuration(settings)
        configuration.strategy = record.strategy
        let branched: ReasoningRecord
        if record.strategy == .stageBeam {
            guard let step = record.steps.firstIndex(where: { $0.stage == stage }) else {
                throw ChatFailure("The answer has no \(stage) stage to branch from.")
            }
            var translator = EventTranslator(events: events)
            branched = try await reasoner.branch(from: record, step: step, candidate: candidate, prepared: run.prepared,
                                                 question: run.question, configuration: configuration) { translator.handle($0) }
        } else {
            // A whole answer: taking candidate c of any stage takes that whole answer.
            branched = try await reasoner.branch(from: record, step: 0, candidate: candidate, prepared: run.prepared,
                                                 question: run.question, configuration: configuration)
            let candidates = record.steps[0].candidates.map { StageParser.stages(of: $0.text) }
            let first = (Stage(rawValue: stage).flatMap { Stage.allCases.firstIndex(of: $0) } ?? 0) + 1
            for later in Stage.allCases.dropFirst(first) {
                events(.stageStarted(stage: later.rawValue, candidates: candidates.count))
                for (index, stages) in candidates.enumerated() {
                    if let text = stages[later] { events(.token(stage: later.rawValue, candidate: index, text: text)) }
                    events(.candidateFinished(stage: later.rawValue, candidate: index, tokens: 0))
                }
                events(.stageChosen(stage: later.rawValue, candidate: candidate, by: "user", scores: []))
            }
        }
        lock.withLock {
            runs[turn]?.records.append(branched)
            if let index = runs[turn]?.historyIndex, history.indices.contains(index), !branched.stopped {
                history[index].answer = branched.answer
            }
        }
        return AnswerSummary(generatedTokens: branched.generatedTokens, seconds: Date().timeIntervalSince(start),
                             stopped: branched.stopped)
    }
}

/// The model side of a chat: the model that answers without an image, and how an image is
/// attached (decoded for the preview, and made visible to the model).
public protocol ChatModelSource: Sendable {
    /// The model's name, for the status bar.
    var name: String { get }
    /// The stages a stage-beam run goes through (a thinking model's two).
    var stagePlan: StagePlan { get }
    /// Whether questions get the stage instruction (not for a model trained on the format).
    var wantsStageInstruction: Bool { get }
    /// The model for questions without an image.
    func textOnlyModel() throws -> any ReasoningModel
    /// Loads the image at `path`: its pixels for the preview, and the model that sees it.
    func attach(imageAt path: String, progress: @escaping @Sendable (String) -> Void) async throws
        -> (PreviewImage, any ReasoningModel)
}

/// Why the chat cannot do what was asked: one sentence.
public struct ChatFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
