import Foundation
import Inference

/// The model judges its own candidates, as LLaVA-CoT's stage-level beam search does: a
/// knockout over the candidates, each match one comparison of two candidates for the stage
/// with a stage-specific prompt (the image in context when the run has one). The verdict is
/// read from the logits of the two answer tokens (`1` and `2`) after one forward pass, not
/// generated. Each comparison forks what it shares with the run's prompt (the image) or with
/// the previous comparison (question, earlier stages, criterion) and prefills only the rest.
public struct SelfJudge: Judge {
    public let model: any ReasoningModel
    /// The system prompt of the comparison conversations (the run's own, if any).
    public let system: String?

    public init(model: any ReasoningModel, system: String? = nil) {
        self.model = model
        self.system = system
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

    public enum JudgeError: Error, CustomStringConvertible {
        case noAnswerTokens
        public var description: String { "The model's vocabulary cannot encode the answers '1' and '2' the self judge reads." }
    }

    /// The conversation of one comparison: the instruction as the question, the image in view.
    func conversation(_ context: JudgeContext, _ first: Int, _ second: Int) -> ReasoningConversation {
        ReasoningConversation(question: Self.instruction(context, first, second, context.candidates[first],
                                                         context.candidates[second]),
                              system: system, withImage: true)
    }

    public func judge(_ context: JudgeContext) async throws -> Verdict {
        precondition(!context.candidates.isEmpty, "a judge needs at least one candidate")
        var winner = 0
        var wins = [Double](repeating: 0, count: context.candidates.count)
        var comparisons: [Verdict.Comparison] = []
        let session = model.choiceSession(sharing: context.sharedPrefix)
        for challenger in context.candidates.indices.dropFirst() {
            try Task.checkCancellation()
            let answers = try await session.logProbabilities(conversation(context, winner, challenger), choices: ["1", "2"])
            let next = answers[0] >= answers[1] ? winner : challenger
            comparisons.append(.init(first: winner, second: challenger, winner: next))
            wins[next] += 1
            winner = next
        }
        return Verdict(chosen: winner, scores: wins, comparisons: comparisons, prefilledTokens: session.promptTokens)
    }
}
