import GGUF
import Testing
@testable import Inference

/// The gemma3 block against the naive reference (q/k norms, post-norms, GeGLU, embedding
/// scale, sliding-window and global layers with their rope bases, image spans that attend both
/// ways), and the masks through decode steps, forks and batches.
@Suite struct Gemma3EngineTests {
    /// Four layers, a window of 5 with period 2: layers 0 and 2 slide, 1 and 3 are global.
    static let shape = TinyTextModel.Shape(architecture: "gemma3", layers: 4, tiedOutput: true,
                                           ropeBase: 1_000_000, slidingWindow: 5, slidingWindowPattern: 2)
    static let prompt: [Int32] = [1, 5, 9, 33, 2, 17, 17, 30, 4, 11, 39, 0, 8, 21, 22, 23, 7, 3, 12, 19, 25]

    /// Three tokens, an image of four rows, two tokens.
    struct ImagePrompt {
        let tiny: TinyTextModel
        let image: PromptImage
        let before: [Int32] = [1, 5, 9], after: [Int32] = [33, 2]
        var imageRows: Range<Int> { before.count..<(before.count + image.spanLength) }
        var count: Int { before.count + image.spanLength + after.count }

        init(_ tiny: TinyTextModel, seed: UInt64 = 11, lastRowShift: Float = 0) {
            self.tiny = tiny
            var random = SplitMix(seed: seed)
            let d = tiny.shape.embedding
            var values = (0..<(4 * d)).map { _ in random.uniform() }
            for e in 0..<d { values[3 * d + e] += lastRowShift }
            image = PromptImage(.embeddings(values: values, width: d))
        }

        func batch(_ sequence: SequenceID, from start: Int = 0, to end: Int? = nil) -> Batch {
            var batch = Batch()
            let inputs: [Batch.Input] = before.map { .token($0) } + (0..<image.spanLength).map { .image(image, index: $0) }
                + after.map { .token($0) }
            for position in start..<(end ?? count) {
                batch.items.append(Batch.Item(sequence: sequence, position: position, input: inputs[position], wantsLogits: true))
            }
            return batch
        }

        var referenceInputs: [[Double]] {
            let scale = Double(tiny.shape.embedding).squareRoot(), d = tiny.shape.embedding
            guard case .embeddings(let values, _) = image.content else { return [] }
            return before.map { tiny.tokenEmbedding[Int($0)].map { Double($0) * scale } }
                + (0..<image.spanLength).map { r in values[(r * d)..<((r + 1) * d)].map(Double.init) }
                + after.map { tiny.tokenEmbedding[Int($0)].map { Double($0) * scale } }
        }
    }

    @Test func theConfigurationReadsTheLayerPlan() throws {
        let configuration = try TextModelConfiguration(file: TinyTextModel(Self.shape).file())
        #expect(configuration.layerAttention.map(\.slidingWindow) == [5, nil, 5, nil])
        #expect(configuration.layerAttention.map(\.ropeSet) == [1, 0, 1, 0])
        #expect(configuration.ropeSet(1) == RopeSet(base: 10000, scale: 1))
        #expect(configuration.ropeSet(0) == RopeSet(base: 1_000_000, scale: 1))
        #expect(configuration.embeddingScale == Float(32).squareRoot())
        #expect(configuration.feedForwardActivation == .geluTanh && configuration.usesPostNorms)
        #expect(configuration.imageSpansAttendBothWays)
    }

    @Test func ollamasPerLayerFlagsAndLocalRopeBaseAreRead() throws {
        var writer = TinyTextModel(Self.shape).writer()
        writer.set("gemma3.attention.sliding_window_pattern", GGUFValue.array(.bool([true, true, false, true])))
        writer.set("gemma3.rope.local.freq_base", Float(5000))
        let configuration = try TextModelConfiguration(file: GGUFFile(bytes: writer.serialized(), name: "ollama.gguf"))
        #expect(configuration.layerAttention.map(\.slidingWindow) == [5, 5, nil, 5])
        #expect(configuration.ropeSet(1).base == 5000)
    }

    @Test func aMissingHeadNormIsNamed() throws {
        let writer = TinyTextModel(Self.shape).writer(skip: ["blk.1.attn_k_norm.weight"])
        #expect(throws: TextModelError.self) {
            _ = try loadTextModel(file: GGUFFile(bytes: writer.serialized(), name: "gemma.gguf"))
        }
        do {
            _ = try loadTextModel(file: GGUFFile(bytes: writer.serialized(), name: "gemma.gguf"))
        } catch {
            #expect("\(error)".contains("blk.1.attn_k_norm.weight"))
        }
    }

    @Test func prefillMatchesNaiveReference() throws {
        let tiny = TinyTextModel(Self.shape, seed: 5)
        let model = try tiny.load()
        let logits = try model.forward(Batch(prompt: Self.prompt, sequence: try model.makeSequence(), logits: .all))
        let reference = NaiveReference.logits(tiny, tokens: Self.prompt)
        for position in Self.prompt.indices {
            let error = relativeError(logits.row(position), reference[position])
            #expect(error < 1e-4, "position \(position): relative error \(error)")
        }
    }

    @Test func theWindowMattersOnlyPastItsLength() throws {
        let windowed = try TinyTextModel(Self.shape, seed: 5).load()
        var wide = Self.shape
        wide.slidingWindow = 1000
        let unlimited = try TinyTextModel(wide, seed: 5).load()
        let a = try windowed.forward(Batch(prompt: Self.prompt, sequence: try windowed.makeSequence(), logits: .all))
        let b = try unlimited.forward(Batch(prompt: Self.prompt, sequence: try unlimited.makeSequence(), logits: .all))
        #expect(relativeError(a.row(4), b.row(4)) < 1e-6)     // positions 0…4 fit a window of 5
        #expect(relativeError(a.row(20), b.row(20)) > 1e-3)
    }

    @Test func tokenByTokenDecodeMatchesPrefill() throws {
        let model = try TinyTextModel(Self.shape, seed: 5).load(threads: 1)
        let whole = try model.makeSequence(), stepwise = try model.makeSequence()
        let prefill = try model.forward(Batch(prompt: Self.prompt, sequence: whole, logits: .all))
        for (position, token) in Self.prompt.enumerated() {
            let step = try model.forward(Batch(prompt: [token], sequence: stepwise, startPosition: position))
            #expect(relativeError(step.row(0), prefill.row(position)) < 1e-5, "position \(position)")
        }
    }

    @Test func imageRowsAttendBothWaysAndMatchTheReference() throws {
        let tiny = TinyTextModel(Self.shape, seed: 5)
        let prompt = ImagePrompt(tiny)
        let model = try tiny.load()
        let logits = try model.forward(prompt.batch(try model.makeSequence()))
        let reference = NaiveReference.logits(tiny, inputs: prompt.referenceInputs, spans: [prompt.imageRows])
        let causal = NaiveReference.logits(tiny, inputs: prompt.referenceInputs)
        for position in 0..<prompt.count {
            #expect(relativeError(logits.row(position), reference[position]) < 1e-4, "position \(position)")
        }
        // The first image row sees the later ones: causal attention would give other logits.
        #expect(relativeError(reference[prompt.imageRows.lowerBound], causal[prompt.imageRows.lowerBound]) > 1e-3)
        // A change to the last image row moves the first image row, not the text before it.
        let shifted = ImagePrompt(tiny, lastRowShift: 0.5)
        let moved = try model.forward(shifted.batch(try model.makeSequence()))
        #expect(relativeError(moved.row(prompt.imageRows.lowerBound), logits.row(prompt.imageRows.lowerBound)) > 1e-3)
        #expect(relativeError(moved.row(prompt.before.count - 1), logits.row(prompt.before.count - 1)) < 1e-6)
    }

    @Test func aForkAfterTheImageKeepsPositionsAndMasks() throws {
        let tiny = TinyTextModel(Self.shape, seed: 5)
        let prompt = ImagePrompt(tiny)
        let model = try tiny.load()
        let whole = try model.forward(prompt.batch(try model.makeSequence()))
        // Up to the end of the image, fork, then the last two tokens on the fork.
        let parent = try model.makeSequence()
        _ = try model.forward(prompt.batch(parent, to: prompt.imageRows.upperBound))
        let child = try model.fork(parent)
        let rest = try model.forward(prompt.batch(child, from: prompt.imageRows.upperBound))
        for (row, position) in (prompt.imageRows.upperBound..<prompt.count).enumerated() {
            #expect(relativeError(rest.row(row), whole.row(position)) < 1e-5, "position \(position)")
        }
        // The parent continues the same way after its child went on.
        let again = try model.forward(prompt.batch(parent, from: prompt.imageRows.upperBound))
        #expect(relativeError(again.row(1), whole.row(prompt.count - 1)) < 1e-5)
    }

    @Test func aLlamaModelKeepsImageRowsCausal() throws {
        var shape = TinyTextModel.Shape()
        shape.layers = 2
        let tiny = TinyTextModel(shape, seed: 5)
        let prompt = ImagePrompt(tiny)
        let model = try tiny.load()
        let a = try model.forward(prompt.batch(try model.makeSequence()))
        let b = try model.forward(ImagePrompt(tiny, lastRowShift: 0.5).batch(try model.makeSequence()))
        #expect(relativeError(a.row(prompt.imageRows.lowerBound), b.row(prompt.imageRows.lowerBound)) < 1e-6)
    }
}
