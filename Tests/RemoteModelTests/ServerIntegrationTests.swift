import Foundation
import Inference
import Reasoning
@testable import RemoteModel
import Testing

/// Against a real server on 127.0.0.1 (`make test-server` starts vLLM with the demo model's text
/// half and sets PONDER_SERVER_URL); skipped when no server is given.
@Suite("Against a real server", .enabled(if: ProcessInfo.processInfo.environment["PONDER_SERVER_URL"] != nil))
struct ServerIntegrationTests {
    static var url: String { ProcessInfo.processInfo.environment["PONDER_SERVER_URL"] ?? "" }
    /// A prompt past one of vLLM's CPU cache blocks (128 positions), so that its prefix cache
    /// has a whole block to share.
    static let conversation = ReasoningConversation(
        question: "How many red circles are there?",
        system: String(repeating: "You answer questions about scenes of coloured shapes. ", count: 12))

    func connect() async throws -> RemoteModel {
        try await RemoteModel.connect(server: Self.url)
    }

    @Test("the server is known by its dialect and lists its model")
    func dialect() async throws {
        let (dialect, models) = try await RemoteModel.servedModels(server: Self.url)
        #expect(dialect == Dialect(rawValue: ProcessInfo.processInfo.environment["PONDER_SERVER_DIALECT"] ?? "vllm"))
        #expect(models.count == 1)
    }

    /// A short question as the demo model is asked one (after a long system text it answers
    /// "1", as in a judge comparison, and stops).
    static let question = ReasoningConversation(question: "What colour is the circle?")

    @Test("greedy streams a whole answer with log-probabilities and usage")
    func greedy() async throws {
        let model = try await connect()
        var tokens = 0
        let record = try await Reasoner(model: model, judge: FirstJudge())
            .run(conversation: Self.question, configuration: ReasoningConfiguration(strategy: .greedy, maxTokens: 48)) {
                if case .token = $0 { tokens += 1 }
            }
        let candidate = try #require(record.steps.first?.candidates.first)
        #expect(tokens > 1 && !candidate.text.isEmpty && !candidate.logProbabilities.isEmpty)
        #expect(record.promptTokens > 0 && record.generatedTokens == candidate.logProbabilities.count)
    }

    @Test("stage-beam runs the four stages with each judge; later stages reuse the server's prefix cache",
          arguments: ["logprob", "self", "first"])
    func stageBeam(judge name: String) async throws {
        let model = try await connect()
        let judge: any Judge = switch name {
        case "self": SelfJudge(model: model)
        case "first": FirstJudge()
        default: LogProbabilityJudge()
        }
        var parameters = SamplingParameters.greedy
        parameters.temperature = 0.8
        parameters.seed = 7
        var configuration = ReasoningConfiguration(strategy: .stageBeam, candidates: 3, parameters: parameters,
                                                   stageTokenBudget: 24)
        configuration.maxTokens = 24
        var started: [String] = []
        let record = try await Reasoner(model: model, judge: judge).run(conversation: Self.conversation,
                                                                        configuration: configuration) { event in
            if case .stageStarted(let stage, _) = event { started.append(stage) }
        }
        #expect(started == ["summary", "caption", "reasoning", "conclusion"])
        #expect(record.steps.count == 4 && record.steps.allSatisfy { $0.candidates.count == 3 })
        #expect(record.steps.allSatisfy { step in step.candidates.allSatisfy { !$0.logProbabilities.isEmpty } })
        if name == "self" {
            #expect(record.steps.allSatisfy { $0.verdict?.comparisons.count == 2 })
            #expect(record.steps.allSatisfy { ($0.verdict?.prefilledTokens ?? 0) > 0 })
        }
        #expect((record.cachedTokens ?? 0) > 0, "the server reported no cached prompt tokens")
    }

    @Test("cancelling mid-stage stops the request; the record is marked stopped")
    func cancellation() async throws {
        let model = try await connect()
        let reasoner = Reasoner(model: model, judge: LogProbabilityJudge())
        let task = Task {
            var tokens = 0
            return try await reasoner.run(conversation: Self.conversation,
                                          configuration: ReasoningConfiguration(strategy: .greedy, maxTokens: 400)) { event in
                if case .token = event { tokens += 1 }
                if tokens == 5 { withUnsafeCurrentTask { $0?.cancel() } }
            }
        }
        do {
            let record = try await task.value
            #expect(record.stopped || record.generatedTokens < 400)
        } catch is CancellationError {
            // Cancelled inside the request: the stream was closed.
        }
    }
}
