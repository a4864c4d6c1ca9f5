import Inference
import Testing

@Suite("text model benchmark")
struct TextModelBenchmarkTests {
    @Test func meanAndSampleStandardDeviation() {
        let (mean, sd) = TextModelBenchmark.Measurement.meanAndDeviation([1, 2, 3, 4])
        #expect(mean == 2.5)
        #expect(abs(sd - 1.2909944487358056) < 1e-12)   // sqrt(5 / 3): n − 1, as llama-bench
        let single = TextModelBenchmark.Measurement.meanAndDeviation([7])
        #expect(single.mean == 7 && single.sd == 0)
        let measurement = TextModelBenchmark.Measurement(test: "tg8", samples: [10, 30, 20], tokens: 8, threads: 1,
                                                         batch: 1, depth: 0)
        #expect(measurement.tokensPerSecond == 30 && measurement.meanTokensPerSecond == 20)
        #expect(measurement.sdTokensPerSecond == 10 && abs(measurement.seconds - 8.0 / 30) < 1e-12)
    }

    /// Every combination of depth and batch is one test; each run fills a depth's context once
    /// and forks every batch's sequences from it.
    @Test func runsEveryCombinationFromOneContextPerRun() throws {
        let model = FakeTextModel(vocabularySize: 50, contextLength: 64)
        let benchmark = TextModelBenchmark(promptTokens: 4, generatedTokens: 2, batches: [1, 3], depths: [0, 5],
                                           repeats: 2, threads: 1, measuresBandwidth: false)
        var reported: [TextModelBenchmark.Measurement] = []
        try benchmark.run(model: model, pool: ThreadPool(threadCount: 1)) { reported.append($0) }
        #expect(reported.map(\.test) == ["pp4", "tg2", "tg2", "tg2", "tg2"])
        #expect(reported.map(\.batch) == [1, 1, 3, 1, 3])
        #expect(reported.map(\.depth) == [0, 0, 0, 5, 5])
        #expect(benchmark.tests.map(\.batch) == [1, 1, 3, 1, 3])
        for measurement in reported {
            #expect(measurement.samples.count == 2 && measurement.tokensPerSecond == measurement.samples.max())
            #expect(measurement.bandwidthBefore == nil)
        }
        let generation = [1, 1, 3, 3]
        #expect(model.forwardBatchSizes == [1] + [4, 4] + generation + generation + [5] + generation + [5] + generation)
    }

    @Test func warmupCanBeTurnedOff() throws {
        let model = FakeTextModel(vocabularySize: 50, contextLength: 64)
        let benchmark = TextModelBenchmark(promptTokens: 3, generatedTokens: 0, repeats: 1, threads: 1,
                                           measuresBandwidth: false, warmup: false)
        try benchmark.run(model: model, pool: ThreadPool(threadCount: 1)) { _ in }
        #expect(model.forwardBatchSizes == [3])
    }

    /// With embedding-row images, one more prompt test prefills their rows then the text.
    @Test func imagePromptTestPrefillsTheRowsThenTheText() throws {
        let model = FakeTextModel(vocabularySize: 50, contextLength: 64)
        var benchmark = TextModelBenchmark(promptTokens: 3, generatedTokens: 0, repeats: 2, threads: 1,
                                           measuresBandwidth: false, warmup: false)
        let width = model.embeddingLength
        benchmark.imageParts = [PromptImage(.embeddings(values: [Float](repeating: 0.5, count: 4 * width), width: width)),
                                PromptImage(.embeddings(values: [Float](repeating: 0.25, count: 2 * width), width: width))]
        #expect(benchmark.tests.map(\.test) == ["pp3", "img6+pp3"])
        #expect(benchmark.contextNeeded >= 9)
        var reported: [TextModelBenchmark.Measurement] = []
        try benchmark.run(model: model, pool: ThreadPool(threadCount: 1)) { reported.append($0) }
        #expect(reported.map(\.test) == ["pp3", "img6+pp3"])
        #expect(model.forwardBatchSizes == [3, 3, 9, 9])
        #expect(abs(reported[1].seconds * reported[1].tokensPerSecond - 9) < 1e-9)
    }
}
