import Foundation
import Inference

/// The self judge's comparisons of one stage on the local model. Each comparison forks the
/// cached sequence that shares the longest prefix with its prompt (the run's prompt, image
/// included, or the previous comparison: question, earlier stages, criterion), prefills only
/// the rest, and reads the answer tokens' log-probabilities from one row of logits; its
/// sequence then replaces the previous comparison's.
final class LocalChoiceSession: ChoiceSession, @unchecked Sendable {
    private let model: LocalReasoningModel
    /// Sequences a comparison may fork, with the inputs they hold; `owned`: made (and
    /// released) by the session, otherwise borrowed (the run's prompt).
    private var cache: [(sequence: SequenceID, inputs: [Batch.Input], owned: Bool)] = []
    private(set) var promptTokens = 0

    init(model: LocalReasoningModel, shared: SharedPrefix?) {
        self.model = model
        if let shared { cache = [(shared.sequence, shared.inputs, false)] }
    }

    deinit { for cached in cache where cached.owned { model.model.release(cached.sequence) } }

    func logProbabilities(_ conversation: ReasoningConversation, choices: [String]) async throws -> [Double] {
        let inputs = try model.render(conversation).inputs
        let ids = try choices.map { choice -> Int32 in
            guard let id = model.tokenizer.encode(choice, addSpecial: false, parseSpecial: false).first else {
                throw SelfJudge.JudgeError.noAnswerTokens
            }
            return id
        }
        guard !inputs.isEmpty else { throw GenerationError.emptyPrompt }
        let textModel = model.model
        // The longest usable shared prefix; at least the last input is always fed.
        var best: (index: Int, length: Int)?
        if model.sharesJudgePrefixes {
            for (index, cached) in cache.enumerated() {
                var length = 0
                let limit = min(cached.inputs.count, inputs.count - 1)
                while length < limit, cached.inputs[length] == inputs[length] { length += 1 }
                if length > 0, length > (best?.length ?? 0) { best = (index, length) }
            }
        }
        let sequence: SequenceID
        var reused = 0
        if let best {
            sequence = try textModel.fork(cache[best.index].sequence)
            try textModel.truncate(sequence, to: best.length)
            reused = best.length
        } else {
            sequence = try textModel.makeSequence()
        }
        var batch = Batch()
        for position in reused..<inputs.count {
            batch.items.append(Batch.Item(sequence: sequence, position: position, input: inputs[position],
                                          wantsLogits: position == inputs.count - 1))
        }
        promptTokens += batch.items.count
        let logits: Logits
        do {
            logits = try textModel.forward(batch)
        } catch {
            textModel.release(sequence)
            throw error
        }
        if let index = cache.firstIndex(where: \.owned) {
            textModel.release(cache[index].sequence)
            cache.remove(at: index)
        }
        if model.sharesJudgePrefixes {
            cache.append((sequence, inputs, true))
        } else {
            textModel.release(sequence)
        }
        let row = Array(logits.row(0))
        let top = row.max() ?? 0
        let logSum = Double(top) + Foundation.log(row.reduce(0) { $0 + Foundation.exp(Double($1 - top)) })
        return ids.map { Double(row[Int($0)]) - logSum }
    }
}
