import Foundation
import Inference

/// The reasoner over a local model given as a generator and prompts already rendered (tests,
/// benchmarks, and callers that build their own prompts).
extension Reasoner {
    /// A reasoner over `generator`'s model, for prompts given as `GenerationPrompt`s.
    public init(generator: Generator, judge: any Judge, naivePrompt: (@Sendable () throws -> GenerationPrompt)? = nil) {
        self.init(model: LocalReasoningModel(generator: generator, naivePrompt: naivePrompt) { _ in
            throw LocalModelError.noRenderer
        }, judge: judge)
    }

    /// The local model this reasoner runs on.
    var localModel: LocalReasoningModel {
        get throws {
            guard let local = model as? LocalReasoningModel else { throw LocalModelError.notLocal }
            return local
        }
    }

    /// Prefills `prompt` once, for `run(prepared:…)` and `branch(…)`.
    public func prepare(_ prompt: GenerationPrompt) throws -> LocalPrefix {
        try localModel.prepare(prompt: prompt)
    }

    /// Prepares `prompt` and runs `configuration.strategy` on it.
    public func run(prompt: GenerationPrompt, question: String, configuration: ReasoningConfiguration,
                    onEvent: (ReasoningEvent) -> Void = { _ in }) async throws -> ReasoningRecord {
        let start = Date()
        let prepared = try prepare(prompt)
        var record = try await run(prepared: prepared, question: question, configuration: configuration, onEvent: onEvent)
        record.promptTokens += prepared.promptPositions
        record.seconds = Date().timeIntervalSince(start)
        return record
    }
}
