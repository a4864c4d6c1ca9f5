import GGUF
import Testing
@testable import Inference

/// The engine's forward pass against the naive reference, and its batching invariants.
@Suite struct TextModelForwardTests {
    static let shapes: [(String, TinyTextModel.Shape)] = [
        ("llama GQA untied", TinyTextModel.Shape()),
        ("llama MHA tied rope_freqs", TinyTextModel.Shape(keyValueHeads: 4, tiedOutput: true, ropeFactors: true)),
        ("qwen2 GQA biases tied", TinyTextModel.Shape(architecture: "qwen2", keyValueHeads: 1, tiedOutput: true,
                                                      biases: true, ropeBase: 1_000_000)),
    ]

    static let prompt: [Int32] = [1, 5, 9, 33, 2, 17, 17, 30, 4, 11, 39, 0, 8, 21, 22, 23, 7, 3, 12, 19, 25]

    @Test(arguments: 0..<shapes.count)
    func prefillMatchesNaiveReference(_ index: Int) throws {
        let tiny = TinyTextModel(Self.shapes[index].1, seed: UInt64(index + 1))
        let model = try tiny.load()
        let sequence = try model.makeSequence()
        let logits = try model.forward(Batch(prompt: Self.prompt, sequence: sequence, logits: .all))
        let reference = NaiveReference.logits(tiny, tokens: Self.prompt)
        #expect(logits.rowCount == Self.prompt.count)
        for position in Self.prompt.indices {
            let error = relativeError(logits.row(position), reference[position])
            #expect(error < 1e-4, "\(Self.shapes[index].0) position \(position): relative error \(error)")
        }
        #expect(try model.length(of: sequence) == Self.prompt.count)
    }

    @Test(arguments: 0..<shapes.count)
    func tokenByTokenDecodeMatchesPrefill(_ index: Int) throws {
        let tiny = TinyTextModel(Self.shapes[index].1, seed: UInt64(index + 1))
        let model = try tiny.load(threads: 1)
        let whole = try model.makeSequence(), stepwise = try model.makeSequence()
        let prefill = try model.forward(Batch(prompt: Self.prompt, sequence: whole, logits: .all))
        for (position, token) in Self.prompt.enumerated() {
            let step = try model.forward(Batch(prompt: [token], sequence: stepwise, startPosition: position))
            #expect(relativeError(step.row(0), prefill.row(position)) < 1e-5)
        }
    }

    @Test func batchedDecodeOfSeveralSequencesEqualsOneAtATime() throws {
        let tiny = TinyTextModel(TinyTextModel.Shape(), seed: 7)
        let model = try tiny.load(cacheCapacity: 1024)
        let prompts: [[Int32]] = [Array(Self.prompt.prefix(5)), Array(Self.prompt.suffix(17)), [3], Array(Self.prompt.prefix(16))]
        let continuations: [[Int32]] = [[4, 5, 6], [7, 8, 9], [10, 11, 12], [13, 14, 15]]
        // Together: one prompt batch holding every prompt, then one step per token for all.
        let together = try prompts.map { _ in try model.makeSequence() }
        var batch = Batch()
        for (sequence, prompt) in zip(together, prompts) {
            batch.items += Batch(prompt: prompt, sequence: sequence).items
        }
        let first = try model.forward(batch)
        var jointRows: [[Float]] = together.map { Array(first.lastRow(for: $0)!) }
        for step in 0..<3 {
            var decode = Batch()
            for (index, sequence) in together.enumerated() {
                decode.add(token: continuations[index][step], sequence: sequence,
                           position: prompts[index].count + step, wantsLogits: true)
            }
            let logits = try model.forward(decode)
            jointRows += together.map { Array(logits.lastRow(for: $0)!) }
        }
        // Alone: each sequence on its own.
        var aloneRows: [[Float]] = Array(repeating: [], count: prompts.count * 4)
        for (index, prompt) in prompts.enumerated() {
            let sequence = try model.makeSequence()
            aloneRows[index] = Array(try model.forward(Batch(prompt: prompt, sequence: sequence)).row(0))
            for step in 0..<3 {
                let logits = try model.forward(Batch(prompt: [continuations[index][step]], sequence: sequence,
                                                     startPosition: prompt.count + step))
                aloneRows[(step + 1) * prompts.count + index] = Array(logits.row(0))
            }
        }
        for (joint, alone) in zip(jointRows, aloneRows) {
            #expect(relativeError(joint, alone) < 1e-5)
        }
        // And against the reference, for the longest one.
        let reference = NaiveReference.logits(tiny, tokens: prompts[1] + continuations[1])
        #expect(relativeError(jointRows[3 * prompts.count + 1], reference.last!) < 1e-4)
    }

    @Test(arguments: [5, 16, 21])
    func forkedSequenceEqualsPrefillFromScratch(_ forkAt: Int) throws {
        let tiny = TinyTextModel(TinyTextModel.Shape(architecture: "qwen2", biases: true), seed: 3)
        let model = try tiny.load()
        let prefix = Array(Self.prompt.prefix(forkAt))
        let parent = try model.makeSequence()
        _ = try model.forward(Batch(prompt: prefix, sequence: parent))
        let child = try model.fork(parent)
        #expect(try model.length(of: child) == forkAt)
        // Both continue differently, in one batch, past the shared (possibly partial) block.
        let parentTail: [Int32] = [1, 2, 3, 4, 5, 6], childTail: [Int32] = [9, 8, 7, 6, 5, 4]
        var batch = Batch(prompt: parentTail, sequence: parent, startPosition: forkAt, logits: .all)
        batch.items += Batch(prompt: childTail, sequence: child, startPosition: forkAt, logits: .all).items
        let logits = try model.forward(batch)
        for (sequence, tail) in [(parent, parentTail), (child, childTail)] {
            let fresh = try model.makeSequence()
            let scratch = try model.forward(Batch(prompt: prefix + tail, sequence: fresh, logits: .all))
            let rows = logits.sequences.indices.filter { logits.sequences[$0] == sequence }
            for (offset, row) in rows.enumerated() {
                #expect(relativeError(logits.row(row), scratch.row(forkAt + offset)) < 1e-5,
                        "\(sequence) after fork at \(forkAt), offset \(offset)")
            }
        }
    }

    @Test func truncateThenRedecodeEqualsOriginal() throws {
        let tiny = TinyTextModel(TinyTextModel.Shape(), seed: 11)
        let model = try tiny.load()
        let sequence = try model.makeSequence()
        let original = try model.forward(Batch(prompt: Self.prompt, sequence: sequence, logits: .all))
        // Roll back into the first block, take a detour, roll back again, redo the original.
        try model.truncate(sequence, to: 9)
        _ = try model.forward(Batch(prompt: [38, 37, 36, 35, 34, 33, 32, 31, 30, 29], sequence: sequence, startPosition: 9))
        try model.truncate(sequence, to: 9)
        #expect(try model.length(of: sequence) == 9)
        let redone = try model.forward(Batch(prompt: Array(Self.prompt[9...]), sequence: sequence, startPosition: 9,
                                             logits: .all))
        for row in 0..<redone.rowCount {
            #expect(relativeError(redone.row(row), original.row(9 + row)) < 1e-5)
        }
    }

    @Test func embeddingInputEqualsTokenInput() throws {
        let tiny = TinyTextModel(TinyTextModel.Shape(), seed: 5)
        let model = try tiny.load()
        let tokens = Array(Self.prompt.prefix(8))
        let byToken = try model.forward(Batch(prompt: tokens, sequence: try model.makeSequence(), logits: .all))
        var batch = Batch(returnsHiddenStates: true)
        let sequence = try model.makeSequence()
        for (position, token) in tokens.enumerated() {
            if position % 2 == 0 {
                batch.add(embedding: tiny.tokenEmbedding[Int(token)], sequence: sequence, position: position, wantsLogits: true)
            } else {
                batch.add(token: token, sequence: sequence, position: position, wantsLogits: true)
            }
        }
        let mixed = try model.forward(batch)
        #expect(mixed.hiddenStates?.count == tokens.count * tiny.shape.embedding)
        for row in 0..<tokens.count {
            #expect(relativeError(mixed.row(row), byToken.row(row)) < 1e-6)
        }
    }
}
