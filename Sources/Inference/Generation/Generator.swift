/// Streams text from a `TextModel`: prefill a prompt in one batch, then decode token by
/// token, as an `AsyncStream` of typed events.
///
/// The work runs in a detached task that checks `Task.isCancelled` before every token; when
/// the consumer stops iterating (or its task is cancelled) the stream's termination cancels
/// that task, and the sequences end with `.cancelled` and are released.
///
/// `generate` is one sequence; `generateBatch` samples N continuations of one prompt, decoded
/// together in one batch per step (what stage-level beam search and best-of-N use).
/// `BatchDecoder` is the same machinery as a synchronous stepping API.
public struct Generator: Sendable {
    public let model: any TextModel
    public let tokenizer: any Tokenizer

    public init(model: any TextModel, tokenizer: any Tokenizer) {
        self.model = model
        self.tokenizer = tokenizer
    }

    /// One continuation of `prompt`: a `.token` event per sampled token, then `.finished`.
    public func generate(_ prompt: GenerationPrompt, parameters: SamplingParameters = .greedy,
                         stop: StopCondition = StopCondition()) -> AsyncStream<GenerationEvent> {
        generate(GenerationRequest(prompt: prompt, parameters: parameters, stop: stop, count: 1))
    }

    /// One continuation of the request's prompt (`request.count` is taken as 1).
    public func generate(_ request: GenerationRequest) -> AsyncStream<GenerationEvent> {
        var single = request
        single.count = 1
        let (stream, continuation) = AsyncStream.makeStream(of: GenerationEvent.self)
        let task = Task.detached { [model, tokenizer] in
            var decoder = BatchDecoder(model: model, tokenizer: tokenizer, request: single)
            Self.drive(&decoder) { event in
                switch event {
                case .token(_, let token): continuation.yield(.token(token))
                case .finished: break
                case .done(let results, let stats): continuation.yield(.finished(results[0], stats))
                }
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    /// `count` continuations of `prompt`, decoded together. Candidate `i` samples with seed
    /// `parameters.seed + i`, so it equals `generate` with that seed.
    public func generateBatch(_ prompt: GenerationPrompt, count: Int, parameters: SamplingParameters,
                              stop: StopCondition = StopCondition()) -> AsyncStream<BatchGenerationEvent> {
        generateBatch(GenerationRequest(prompt: prompt, parameters: parameters, stop: stop, count: count))
    }

    /// The candidates of `request`, decoded together; the last event is `.done`.
    public func generateBatch(_ request: GenerationRequest) -> AsyncStream<BatchGenerationEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: BatchGenerationEvent.self)
        let task = Task.detached { [model, tokenizer] in
            var decoder = BatchDecoder(model: model, tokenizer: tokenizer, request: request)
            Self.drive(&decoder) { continuation.yield($0) }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    /// Runs `request` on the calling task to the end, handing every event to `onEvent` as it
    /// happens, and returns every candidate's result and the stats. Cancelling the calling
    /// task ends the unfinished candidates with `.cancelled` before their next token; their
    /// results (with the tokens so far) are still returned.
    public func run(_ request: GenerationRequest,
                    onEvent: (BatchGenerationEvent) -> Void = { _ in }) async -> ([GenerationResult], GenerationStats) {
        var decoder = BatchDecoder(model: model, tokenizer: tokenizer, request: request)
        var outcome: ([GenerationResult], GenerationStats) = ([], GenerationStats())
        while !decoder.isFinished {
            let events = Task.isCancelled ? decoder.cancel() : decoder.step()
            for event in events {
                if case .done(let results, let stats) = event { outcome = (results, stats) }
                onEvent(event)
            }
            await Task.yield()
        }
        return outcome
    }

    /// Steps `decoder` to the end, checking cancellation before every token.
    static func drive(_ decoder: inout BatchDecoder, _ emit: (BatchGenerationEvent) -> Void) {
        while !decoder.isFinished {
            let events = Task.isCancelled ? decoder.cancel() : decoder.step()
            for event in events { emit(event) }
        }
    }
}
