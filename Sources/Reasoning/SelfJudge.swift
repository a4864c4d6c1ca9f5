import Foundation
import Inference

/// The model judges its own candidates, as LLaVA-CoT's stage-level beam search does: a
/// knockout over the candidates, each match one comparison of two candidates for the stage
/// with a stage-specific prompt (the image in context when the run has one). The verdict is
/// read from the logits of the two answer tokens (`1` and `2`) after one forward pass, not
/// generated. Each comparison forks what it shares with the run's prompt (the image) or with
/// the previous comparison (question, earlier stages, criterion) and prefills only the rest.
public struct SelfJudge: Judge {
    /// Builds the inputs of one comparison: the rendered judge conversation (chat template,
    /// image included) around `instruction`, with the generation prompt.
    public typealias PromptBuilder = @Sendable (_ instruction: String) throws -> GenerationPrompt

    public let model: any TextModel
    public let tokenizer: any Tokenizer
    public let prompt: PromptBuilder
    /// Whether comparisons reuse the run's prompt and each other's prefix in the model. Off,
    /// every comparison is prefilled from scratch, as the reference implementation does (for
    /// benchmarks).
    public let sharesPrefixes: Bool

    public init(model: any TextModel, tokenizer: any Tokenizer, sharesPrefixes: Bool = true,
                prompt: @escaping PromptBuilder) {
        self.model = model
        self.tokenizer = tokenizer
        self.sharesPrefixes = sharesPrefixes
        self.prompt = prompt
    }

    public var name: String { "self" }

    /// What a better candidate does in each stage (the LLaVA-CoT criteria, in Ponder's words).
    public static func criterion(for stage: Stage) -> String {
        switch stage {
        case .summary:
            "A good summary lays out how the question will be approached, step by step, without already solving it."
        case .caption:
            "A good caption describes, thoroughly and accurately, what in the image matters for answering the question, and nothing it cannot see."
        case .reasoning:
            "First check each response's reasoning against the image and the description: is every step correct? Then prefer the sounder reasoning with fewer errors that leads toward an answer."
        case .conclusion:
            "A good conclusion follows from the reasoning, answers the question directly, and does not refuse."
        }
    }

    /// The comparison instruction for two candidates of `context.stage`. What all comparisons
    /// of a stage share comes first (question, earlier stages, criterion), so that their
    /// prompts share a prefix in the model.
    public static func instruction(_ context: JudgeContext, _ first: Candidate, _ second: Candidate) -> String {
        instruction(context, context.candidates.firstIndex(of: first) ?? 0, context.candidates.firstIndex(of: second) ?? 0,
                    first, second)
    }

    static func instruction(_ context: JudgeContext, _ firstIndex: Int, _ secondIndex: Int,
                            _ first: Candidate, _ second: Candidate) -> String {
        let firstHistory = history(context, at: firstIndex), secondHistory = history(context, at: secondIndex)
        var text = "Question: \(context.question)\n"
        let sameHistory = firstHistory.elementsEqual(secondHistory, by: ==)
        if sameHistory {
            for (stage, accepted) in firstHistory { text += "Already written \(stage.rawValue): \(accepted)\n" }
        }
        text += "You are comparing two possible \(context.stage.rawValue) stages of an answer to this question about the image.\n"
        text += "\(criterion(for: context.stage))\n"
        for (number, (candidate, history)) in [(first, firstHistory), (second, secondHistory)].enumerated() {
            text += "Response \(number + 1): "
            if !sameHistory {
                text += "(after " + history.map { "\($0.0.rawValue): \($0.1)" }.joined(separator: "; ") + ") "
            }
            text += candidate.text.trimmed + "\n"
        }
        text += "Which response is better? Answer with the number only: 1 or 2."
        return text
    }

    private static func history(_ context: JudgeContext, at index: Int) -> [(Stage, String)] {
        index < context.histories.count ? context.histories[index] : context.acceptedStages
    }

    /// A sequence in the model and the inputs it holds, that a comparison may fork.
    struct Cached {
        var sequence: SequenceID
        var inputs: [Batch.Input]
        /// Whether the judge made it (and releases it) or borrowed it (the run's prompt).
        var owned: Bool
    }

    /// Whether the first candidate wins: logit("1") ≥ logit("2") after the comparison prompt.
    /// The comparison's sequence forks the cached sequence that shares the longest prefix with
    /// its prompt and prefills only the rest; it then becomes the cache for the next one.
    func firstWins(_ context: JudgeContext, _ first: Int, _ second: Int,
                   cache: inout [Cached], prefilled: inout Int) throws -> (Bool, Double) {
        let inputs = try prompt(Self.instruction(context, first, second, context.candidates[first],
                                                 context.candidates[second])).inputs
        guard let one = tokenizer.encode("1", addSpecial: false, parseSpecial: false).first,
              let two = tokenizer.encode("2", addSpecial: false, parseSpecial: false).first else {
            throw JudgeError.noAnswerTokens
        }
        guard !inputs.isEmpty else { throw GenerationError.emptyPrompt }
        // The longest usable shared prefix; at least the last input is always fed.
        var best: (index: Int, length: Int)?
        if sharesPrefixes {
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
            sequence = try model.fork(cache[best.index].sequence)
            try model.truncate(sequence, to: best.length)
            reused = best.length
        } else {
            sequence = try model.makeSequence()
        }
        var batch = Batch()
        for position in reused..<inputs.count {
            batch.items.append(Batch.Item(sequence: sequence, position: position, input: inputs[position],
                                          wantsLogits: position == inputs.count - 1))
        }
        let logits: Logits
        prefilled += batch.items.count
        do {
            logits = try model.forward(batch)
        } catch {
            model.release(sequence)
            throw error
        }
        // This comparison's sequence replaces the judge's own earlier one.
        if let index = cache.firstIndex(where: \.owned) {
            model.release(cache[index].sequence)
            cache.remove(at: index)
        }
        if sharesPrefixes {
            cache.append(Cached(sequence: sequence, inputs: inputs, owned: true))
        } else {
            model.release(sequence)
        }
        let row = logits.row(0)
        let margin = Double(row[row.startIndex + Int(one)] - row[row.startIndex + Int(two)])
        return (margin >= 0, margin)
    }

    public enum JudgeError: Error, CustomStringConvertible {
        case noAnswerTokens
        public var description: String { "The model's vocabulary cannot encode the answers '1' and '2' the self judge reads." }
    }

    public func judge(_ context: JudgeContext) async throws -> Verdict {
        precondition(!context.candidates.isEmpty, "a judge needs at least one candidate")
        var winner = 0
        var wins = [Double](repeating: 0, count: context.candidates.count)
        var comparisons: [Verdict.Comparison] = []
        var prefilled = 0
        var cache: [Cached] = context.sharedPrefix.map {
            [Cached(sequence: $0.sequence, inputs: $0.inputs, owned: false)]
        } ?? []
        defer { for cached in cache where cached.owned { model.release(cached.sequence) } }
        for challenger in context.candidates.indices.dropFirst() {
            try Task.checkCancellation()
            let (firstWins, _) = try firstWins(context, winner, challenger, cache: &cache, prefilled: &prefilled)
            let next = firstWins ? winner : challenger
            comparisons.append(.init(first: winner, second: challenger, winner: next))
            wins[next] += 1
            winner = next
        }
        return Verdict(chosen: winner, scores: wins, comparisons: comparisons, prefilledTokens: prefilled)
    }
}
