/// `ponder bench` for text models, in the manner of llama-bench: prompt processing (one batch
/// of `promptTokens` random tokens) and generation (`generatedTokens` steps of one token per
/// sequence, after `depth` positions of context, `batch` sequences decoded together).
public struct TextModelBenchmark: Sendable {
    public struct Measurement: Sendable, Codable, Equatable {
        /// `pp512`, `tg128`, … as llama-bench names them.
        public var test: String
        public var tokensPerSecond: Double
        public var threads: Int
        public var batch: Int
        public var depth: Int
        public var seconds: Double
        /// Read bandwidth (GB/s) measured right before and after the run.
        public var bandwidthBefore: Double?
        public var bandwidthAfter: Double?

        enum CodingKeys: String, CodingKey {
            case test, threads, batch, depth, seconds
            case tokensPerSecond = "tokens_per_second"
            case bandwidthBefore = "bandwidth_gbps_before"
            case bandwidthAfter = "bandwidth_gbps_after"
        }
    }

    public var promptTokens: Int
    public var generatedTokens: Int
    public var batch: Int
    public var depth: Int
    public var repeats: Int
    public var threads: Int
    /// Measure memory bandwidth around each run.
    public var measuresBandwidth: Bool
    /// A cross-attention image (mllama) that the prompt starts with: the prompt test then
    /// includes computing its K/V (a new copy each run), and the generation test's context
    /// starts with it, so the cross-attention layers run.
    public var image: PromptImage?

    public init(promptTokens: Int = 512, generatedTokens: Int = 128, batch: Int = 1, depth: Int = 0,
                repeats: Int = 3, threads: Int, measuresBandwidth: Bool = true) {
        self.promptTokens = promptTokens
        self.generatedTokens = generatedTokens
        self.batch = batch
        self.depth = depth
        self.repeats = repeats
        self.threads = threads
        self.measuresBandwidth = measuresBandwidth
    }

    /// The positions one sequence needs, and the cache capacity for all of them.
    public var contextNeeded: Int { max(promptTokens, depth + generatedTokens) + 2 }
    /// Forked sequences copy the shared, partly filled last block of the context before writing,
    /// so each needs up to a block more than its own tokens; 32 covers any block size up to 32.
    public var cacheNeeded: Int { max(promptTokens, depth + 1 + batch * (generatedTokens + 32)) }

    /// Runs the measurements, reporting each as it completes. Throws the model's errors.
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

        if promptTokens > 0 {
            var best = Double.infinity
            let before = bandwidth()
            for _ in 0..<repeats {
                let sequence = try model.makeSequence()
                defer { model.release(sequence) }
                var batch = Batch(prompt: tokens(promptTokens), sequence: sequence, logits: .last)
                if let image {
                    batch.items[0].input = .image(PromptImage(image.content), index: 0)
                }
                let start = clock.now
                _ = try model.forward(batch)
                best = min(best, seconds(clock.now - start))
            }
            let after = bandwidth()
            report(Measurement(test: "pp\(promptTokens)", tokensPerSecond: Double(promptTokens) / best,
                               threads: threads, batch: 1, depth: 0, seconds: best,
                               bandwidthBefore: before, bandwidthAfter: after))
        }

        if generatedTokens > 0 {
            var best = Double.infinity
            let before = bandwidth()
            for _ in 0..<repeats {
                var sequences: [SequenceID] = [try model.makeSequence()]
                defer { for sequence in sequences { model.release(sequence) } }
                var chunkStart = 0
                if let image {
                    var first = Batch()
                    first.add(image: image, index: 0, sequence: sequences[0], position: 0, wantsLogits: false)
                    _ = try model.forward(first)
                    chunkStart = 1
                }
                let depth = max(depth, chunkStart)
                while chunkStart < depth {   // the context, in prompt-sized chunks
                    let count = min(512, depth - chunkStart)
                    _ = try model.forward(Batch(prompt: tokens(count), sequence: sequences[0],
                                                startPosition: chunkStart, logits: .none))
                    chunkStart += count
                }
                for _ in 1..<batch { sequences.append(try model.fork(sequences[0])) }
                let start = clock.now
                for step in 0..<generatedTokens {
                    var stepBatch = Batch()
                    for sequence in sequences {
                        stepBatch.add(token: tokens(1)[0], sequence: sequence, position: depth + step, wantsLogits: true)
                    }
                    _ = try model.forward(stepBatch)
                }
                best = min(best, seconds(clock.now - start))
            }
            let after = bandwidth()
            report(Measurement(test: "tg\(generatedTokens)",
                               tokensPerSecond: Double(generatedTokens * batch) / best,
                               threads: threads, batch: batch, depth: depth, seconds: best,
                               bandwidthBefore: before, bandwidthAfter: after))
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
