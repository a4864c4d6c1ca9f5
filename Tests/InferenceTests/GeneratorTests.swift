import Foundation
import Testing
@testable import Inference

/// The generator over `FakeTextModel` and `CharacterTokenizer`. Expected tokens come from
/// the fake model's logits function directly (an argmax chain written here), or from lone
/// generations when checking batches.
@Suite("Generator")
struct GeneratorTests {
    static let tokenizer = CharacterTokenizer()

    /// A model that spells `script` (token by token, greedy) after a prompt of `promptLength`.
    static func scriptedModel(_ script: [Int32], promptLength: Int, contextLength: Int = 512) -> FakeTextModel {
        let size = tokenizer.vocabularySize
        return FakeTextModel(vocabularySize: size, contextLength: contextLength) { history in
            var row = [Float](repeating: 0, count: size)
            let generated = history.count - promptLength
            if generated >= 0 && generated < script.count { row[Int(script[generated])] = 10 }
            return row
        }
    }

    static func prompt(_ text: String) -> GenerationPrompt {
        GenerationPrompt(tokens: tokenizer.encode(text))
    }

    static func collect(_ stream: AsyncStream<GenerationEvent>) async -> (tokens: [GeneratedToken], result: GenerationResult?) {
        var tokens: [GeneratedToken] = []
        for await event in stream {
            switch event {
            case .token(let token): tokens.append(token)
            case .finished(let result, _): return (tokens, result)
            }
        }
        return (tokens, nil)
    }

    @Test("greedy generation follows the model's argmax chain and is deterministic")
    func greedyChain() async throws {
        let model = FakeTextModel(vocabularySize: Self.tokenizer.vocabularySize, seed: 5)
        let prompt = Self.prompt("Hello")
        var history = prompt.tokens
        var expected: [Int32] = []
        for _ in 0..<20 {
            let token = Sampler.argmax(model.logits(after: history))
            expected.append(token)
            history.append(token)
        }
        let generator = Generator(model: model, tokenizer: Self.tokenizer)
        let stop = StopCondition(maxTokens: 20, stopsAtEndOfGeneration: false)
        let first = await Self.collect(generator.generate(prompt, parameters: .greedy, stop: stop))
        let second = await Self.collect(generator.generate(prompt, parameters: .greedy, stop: stop))
        let result = try #require(first.result)
        #expect(result.tokens == expected)
        #expect(first.tokens.map(\.token) == expected)
        #expect(result.reason == .maxTokens)
        #expect(second.result == result)
        #expect(first.tokens.map(\.text).joined() == result.text)
        for (index, token) in first.tokens.enumerated() {
            let logits = model.logits(after: prompt.tokens + expected.prefix(index))
            #expect(abs(token.logProbability - Sampler.logSoftmax(logits)[Int(token.token)]) < 1e-5)
        }
    }

    @Test("the stop string ends generation and is not emitted; EOS ends it too")
    func stopStringAndEndOfSequence() async throws {
        let prompt = Self.prompt("Q?")
        let script = Self.tokenizer.encode("Plan: look.</S", addSpecial: false, parseSpecial: false)
            + Self.tokenizer.encode("UMMARY>\n\nmore", addSpecial: false, parseSpecial: false)
        let model = Self.scriptedModel(script, promptLength: prompt.count)
        let generator = Generator(model: model, tokenizer: Self.tokenizer)
        let stopped = await Self.collect(generator.generate(prompt, stop: StopCondition(stopStrings: ["</SUMMARY>"])))
        let result = try #require(stopped.result)
        #expect(result.text == "Plan: look.")
        #expect(result.reason == .stopString("</SUMMARY>"))
        #expect(result.tokens.count == "Plan: look.</SUMMARY>".count)
        #expect(stopped.tokens.map(\.text).joined() == "Plan: look.")

        let eos = Self.tokenizer.endOfSequenceToken!
        let ending = Self.scriptedModel(Self.tokenizer.encode("Yes", addSpecial: false, parseSpecial: false) + [eos, 70],
                                        promptLength: prompt.count)
        let ended = await Self.collect(Generator(model: ending, tokenizer: Self.tokenizer).generate(prompt))
        #expect(ended.result?.text == "Yes")
        #expect(ended.result?.reason == .endOfGeneration)
        #expect(ended.result?.tokens.last == eos)
        #expect(ended.tokens.last?.text == "")
    }

    @Test("a batch of N equals N lone generations with seeds seed + i, in one batch per step")
    func batchEqualsSeparate() async throws {
        let model = FakeTextModel(vocabularySize: Self.tokenizer.vocabularySize, seed: 2)
        let generator = Generator(model: model, tokenizer: Self.tokenizer)
        let parameters = SamplingParameters(temperature: 1.2, topK: 50, topP: 0.95, minP: 0.02,
                                            repetitionPenalty: 1.1, repetitionWindow: 16, seed: 40)
        let stop = StopCondition(stopStrings: ["zz"], maxTokens: 12, stopsAtEndOfGeneration: false)
        let prompt = Self.prompt("Describe")
        let request = GenerationRequest(prompt: prompt, parameters: parameters, stop: stop, count: 4)
        var streamed: [[GeneratedToken]] = Array(repeating: [], count: 4)
        var finalResults: [GenerationResult] = []
        for await event in generator.generateBatch(request) {
            switch event {
            case .token(let candidate, let token): streamed[candidate].append(token)
            case .finished: break
            case .done(let results, let stats):
                finalResults = results
                #expect(stats.promptTokens == prompt.count)
                #expect(stats.generatedTokens == results.map(\.tokens.count).reduce(0, +))
            }
        }
        let batchSizes = model.forwardBatchSizes
        #expect(batchSizes.first == prompt.count)
        #expect(batchSizes.dropFirst().allSatisfy { $0 <= 4 } && batchSizes.dropFirst().first == 4)
        #expect(batchSizes.count <= 12)
        #expect(Set(finalResults.map(\.tokens)).count == 4)
        for index in 0..<4 {
            let lone = await Self.collect(generator.generate(prompt, parameters: parameters.offsettingSeed(by: index), stop: stop))
            #expect(lone.result?.tokens == finalResults[index].tokens)
            #expect(lone.result?.text == finalResults[index].text)
            #expect(lone.result?.reason == finalResults[index].reason)
            #expect(lone.result?.logProbabilities == finalResults[index].logProbabilities)
            #expect(streamed[index].map(\.token) == finalResults[index].tokens)
        }
    }

    @Test("cancelling the caller's task stops after the current token and reports cancelled")
    func cancellationReported() async throws {
        let model = FakeTextModel(vocabularySize: Self.tokenizer.vocabularySize, seed: 9)
        let generator = Generator(model: model, tokenizer: Self.tokenizer)
        let request = GenerationRequest(prompt: Self.prompt("Go"), stop: StopCondition(stopsAtEndOfGeneration: false), count: 2)
        let task = Task {
            var seen = 0
            return await generator.run(request) { event in
                guard case .token = event else { return }
                seen += 1
                if seen == 6 { withUnsafeCurrentTask { $0?.cancel() } }
            }
        }
        let (results, _) = await task.value
        #expect(results.map(\.reason) == [.cancelled, .cancelled])
        #expect(results.map(\.tokens.count) == [3, 3])
        #expect(model.history(of: SequenceID(rawValue: 0)) == nil)
        #expect(model.history(of: SequenceID(rawValue: 1)) == nil)
    }

    @Test("a consumer that stops listening stops the generation promptly")
    func streamCancellation() async throws {
        let size = Self.tokenizer.vocabularySize
        // A context the producer cannot fill even if the consumer is starved for minutes (the
        // whole suite shares two cores), so only the cancellation can end it.
        let context = 1 << 20
        let model = FakeTextModel(vocabularySize: size, contextLength: context) { history in
            usleep(2000)
            return (0..<size).map { Float(($0 * 7 + history.count * 13) % 31) }
        }
        let generator = Generator(model: model, tokenizer: Self.tokenizer)
        let consumer = Task {
            var count = 0
            for await event in generator.generate(Self.prompt("Go"), stop: StopCondition(stopsAtEndOfGeneration: false)) {
                if case .token = event { count += 1 }
                if count == 3 { break }
            }
            return (count, model.forwardBatchSizes.count)
        }
        let (count, forwardsAtBreak) = await consumer.value
        #expect(count == 3)
        let deadline = Date().addingTimeInterval(5)
        while model.history(of: SequenceID(rawValue: 0)) != nil && Date() < deadline { try await Task.sleep(for: .milliseconds(5)) }
        #expect(model.history(of: SequenceID(rawValue: 0)) == nil, "the sequence was released")
        // The producer may run ahead of the consumer, but stops within a step of the break.
        #expect(model.forwardBatchSizes.count <= forwardsAtBreak + 2)
        #expect(model.forwardBatchSizes.count < context / 2)
    }
}
