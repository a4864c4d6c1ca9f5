import Testing
@testable import Inference

/// How the generator uses model sequences: embeddings in the prompt, kept and continued
/// sequences, the context limit, and requests that cannot run.
@Suite("Generator sequences")
struct GeneratorSequenceTests {
    static let tokenizer = CharacterTokenizer()

    static func model(contextLength: Int = 512) -> FakeTextModel {
        FakeTextModel(vocabularySize: tokenizer.vocabularySize, embeddingLength: 4, contextLength: contextLength, seed: 11)
    }

    static let noEnd = StopCondition(maxTokens: 5, stopsAtEndOfGeneration: false)

    @Test("embedding rows pass through to the batch; a kept sequence holds all but the last token")
    func embeddingsAndKeptSequence() async throws {
        let model = Self.model()
        let generator = Generator(model: model, tokenizer: Self.tokenizer)
        let text = Self.tokenizer.encode("Look:")
        let prompt = GenerationPrompt(inputs: text.map { .token($0) } + [.embedding([1, 2, 3, 4]), .embedding([0, 0, 0, 1])]
                                      + [.token(Self.tokenizer.encode("?", addSpecial: false, parseSpecial: false)[0])])
        let request = GenerationRequest(prompt: prompt, stop: Self.noEnd, keepsSequences: true)
        let (results, stats) = await generator.run(request)
        let result = try #require(results.first)
        let sequence = try #require(result.sequence)
        let promptHistory = prompt.inputs.map { input -> Int32 in if case .token(let t) = input { t } else { -1 } }
        #expect(model.history(of: sequence) == promptHistory + result.tokens.dropLast())
        #expect(stats.promptTokens == prompt.count)
        #expect(model.forwardBatchSizes.first == prompt.count)
        // Greedy from the fake model's own logits for this history.
        #expect(result.tokens.first == Sampler.argmax(model.logits(after: promptHistory)))
        model.release(sequence)
    }

    @Test("continuing a kept sequence equals generating from the whole prompt, and leaves it unchanged")
    func continuing() async throws {
        let model = Self.model()
        let generator = Generator(model: model, tokenizer: Self.tokenizer)
        let first = GenerationPrompt(tokens: Self.tokenizer.encode("Stage one"))
        let (kept, _) = await generator.run(GenerationRequest(prompt: first, stop: Self.noEnd, keepsSequences: true))
        let parent = try #require(kept.first?.sequence)
        let parentHistory = model.history(of: parent)
        // Continue with the unfed last token plus new text, as beam search would.
        let more = [kept[0].tokens.last!] + Self.tokenizer.encode(" two", addSpecial: false, parseSpecial: false)
        let (continued, _) = await generator.run(GenerationRequest(prompt: GenerationPrompt(tokens: more), continuing: parent,
                                                                  stop: Self.noEnd, count: 2))
        let whole = GenerationPrompt(tokens: first.tokens + kept[0].tokens + Array(more.dropFirst()))
        let (scratch, _) = await generator.run(GenerationRequest(prompt: whole, stop: Self.noEnd))
        #expect(continued[0].tokens == scratch[0].tokens)
        #expect(continued[1].tokens == scratch[0].tokens, "greedy candidates agree")
        #expect(model.history(of: parent) == parentHistory)
        #expect(continued.allSatisfy { $0.sequence == nil })
    }

    @Test("groups: prompts continuing different sequences decode in one batch, each as if alone")
    func groups() async throws {
        let model = Self.model()
        let generator = Generator(model: model, tokenizer: Self.tokenizer)
        let sampled = SamplingParameters(temperature: 1.5, topK: 0, topP: 1, minP: 0, seed: 5)
        var parents: [SequenceID] = []
        for text in ["Red", "Green light"] {
            let (kept, _) = await generator.run(GenerationRequest(prompt: GenerationPrompt(tokens: Self.tokenizer.encode(text)),
                                                                  stop: Self.noEnd, keepsSequences: true))
            parents.append(try #require(kept[0].sequence))
        }
        let more = [GenerationPrompt(tokens: Self.tokenizer.encode(" one", addSpecial: false, parseSpecial: false)),
                    GenerationPrompt(tokens: Self.tokenizer.encode(" two!", addSpecial: false, parseSpecial: false))]
        let before = model.forwardBatchSizes.count
        let request = GenerationRequest(groups: [.init(prompt: more[0], continuing: parents[0], count: 2),
                                                 .init(prompt: more[1], continuing: parents[1], count: 3)],
                                        parameters: sampled, stop: Self.noEnd)
        let (together, stats) = await generator.run(request)
        #expect(together.count == 5)
        #expect(stats.promptTokens == more[0].count + more[1].count)
        // One prefill batch for both prompts, then batches of all five candidates.
        let batches = Array(model.forwardBatchSizes.dropFirst(before))
        #expect(batches.first == more[0].count + more[1].count)
        #expect(batches.dropFirst().first == 5)
        // Candidate i of the whole request samples with seed + i, as a lone run would.
        for index in 0..<5 {
            let group = index < 2 ? 0 : 1
            let alone = GenerationRequest(prompt: more[group], continuing: parents[group],
                                          parameters: sampled.offsettingSeed(by: index), stop: Self.noEnd)
            let (single, _) = await generator.run(alone)
            #expect(single[0].tokens == together[index].tokens, "candidate \(index)")
        }
        let empty = GenerationRequest(groups: [.init(prompt: more[0], count: 1), .init(prompt: GenerationPrompt(inputs: []))])
        let (failed, _) = await generator.run(empty)
        #expect(failed.allSatisfy { $0.reason == .failed(.emptyPrompt) })
        parents.forEach(model.release)
    }

    @Test("a full context ends the sequence with contextFull")
    func contextFull() async throws {
        let model = Self.model(contextLength: 10)
        let generator = Generator(model: model, tokenizer: Self.tokenizer)
        let prompt = GenerationPrompt(tokens: Self.tokenizer.encode("abc"))  // BOS + 3 = 4 positions
        let (results, _) = await generator.run(GenerationRequest(prompt: prompt, stop: StopCondition(stopsAtEndOfGeneration: false)))
        #expect(results.first?.reason == .contextFull)
        #expect(results.first?.tokens.count == 7)
    }

    @Test("requests that cannot run finish every candidate with the reason")
    func failures() async throws {
        let model = Self.model()
        let generator = Generator(model: model, tokenizer: Self.tokenizer)
        let (empty, _) = await generator.run(GenerationRequest(prompt: GenerationPrompt(tokens: []), count: 2))
        #expect(empty.map(\.reason) == [.failed(.emptyPrompt), .failed(.emptyPrompt)])
        let bad = SamplingParameters(repetitionPenalty: -1)
        let (invalid, _) = await generator.run(GenerationRequest(prompt: GenerationPrompt(tokens: [5]), parameters: bad))
        #expect(invalid.first?.reason == .failed(.invalidParameters(bad.problems)))
        let (outOfRange, _) = await generator.run(GenerationRequest(prompt: GenerationPrompt(tokens: [99_999])))
        guard case .failed(.model(let error)) = outOfRange.first?.reason else {
            Issue.record("expected a model error, got \(String(describing: outOfRange.first?.reason))")
            return
        }
        #expect(error.kind == .tokenOutOfRange(token: 99_999, vocabularySize: Self.tokenizer.vocabularySize))
        let (none, _) = await generator.run(GenerationRequest(prompt: GenerationPrompt(tokens: [5]), stop: StopCondition(maxTokens: 0)))
        #expect(none.first?.reason == .maxTokens)
        #expect(none.first?.tokens == [])
    }

    @Test("the stepping API reports cancellation and releases sequences")
    func stepperCancel() throws {
        let model = Self.model()
        var decoder = BatchDecoder(model: model, tokenizer: Self.tokenizer,
                                   request: GenerationRequest(prompt: GenerationPrompt(tokens: [5, 6]), count: 3))
        _ = decoder.step()
        #expect(decoder.activeSequences.count == 3)
        let events = decoder.cancel()
        #expect(decoder.isFinished)
        guard case .done(let results, _) = events.last else { Issue.record("no done event"); return }
        #expect(results.map(\.reason) == Array(repeating: .cancelled, count: 3))
        #expect(results.map(\.tokens.count) == [1, 1, 1])
        #expect(decoder.activeSequences.isEmpty)
        #expect((0..<3).allSatisfy { model.history(of: SequenceID(rawValue: $0)) == nil })
        #expect(decoder.step().isEmpty)
    }
}
