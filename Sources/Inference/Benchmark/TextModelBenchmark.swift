/// `ponder bench` for text models, in the manner of llama-bench: prompt processing (one batch
/// of `promptTokens` random tokens) and generation (`generatedTokens` steps of one token per
/// sequence, after `depth` positions of context, `batch` sequences decoded together), for every
/// combination of `depths` and `batches`. Each test runs `repeats` times and reports the mean
/// and sample standard deviation of its tokens/s, as llama-bench does, and the best run.
public struct TextModelBenchmark: Sendable {
    public struct Measurement: Sendable, Codable, Equatable {
        /// `pp512`, `tg128`, … as llama-bench names them.
        public var test: String
        /// The best run's tokens/s.
        public var tokensPerSecond: Double
        /// Mean and sample standard deviation (n − 1; 0 for one run) of the runs' tokens/s.
        public var meanTokensPerSecond: Double
        public var sdTokensPerSecond: Double
        /// Each run's tokens/s, in order.
        public var samples: [Double]
        public var threads: Int
        public var batch: Int
        public var depth: Int
        /// The best run's seconds.
        public var seconds: Double
        /// Read bandwidth (GB/s) measured right before and after the runs.
        public var bandwidthBefore: Double?
        public var bandwidthAfter: Double?

        public init(test: String, samples: [Double], tokens: Int, threads: Int, batch: Int, depth: Int,
                    bandwidthBefore: Double? = nil, bandwidthAfter: Double? = nil) {
            self.test = test
            self.samples = samples
            let (mean, sd) = Self.meanAndDeviation(samples)
            tokensPerSecond = samples.max() ?? 0
            meanTokensPerSecond = mean
            sdTokensPerSecond = sd
            seconds = tokensPerSecond > 0 ? Double(tokens) / tokensPerSecond : 0
            self.threads = threads
            self.batch = batch
            self.depth = depth
            self.bandwidthBefore = bandwidthBefore
            self.bandwidthAfter = bandwidthAfter
        }

        /// The mean and the sample standard deviation (n − 1; 0 for fewer than two values).
        public static func meanAndDeviation(_ values: [Double]) -> (mean: Double, sd: Double) {
            guard !values.isEmpty else { return (0, 0) }
            let mean = values.reduce(0, +) / Double(values.count)
            guard values.count > 1 else { return (mean, 0) }
            let squares = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
            return (mean, (squares / Double(values.count - 1)).squareRoot())
        }

        enum CodingKeys: String, CodingKey {
            case test, threads, batch, depth, seconds
            case tokensPerSecond = "tokens_per_second"
            case meanTokensPerSecond = "mean_tokens_per_second"
            case sdTokensPerSecond = "sd_tokens_per_second"
            case samples = "samples_tokens_per_second"
            case bandwidthBefore = "bandwidth_gbps_before"
            case bandwidthAfter = "bandwidth_gbps_after"
        }
    }

    public var promptTokens: Int
    public var generatedTokens: Int
    /// Sequences decoded together in the generation test, one test per value.
    public var batches: [Int]
    /// Positions of context before the generation test, one test per value.
    public var depths: [Int]
    public var repeats: Int
    public var threads: Int
    /// Measure memory bandwidth around each test.
    public var measuresBandwidth: Bool
    /// Run one untimed single-token step first, so that every test finds the weights mapped in
    /// (llama-bench's warmup run).
    public var warmup: Bool
    /// A cross-attention image (mllama) that the prompt starts with: the prompt test then
    /// includes computing its K/V (a new copy each run), and the generation test's context
    /// starts with it, so the cross-attention layers run.
    public var image: PromptImage?
    /// Images of embedding rows (Gemma 3, Qwen-VL, LLaVA, SmolVLM's tiles) for the image-prompt
    /// test: a prompt of their rows, back to back, then `promptTokens` random tokens, named
    /// `img{rows}+pp{promptTokens}`; its tokens/s counts every position. Empty: no such test.
    public var imageParts: [PromptImage] = []

    public init(promptTokens: Int = 512, generatedTokens: Int = 128, batches: [Int] = [1], depths: [Int] = [0],
                repeats: Int = 3, threads: Int, measuresBandwidth: Bool = true, warmup: Bool = true) {
        self.promptTokens = promptTokens
        self.generatedTokens = generatedTokens
        self.batches = batches.isEmpty ? [1] : batches
        self.depths = depths.isEmpty ? [0] : depths
        self.repeats = repeats
        self.threads = threads
        self.measuresBandwidth = measuresBandwidth
        self.warmup = warmup
    }

    public init(promptTokens: Int = 512, generatedTokens: Int = 128, batch: Int, depth: Int = 0,
                repeats: Int = 3, threads: Int, measuresBandwidth: Bool = true, warmup: Bool = true) {
        self.init(promptTokens: promptTokens, generatedTokens: generatedTokens, batches: [batch], depths: [depth],
                  repeats: repeats, threads: threads, measuresBandwidth: measuresBandwidth, warmup: warmup)
    }

    private var maxDepth: Int { depths.max() ?? 0 }
    private var maxBatch: Int { batches.max() ?? 1 }
    /// Positions of the image-prompt test's images.
    public var imageRows: Int { imageParts.reduce(0) { $0 + $1.spanLength } }
    private var imagePromptTest: String { "img\(imageRows)+pp\(promptTokens)" }

    /// The positions one sequence needs, and the cache capacity for all of them.
    public var contextNeeded: Int { max(promptTokens + imageRows, maxDepth + generatedTokens) + 2 }
    /// The generation sequences are forked from the context; a fork copies the shared, partly
    /// filled last block before writing, so each needs up to a block more than its own tokens;
    /// 32 covers any block size up to 32.
    public var cacheNeeded: Int { max(promptTokens + imageRows, maxDepth + 2 + maxBatch * (generatedTokens + 32)) }

    /// The tests in the order `run` reports them: the prompt test (when `promptTokens` > 0),
    /// then generation for each depth and, within it, each batch (when `generatedTokens` > 0).
    public var tests: [(test: String, batch: Int, depth: Int)] {
        var tests: [(test: String, batch: Int, depth: Int)] = []
        if promptTokens > 0 { tests.append(("pp\(promptTokens)", 1, 0)) }
        if !imageParts.isEmpty { tests.append((imagePromptTest, 1, 0)) }
        if generatedTokens > 0 {
            for depth in depths { for batch in batches { tests.append(("tg\(generatedTokens)", batch, depth)) } }
        }
        return tests
    }

    /// Runs the measurements, reporting each test as its runs complete. Throws the model's errors.
    public func run(model: any TextModel, pool: ThreadPool,
                    report: (Measurement) -> Void) throws(TextModelError) {
        func bandwidth() -> Double? {
            measuresBandwidth ? KernelBenchmark.readBandwidth(pool: pool).gigabytesPerSecond : nil
        }
        var random = SeededRandomNumberGenerator(seed: 42)   // the same tokens on every run
        let clock = ContinuousClock()
        func seconds(_ d: Duration) -> Double {
            Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
        }
        func tokens(_ n: Int) -> [Int32] {
            (0..<n).map { _ in Int32(truncatingIfNeeded: random.next() % UInt64(model.vocabularySize)) }
        }

        if warmup {
            let sequence = try model.makeSequence()
            defer { model.release(sequence) }
            _ = try model.forward(Batch(prompt: tokens(1), sequence: sequence, logits: .last))
        }

        /// `repeats` prefills of a fresh sequence with `inputs`, reported as `test`.
        func promptTest(_ test: String, inputs: () -> [Batch.Input]) throws(TextModelError) {
            var samples: [Double] = []
            let before = bandwidth()
            var count = 0
            for _ in 0..<repeats {
                let sequence = try model.makeSequence()
                defer { model.release(sequence) }
                let prompt = inputs()
                count = prompt.count
                var batch = Batch()
                for (position, input) in prompt.enumerated() {
                    batch.items.append(Batch.Item(sequence: sequence, position: position, input: input,
                                                  wantsLogits: position == prompt.count - 1))
                }
                let start = clock.now
                _ = try model.forward(batch)
                samples.append(Double(count) / seconds(clock.now - start))
            }
            let after = bandwidth()
            report(Measurement(test: test, samples: samples, tokens: count, threads: threads,
                               batch: 1, depth: 0, bandwidthBefore: before, bandwidthAfter: after))
        }

        if promptTokens > 0 {
            try promptTest("pp\(promptTokens)") {
                var inputs = tokens(promptTokens).map { Batch.Input.token($0) }
                if let image { inputs[0] = .image(PromptImage(image.content), index: 0) }   // a new K/V copy each run
                return inputs
            }
        }
        if !imageParts.isEmpty {
            try promptTest(imagePromptTest) {
                imageParts.flatMap { part in (0..<part.spanLength).map { Batch.Input.image(part, index: $0) } }
                    + tokens(promptTokens).map { .token($0) }
            }
        }

        guard generatedTokens > 0 else { return }
        for depth in depths {
            // One context per run, shared by that run of every batch size: each batch forks
            // its sequences from it and releases them, so the context is filled once.
            var samples = [[Double]](repeating: [], count: batches.count)
            var effectiveDepth = depth
            let before = bandwidth()
            for _ in 0..<repeats {
                let context = try model.makeSequence()
                defer { model.release(context) }
                var chunkStart = 0
                if let image {
                    var first = Batch()
                    first.add(image: image, index: 0, sequence: context, position: 0, wantsLogits: false)
                    _ = try model.forward(first)
                    chunkStart = 1
                }
                effectiveDepth = max(depth, chunkStart)
                while chunkStart < effectiveDepth {   // the context, in prompt-sized chunks
                    let count = min(512, effectiveDepth - chunkStart)
                    _ = try model.forward(Batch(prompt: tokens(count), sequence: context,
                                                startPosition: chunkStart, logits: .none))
                    chunkStart += count
                }
                for (index, batch) in batches.enumerated() {
                    var sequences: [SequenceID] = []
                    defer { for sequence in sequences { model.release(sequence) } }
                    for _ in 0..<batch { sequences.append(try model.fork(context)) }
                    let start = clock.now
                    for step in 0..<generatedTokens {
                        var stepBatch = Batch()
                        for sequence in sequences {
                            stepBatch.add(token: tokens(1)[0], sequence: sequence, position: effectiveDepth + step,
                                          wantsLogits: true)
                        }
                        _ = try model.forward(stepBatch)
                    }
                    samples[index].append(Double(generatedTokens * batch) / seconds(clock.now - start))
                }
            }
            let after = bandwidth()
            for (index, batch) in batches.enumerated() {
                report(Measurement(test: "tg\(generatedTokens)", samples: samples[index], tokens: generatedTokens * batch,
                                   threads: threads, batch: batch, depth: effectiveDepth,
                                   bandwidthBefore: before, bandwidthAfter: after))
            }
        }
    }
}

import GGUF

extension TextModelBenchmark {
    /// Bytes of weights one decode step reads: every tensor, except that only one row of the
    /// token embedding is read when the output matrix is separate (a tied output reads it whole).
    public static func weightBytesPerToken(file: GGUFFile) -> Int {
        let tied = file.tensor(named: "output.weight") == nil
        return file.tensors.reduce(0) { total, tensor in
            if tensor.name == "token_embd.weight" && !tied {
                return total + tensor.rowByteCount
            }
            return total + tensor.byteCount
        }
    }
}
