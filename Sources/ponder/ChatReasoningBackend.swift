import Foundation
import Inference
import Reasoning
import TUI

/// The TUI's `ChatBackend` over the reasoning engine: one loaded `ChatModel`, the current
/// image's embeddings (encoded once per image), the conversation so far, and each turn's
/// records so that a candidate can be taken instead (`branch`) while the old branch stays.
final class ChatReasoningBackend: ChatBackend, @unchecked Sendable {
    let chat: ChatModel
    let generator: Generator
    let modelName: String
    let system: String?
    let stageInstruction: String?
    let baseParameters: SamplingParameters
    let fixedSeed: Bool
    let maxTokens: Int

    private let lock = NSLock()
    private var images: [EncodedImage] = []
    /// Questions and answers (conclusions) since the image was loaded.
    private var history: [(question: String, answer: String)] = []
    /// The turns' runs: per turn, the prepared prompt and each branch's record.
    private var runs: [Int: Run] = [:]

    private struct Run {
        var prepared: LocalPrefix
        var question: String
        var records: [ReasoningRecord]
        /// Where its answer is in `history` (nil: stopped, not part of the conversation).
        var historyIndex: Int?
    }

    init(chat: ChatModel, modelName: String, system: String?, stageInstruction: String?, parameters: SamplingParameters,
         fixedSeed: Bool, maxTokens: Int) {
        self.chat = chat
        generator = Generator(model: chat.textModel, tokenizer: chat.tokenizer)
        self.modelName = modelName
        self.system = system
        self.stageInstruction = stageInstruction
        baseParameters = parameters
        self.fixedSeed = fixedSeed
        self.maxTokens = maxTokens
    }

    /// Decodes the image for the preview and encodes it for the model; later questions are
    /// about it (the conversation starts again).
    func loadImage(path: String, progress: @escaping @Sendable (String) -> Void) async throws -> PreviewImage {
        let pixels: RGBImage
        do {
            pixels = try ImageDecoder.decode(contentsOf: path)
        } catch {
            throw CommandFailure(error)
        }
        guard chat.vision != nil else { throw CommandFailure(ChatModelError.noVisionProjector(image: path)) }
        let embeddings = try chat.encodeImage(atPath: path) { done, total in
            progress("Encoding the image: layer \(done) of \(total)…")
        }
        lock.withLock {
            images = [embeddings]
            history = []
        }
        return PreviewImage(width: pixels.width, height: pixels.height, pixels: pixels.pixels)
    }

    private func configuration(_ settings: ChatSettings) -> ReasoningConfiguration {
        var parameters = baseParameters
        let strategy = Strategy(rawValue: settings.strategy) ?? .greedy
        parameters.temperature = Float(settings.temperature ?? (strategy == .greedy ? 0 : 0.6))
        if !fixedSeed { parameters.seed = UInt64.random(in: 0..<UInt64(UInt32.max)) }
        var configuration = ReasoningConfiguration(strategy: strategy, candidates: max(1, settings.beam), keep: 1,
                                                   parameters: parameters, stageTokenBudget: maxTokens, maxTokens: maxTokens)
        if chat.opensThinking { configuration.stagePlan = .thinking }
        return configuration
    }

    private func judge(_ settings: ChatSettings, pick: @escaping @Sendable (PickRequest) async throws -> Int) -> any Judge {
        let images = lock.withLock { self.images }
        switch settings.judge {
        case "manual":
            return ManualJudge { context in
                try await pick(PickRequest(stage: context.stage.rawValue, candidates: context.candidates.count))
            }
        case "first": return FirstJudge()
        case "self":
            let chat = self.chat, system = self.system
            return SelfJudge(model: chat.textModel, tokenizer: chat.tokenizer, sharesPrefixes: true) { instruction in
                var messages: [ChatMessage] = []
                if let system { messages.append(.system(system)) }
                messages.append(.user(instruction, images: images.count))
                return try chat.prompt(messages, images: images)
            }
        default: return LogProbabilityJudge()
        }
    }

    func ask(turn: Int, question: String, settings: ChatSettings, pick: @escaping @Sendable (PickRequest) async throws -> Int,
             events: @escaping @Sendable (BackendEvent) -> Void) async throws -> AnswerSummary {
        let (images, history) = lock.withLock { (self.images, self.history) }
        let reasoner = Reasoner(generator: generator, judge: judge(settings, pick: pick))
        let prompt = try chat.prompt(question: question, instruction: stageInstruction, system: system, images: images,
                                     history: history)
        guard prompt.count < chat.textModel.contextLength else {
            throw CommandFailure("The conversation is \(prompt.count) positions (image included), more than the context of \(chat.textModel.contextLength); load the image again (/image) to start over.")
        }
        let start = Date()
        let prepared = try reasoner.prepare(prompt)
        var translator = EventTranslator(events: events)
        let record = try await reasoner.run(prepared: prepared, question: question, configuration: configuration(settings)) {
            translator.handle($0)
        }
        translator.finish()
        lock.withLock {
            runs = runs.filter { $0.key >= turn - 1 }   // keep the last turns' caches only
            var index: Int?
            if !record.stopped {
                index = self.history.count
                self.history.append((question, record.answer))
            }
            runs[turn] = Run(prepared: prepared, question: question, records: [record], historyIndex: index)
        }
        return AnswerSummary(generatedTokens: record.generatedTokens, seconds: Date().timeIntervalSince(start),
                             stopped: record.stopped)
    }

    func branch(turn: Int, from: Int, stage: String, candidate: Int, settings: ChatSettings,
                pick: @escaping @Sendable (PickRequest) async throws -> Int,
                events: @escaping @Sendable (BackendEvent) -> Void) async throws -> AnswerSummary {
        guard let run = lock.withLock({ runs[turn] }), run.records.indices.contains(from) else {
            throw CommandFailure("This answer's candidates are no longer held by the model (only the latest answers can branch); ask again.")
        }
        let record = run.records[from]
        let start = Date()
        let reasoner = Reasoner(generator: generator, judge: judge(settings, pick: pick))
        var configuration = configuration(settings)
        configuration.strategy = record.strategy
        let branched: ReasoningRecord
        if record.strategy == .stageBeam {
            guard let step = record.steps.firstIndex(where: { $0.stage == stage }) else {
                throw CommandFailure("The answer has no \(stage) stage to branch from.")
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

/// Turns the engine's events into the TUI's. Stage-beam events pass through; greedy and
/// best-of-n stream whole answers (stage `answer`), which are cut into stages per candidate
/// with `StageParser`, so every strategy shows the same four stages.
struct EventTranslator {
    let events: @Sendable (BackendEvent) -> Void
    private var parsers: [StageParser] = []
    private var candidates = 1
    private var started: [Stage] = []
    /// Token events forwarded, per candidate and stage.
    private var counts: [[Stage: Int]] = []

    init(events: @escaping @Sendable (BackendEvent) -> Void) { self.events = events }

    mutating func handle(_ event: ReasoningEvent) {
        switch event {
        case .stageStarted(let stage, let count) where stage == "answer":
            candidates = count
            parsers = Array(repeating: StageParser(), count: count)
            counts = Array(repeating: [:], count: count)
        case .token(let stage, let candidate, let text) where stage == "answer":
            guard parsers.indices.contains(candidate) else { return }
            let parsed = parsers[candidate].feed(text)
            for piece in parsed { forward(piece, candidate: candidate) }
        case .candidateFinished(let stage, let candidate, _, _, _, _) where stage == "answer":
            guard parsers.indices.contains(candidate) else { return }
            for piece in parsers[candidate].finish() { forward(piece, candidate: candidate) }
            for stage in started {
                events(.candidateFinished(stage: stage.rawValue, candidate: candidate, tokens: counts[candidate][stage] ?? 0))
            }
        case .stageChosen(let stage, let candidate, let by, let scores) where stage == "answer":
            for stage in started where !(candidates == 1 && by != .stopped) {
                events(.stageChosen(stage: stage.rawValue, candidate: candidate, by: by.rawValue, scores: scores))
            }
        case .stageStarted(let stage, let count):
            events(.stageStarted(stage: stage, candidates: count))
        case .token(let stage, let candidate, let text):
            events(.token(stage: stage, candidate: candidate, text: text))
        case .candidateFinished(let stage, let candidate, _, let tokens, _, let cutAt):
            events(.candidateFinished(stage: stage, candidate: candidate, tokens: tokens, cutAt: cutAt))
        case .stageChosen(let stage, let candidate, let by, let scores):
            events(.stageChosen(stage: stage, candidate: candidate, by: by.rawValue, scores: scores))
        case .beamsKept:
            break
        }
    }

    private mutating func forward(_ event: StageEvent, candidate: Int) {
        switch event {
        case .opened(let stage):
            if !started.contains(stage) {
                started.append(stage)
                events(.stageStarted(stage: stage.rawValue, candidates: candidates))
            }
        case .text(let stage, let text):
            counts[candidate][stage, default: 0] += 1
            events(.token(stage: stage.rawValue, candidate: candidate, text: text))
        case .closed(let stage):
            // One pass: the stage is done as soon as it closes.
            if candidates == 1 { events(.stageChosen(stage: stage.rawValue, candidate: 0, by: "only", scores: [])) }
        }
    }

    /// Nothing is left open at the end.
    mutating func finish() {}
}
