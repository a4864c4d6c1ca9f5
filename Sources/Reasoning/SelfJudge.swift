import Foundation
import Inference

/// The model judges its own candidates, as LLaVA-CoT's stage-level beam search does: a
/// knockout over the candidates, each match one comparison of two candidates for the stage
/// with a stage-specific prompt (the image in context when the run has one). The verdict is
/// read from the logits of the two answer tokens (`1` and `2`) after one forward pass, not
/// generated.
public struct SelfJudge: Judge {
    /// Builds the inputs of one comparison: the rendered judge conversation (chat template,
    /// image included) around `instruction`, with the generation prompt.
    public typealias PromptBuilder = @Sendable (_ instruction: String) throws -> GenerationPrompt

    public let model: any TextModel
    public let tokenizer: any Tokenizer
    public let prompt: PromptBuilder

    public init(model: any TextModel, tokenizer: any Tokenizer, prompt: @escaping PromptBuilder) {
        self.model = model
        self.tokenizer = tokenizer
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

    /// The comparison instruction for two candidates of `context.stage`.
    public static func instruction(_ context: JudgeContext, _ first: Candidate, _ second: Candidate) -> String {
        var text = "You are comparing two possible \(context.stage.rawValue) stages of an answer to a question about the image.\n"
        text += "Question: \(context.question)\n"
        for (stage, accepted) in context.acceptedStages {
            text += "Already written \(stage.rawValue): \(accepted)\n"
        }
        text += "\(criterion(for: context.stage))\n"
        text += "Response 1: \(first.text.trimmingCharacters(in: .whitespacesAndNewlines))\n"
        text += "Response 2: \(second.text.trimmingCharacters(in: .whitespacesAndNewlines))\n"
        text += "Which response is better? Answer with the number only: 1 or 2."
        return text
    }

    /// Whether the first candidate wins: logit("1") ≥ logit("2") after the comparison prompt.
    func firstWins(_ context: JudgeContext, _ first: Candidate, _ second: Candidate) throws -> (Bool, Double) {
        let inputs = try prompt(Self.instruction(context, first, second)).inputs
        guard let one = tokenizer.encode("1", addSpecial: false, parseSpecial: false).first,
              let two = tokenizer.encode("2", addSpecial: false, parseSpecial: false).first else {
            throw JudgeError.noAnswerTokens
        }
        let sequence = try model.makeSequence()
        defer { model.release(sequence) }
        var batch = Batch()
        for (position, input) in inputs.enumerated() {
            batch.items.append(Batch.Item(sequence: sequence, position: position, input: input,
                                          wantsLogits: position == inputs.count - 1))
        }
        let logits = try model.forward(batch)
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
        for challenger in context.candidates.indices.dropFirst() {
            try Task.checkCancellation()
            let (firstWins, _) = try firstWins(context, context.candidates[winner], context.candidates[challenger])
            let next = firstWins ? winner : challenger
            comparisons.append(.init(first: winner, second: challenger, winner: next))
            wins[next] += 1
            winner = next
        }
        return Verdict(chosen: winner, scores: wins, comparisons: comparisons)
    }
}
