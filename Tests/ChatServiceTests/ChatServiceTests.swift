import Foundation
import Inference
import Testing
@testable import ChatService
import Reasoning
import TUI

/// A text-only model for the chat: candidate k of a stage writes `stages[opening][k % n]`, a
/// whole answer joins the first candidate of every stage; `tag` marks which model (text-only,
/// or which image) answered. Logs the conversations it prepared and the judge's questions.
final class ScriptModel: ReasoningModel, @unchecked Sendable {
    final class Prefix: ReasoningPrefix {
        let text: String
        var promptPositions: Int { 3 }
        init(_ text: String) { self.text = text }
    }

    final class Session: ChoiceSession, @unchecked Sendable {
        let model: ScriptModel
        var promptTokens = 0
        init(_ model: ScriptModel) { self.model = model }
        func logProbabilities(_ conversation: ReasoningConversation, choices: [String]) async throws -> [Double] {
            model.lock.withLock { model.judged.append(conversation) }
            let first = conversation.question.components(separatedBy: "Response 1:").last?
                .components(separatedBy: "Response 2:").first ?? ""
            return first.contains("two") ? [-0.1, -3] : [-3, -0.1]
        }
    }

    static let stages = ["<SUMMARY>": ["Count the cats."], "<CAPTION>": ["one cat", "two cats"],
                         "<REASONING>": ["so the count is"], "<CONCLUSION>": ["1", "2"]]
    let tag: String
    let lock = NSLock()
    var prepared: [ReasoningConversation] = []
    var judged: [ReasoningConversation] = []

    init(tag: String) { self.tag = tag }

    func prepare(_ conversation: ReasoningConversation) async throws -> any ReasoningPrefix {
        lock.withLock { prepared.append(conversation) }
        return Prefix("")
    }

    func text(_ opening: String, _ k: Int, after prefix: String) -> String {
        let key = opening.trimmingCharacters(in: .whitespacesAndNewlines)
        if key.isEmpty {
            return ["<SUMMARY>", "<CAPTION>", "<REASONING>", "<CONCLUSION>"].map { tag -> String in
                let close = tag.replacingOccurrences(of: "<", with: "</")
                return tag + (tag == "<CONCLUSION>" ? self.tag : Self.stages[tag]![0]) + close
            }.joined(separator: "\n\n")
        }
        let options = Self.stages[key]!
        // The conclusion follows the caption on the path.
        if key == "<CONCLUSION>" { return prefix.contains("two cats") ? "2" : "1" }
        return options[k % options.count]
    }

    func sample(_ request: SampleRequest, onEvent: (SampleEvent) -> Void) async throws -> SampleResult {
        var candidates: [Candidate] = [], continuations: [(any ReasoningPrefix)?] = []
        var k = 0
        for group in request.groups {
            for _ in 0..<group.count {
                let text = text(request.opening, k, after: group.prefix.text)
                for word in text.split(separator: " ", omittingEmptySubsequences: false).enumerated() {
                    onEvent(.token(candidate: k, text: (word.offset == 0 ? "" : " ") + word.element))
                }
                onEvent(.finished(candidate: k, text: text, generated: text.count, logprob: -Double(k), cutAt: nil))
                candidates.append(Candidate(text: text, logProbabilities: [Float](repeating: -Float(k), count: 3)))
                continuations.append(request.keepsContinuations
                                     ? Prefix(group.prefix.text + request.opening + text + (request.stops.first ?? "")) : nil)
                k += 1
            }
        }
        return SampleResult(candidates: candidates, continuations: continuations, promptTokens: 5,
                            generatedTokens: candidates.count * 3)
    }

    func extend(_ prefix: any ReasoningPrefix, with pieces: [PrefixPiece]) async throws -> any ReasoningPrefix {
        Prefix(prefix.text + pieces.map(\.text).joined())
    }

    func choiceSession(sharing: (any ReasoningPrefix)?) -> any ChoiceSession { Session(self) }
}

/// A source whose text-only model and per-image models are `ScriptModel`s.
final class ScriptSource: ChatModelSource, @unchecked Sendable {
    let text = ScriptModel(tag: "no image")
    private(set) var images: [String: ScriptModel] = [:]
    var name: String { "script" }
    var stagePlan: StagePlan { .llavaCoT }
    var wantsStageInstruction: Bool { true }
    func textOnlyModel() throws -> any ReasoningModel { text }
    func attach(imageAt path: String, progress: @escaping @Sendable (String) -> Void) async throws
        -> (PreviewImage, any ReasoningModel) {
        guard path.hasSuffix(".png") else { throw ChatFailure("The image \(path) is not a PNG.") }
        progress("Encoding the image…")
        let model = ScriptModel(tag: path)
        images[path] = model
        return (PreviewImage(width: 1, height: 1, pixels: [0, 0, 0]), model)
    }
}

final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [BackendEvent] = []
    func add(_ event: BackendEvent) { lock.withLock { events.append(event) } }
    var all: [BackendEvent] { lock.withLock { events } }
    /// Each stage's text as streamed for `candidate`.
    func text(_ stage: String, candidate: Int = 0) -> String {
        all.compactMap { if case .token(stage, candidate, let text) = $0 { text } else { nil } }.joined()
    }
    var chosen: [String: Int] {
        var out: [String: Int] = [:]
        for case .stageChosen(let stage, let candidate, _, _) in all { out[stage] = candidate }
        return out
    }
}

@Suite("Chat service over a ReasoningModel")
struct ChatServiceTests {
    static let noPick: @Sendable (PickRequest) async throws -> Int = { _ in Issue.record("no pick expected"); return 0 }

    func service(_ source: ScriptSource = ScriptSource(), connector: ChatService.Connector? = nil) throws -> ChatService {
        try ChatService(source: source, system: "Be brief.", instruction: "Use the four stages.",
                        parameters: .greedy, fixedSeed: true, maxTokens: 64, connector: connector)
    }

    @Test("/server: the conversation goes on with the new model, which gets the loaded image")
    func connect() async throws {
        let other = ScriptSource()
        let chat = try service(connector: { url in
            guard url == "http://127.0.0.1:8000" else { throw ChatFailure("Nothing is listening at \(url).") }
            return other
        })
        _ = try await chat.loadImage(path: "cats.png") { _ in }
        _ = try await chat.ask(turn: 0, question: "How many cats?", settings: ChatSettings(), pick: Self.noPick) { _ in }
        #expect(try await chat.connect(server: "http://127.0.0.1:8000") { _ in } == "script")
        _ = try await chat.ask(turn: 1, question: "Sure?", settings: ChatSettings(), pick: Self.noPick) { _ in }
        #expect(other.images["cats.png"]?.prepared.last?.history.map(\.question) == ["How many cats?"])
        await #expect(throws: ChatFailure.self) { _ = try await chat.connect(server: "http://127.0.0.1:9") { _ in } }
        let plain = try service()
        await #expect(throws: ChatFailure.self) { _ = try await plain.connect(server: "http://127.0.0.1:8000") { _ in } }
    }

    @Test("a greedy answer streams as four stages, and the next question carries the first as history")
    func askAndFollowUp() async throws {
        let source = ScriptSource()
        let chat = try service(source)
        _ = try await chat.loadImage(path: "cats.png") { _ in }
        let log = EventLog()
        let summary = try await chat.ask(turn: 0, question: "How many cats?", settings: ChatSettings(), pick: Self.noPick,
                                         events: log.add)
        #expect(!summary.stopped && summary.generatedTokens == 3)
        #expect(log.text("summary") == "Count the cats." && log.text("conclusion") == "cats.png")
        _ = try await chat.ask(turn: 1, question: "And dogs?", settings: ChatSettings(), pick: Self.noPick) { _ in }
        let model = try #require(source.images["cats.png"])
        #expect(model.prepared.count == 2 && source.text.prepared.isEmpty)
        #expect(model.prepared[1] == ReasoningConversation(question: "And dogs?", system: "Be brief.",
                                                           history: [.init(question: "How many cats?", answer: "cats.png")],
                                                           instruction: "Use the four stages."))
    }

    @Test("loading an image starts the conversation again on the model that sees it; a bad one keeps the old")
    func loadImage() async throws {
        let source = ScriptSource()
        let chat = try service(source)
        _ = try await chat.ask(turn: 0, question: "Hi?", settings: ChatSettings(), pick: Self.noPick) { _ in }
        #expect(source.text.prepared.count == 1)
        await #expect(throws: ChatFailure.self) { _ = try await chat.loadImage(path: "cats.jpg") { _ in } }
        _ = try await chat.ask(turn: 1, question: "Again?", settings: ChatSettings(), pick: Self.noPick) { _ in }
        #expect(source.text.prepared.last?.history.count == 1)
        _ = try await chat.loadImage(path: "dogs.png") { _ in }
        _ = try await chat.ask(turn: 2, question: "Now?", settings: ChatSettings(), pick: Self.noPick) { _ in }
        #expect(source.images["dogs.png"]?.prepared.first?.history.isEmpty == true)
    }

    @Test("stage-beam with the manual judge asks for a pick at each stage; a branch re-answers and updates the history")
    func manualPickAndBranch() async throws {
        let source = ScriptSource()
        let chat = try service(source)
        _ = try await chat.loadImage(path: "cats.png") { _ in }
        let picks = EventLog()
        let settings = ChatSettings(strategy: "stage-beam", beam: 2, judge: "manual")
        let log = EventLog()
        _ = try await chat.ask(turn: 0, question: "How many cats?", settings: settings, pick: { request in
            picks.add(.stageStarted(stage: request.stage, candidates: request.candidates))
            return 0
        }, events: log.add)
        #expect(picks.all.count == 4 && log.chosen["conclusion"] == 0 && log.text("conclusion") == "1")
        let branched = EventLog()
        _ = try await chat.branch(turn: 0, from: 0, stage: "caption", candidate: 1, settings: settings,
                                  pick: { _ in 0 }, events: branched.add)
        #expect(branched.text("conclusion") == "2")
        _ = try await chat.ask(turn: 1, question: "Sure?", settings: ChatSettings(), pick: Self.noPick) { _ in }
        let model = try #require(source.images["cats.png"])
        #expect(model.prepared.last?.history == [.init(question: "How many cats?", answer: "2")])
        await #expect(throws: ChatFailure.self) {
            _ = try await chat.branch(turn: 7, from: 0, stage: "caption", candidate: 1, settings: settings,
                                      pick: { _ in 0 }) { _ in }
        }
    }

    @Test("the self judge compares on the model that sees the image, with the system prompt")
    func selfJudge() async throws {
        let source = ScriptSource()
        let chat = try service(source)
        _ = try await chat.loadImage(path: "cats.png") { _ in }
        let log = EventLog()
        _ = try await chat.ask(turn: 0, question: "How many cats?", settings: ChatSettings(strategy: "stage-beam", beam: 2,
                                                                                           judge: "self"),
                               pick: Self.noPick, events: log.add)
        #expect(log.chosen["caption"] == 1 && log.text("conclusion", candidate: 0) == "2")
        let model = try #require(source.images["cats.png"])
        #expect(!model.judged.isEmpty && model.judged.allSatisfy { $0.system == "Be brief." && $0.withImage })
    }
}
