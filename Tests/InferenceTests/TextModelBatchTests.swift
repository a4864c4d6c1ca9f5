import Testing
@testable import Inference

/// Batch validation (all or nothing) on the real model and on the fake, and the fake's
/// history semantics that generation tests rely on.
@Suite struct TextModelBatchTests {
    static func models() throws -> [any TextModel] {
        [try TinyTextModel(TinyTextModel.Shape(context: 32)).load(cacheCapacity: 64),
         FakeTextModel(vocabularySize: 40, embeddingLength: 32, contextLength: 32, seed: 9)]
    }

    @Test(arguments: 0..<2)
    func invalidBatchesAreRefusedAndChangeNothing(_ index: Int) throws {
        let model = try Self.models()[index]
        let a = try model.makeSequence(), b = try model.makeSequence()
        _ = try model.forward(Batch(prompt: [1, 2, 3], sequence: a))
        let cases: [(Batch, TextModelError.Kind)] = [
            (Batch(prompt: [4], sequence: a, startPosition: 2), .positionMismatch(a, expected: 3, found: 2)),
            (Batch(prompt: [4, 5], sequence: b, startPosition: 0, logits: .all) + Batch(prompt: [9], sequence: a, startPosition: 4),
             .positionMismatch(a, expected: 3, found: 4)),
            (Batch(prompt: [1, 40], sequence: b), .tokenOutOfRange(token: 40, vocabularySize: 40)),
            (Batch(prompt: [-1], sequence: b), .tokenOutOfRange(token: -1, vocabularySize: 40)),
            (Batch(items: [.init(sequence: b, position: 0, input: .embedding([1, 2]), wantsLogits: true)]),
             .embeddingLengthMismatch(expected: 32, found: 2)),
            (Batch(prompt: [1], sequence: SequenceID(rawValue: 77)), .unknownSequence(SequenceID(rawValue: 77))),
            (Batch(prompt: Array(repeating: 1, count: 30), sequence: a, startPosition: 3), .contextFull(a, contextLength: 32)),
        ]
        for (batch, kind) in cases {
            #expect(throws: TextModelError(kind: kind)) { _ = try model.forward(batch) }
            #expect(try model.length(of: a) == 3 && model.length(of: b) == 0)
        }
        // The sequences still work and give the logits they would have given.
        let after = try model.forward(Batch(prompt: [4], sequence: a, startPosition: 3))
        let fresh = try model.makeSequence()
        let scratch = try model.forward(Batch(prompt: [1, 2, 3, 4], sequence: fresh))
        #expect(relativeError(after.row(0), scratch.row(0)) < 1e-5)
    }

    @Test(arguments: 0..<2)
    func releasedSequencesAreUnknown(_ index: Int) throws {
        let model = try Self.models()[index]
        let a = try model.makeSequence()
        _ = try model.forward(Batch(prompt: [1, 2], sequence: a))
        let b = try model.fork(a)
        model.release(a)
        model.release(a)
        #expect(throws: TextModelError(kind: .unknownSequence(a))) { _ = try model.length(of: a) }
        #expect(try model.length(of: b) == 2)
        #expect(throws: TextModelError(kind: .invalidTruncation(b, length: 3, sequenceLength: 2))) {
            try model.truncate(b, to: 3)
        }
    }

    @Test func fakeLogitsFollowHistoryThroughForkAndTruncate() throws {
        let fake = FakeTextModel(vocabularySize: 16, seed: 4)
        let a = try fake.makeSequence()
        let first = try fake.forward(Batch(prompt: [1, 2, 3], sequence: a, logits: .all))
        #expect(Array(first.row(2)) == fake.logits(after: [1, 2, 3]))
        #expect(Array(first.row(0)) == fake.logits(after: [1]))
        #expect(fake.logits(after: [1, 2]) != fake.logits(after: [2, 1]))
        let b = try fake.fork(a)
        var step = Batch()
        step.add(token: 5, sequence: a, position: 3, wantsLogits: true)
        step.add(token: 6, sequence: b, position: 3, wantsLogits: true)
        let both = try fake.forward(step)
        #expect(Array(both.lastRow(for: a)!) == fake.logits(after: [1, 2, 3, 5]))
        #expect(Array(both.lastRow(for: b)!) == fake.logits(after: [1, 2, 3, 6]))
        try fake.truncate(b, to: 1)
        #expect(fake.history(of: b) == [1] && fake.history(of: a) == [1, 2, 3, 5])
        #expect(fake.forwardBatchSizes == [3, 2])
        let scripted = FakeTextModel(vocabularySize: 4) { history in
            (0..<4).map { Float($0 == history.count % 4 ? 1 : 0) }
        }
        let s = try scripted.makeSequence()
        #expect(Array(try scripted.forward(Batch(prompt: [0, 0], sequence: s)).row(0)) == [0, 0, 1, 0])
    }
}

extension Batch {
    static func + (lhs: Batch, rhs: Batch) -> Batch {
        Batch(items: lhs.items + rhs.items, returnsHiddenStates: lhs.returnsHiddenStates || rhs.returnsHiddenStates)
    }
}
