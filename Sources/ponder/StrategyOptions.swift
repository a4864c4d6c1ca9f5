import ArgumentParser
import Foundation
import Inference
import Reasoning

/// The search flags shared by `ask`, `eval` and `chat`: strategy, candidates, judge, token
/// budget and the stage instruction.
struct StrategyOptions: ParsableArguments {
    @Option(help: "The most tokens to generate (a whole answer; per stage with stage-beam).")
    var maxTokens = 512

    @Option(help: "How to search: greedy (one pass), best-of-n (N whole answers, the judge picks), stage-beam (N candidates per stage, the judge keeps one).")
    var strategy: Strategy = .greedy

    @Option(help: "Candidates per stage (stage-beam) or whole answers (best-of-n).")
    var beam = 4

    @Option(help: "Stage-beam: how many candidates of each stage are kept as beams; each then spawns beam/keep candidates.")
    var keep = 1

    @Option(help: "Who picks among candidates: self (the model compares two at a time, image in view), logprob (mean token log-probability) or first.")
    var judge: JudgeName = .logprob

    @Option(help: "The instruction appended to the question that asks for the four tagged stages (for models not trained on the format).")
    var stageInstruction = StageInstruction.standard

    @Flag(help: "Ask the question as it is, without the stage instruction (for LLaVA-CoT-trained models; automatic for models whose GGUF sets ponder.stage_format).")
    var noStageInstruction = false

    func validate() throws {
        guard maxTokens >= 1 else { throw ValidationError("--max-tokens must be at least 1.") }
        guard beam >= 1 else { throw ValidationError("--beam must be at least 1.") }
        guard keep >= 1 && keep <= beam else { throw ValidationError("--keep must be between 1 and --beam (\(beam)), not \(keep).") }
    }

    /// Several candidates need sampling to differ; LLaVA-CoT samples at 0.6.
    var defaultTemperature: Float { strategy == .greedy ? 0 : 0.6 }

    /// The instruction to append to questions for `chat`'s model, if any.
    /// A thinking model reasons in its own `<think>` block: no instruction.
    func instruction(for chat: ChatModel) -> String? {
        noStageInstruction || stageInstruction.isEmpty || chat.knowsStageFormat || chat.opensThinking ? nil : stageInstruction
    }

    /// The instruction to append to questions for a served model (nothing is known of its
    /// training, so the instruction goes unless turned off).
    var remoteInstruction: String? { noStageInstruction || stageInstruction.isEmpty ? nil : stageInstruction }

    /// The run's configuration over the stages of `plan`.
    func configuration(parameters: SamplingParameters, plan: StagePlan) -> ReasoningConfiguration {
        var configuration = ReasoningConfiguration(strategy: strategy, candidates: beam, keep: keep, parameters: parameters,
                                                   stageTokenBudget: maxTokens, maxTokens: maxTokens)
        configuration.stagePlan = plan
        return configuration
    }

    /// The judge over `model`; `self` compares on it, with the run's system prompt.
    func judge(for model: any ReasoningModel, system: String?) -> any Judge {
        switch judge {
        case .self: SelfJudge(model: model, system: system)
        case .logprob: LogProbabilityJudge()
        case .first: FirstJudge()
        }
    }

    /// The run's configuration; a thinking model's stage-beam runs over its two stages.
    func configuration(parameters: SamplingParameters, chat: ChatModel) -> ReasoningConfiguration {
        var configuration = ReasoningConfiguration(strategy: strategy, candidates: beam, keep: keep, parameters: parameters,
                                                   stageTokenBudget: maxTokens, maxTokens: maxTokens)
        if chat.opensThinking { configuration.stagePlan = .thinking }
        return configuration
    }

    /// The judge; `self` compares with `images()` in view (the embeddings the run already
    /// has, or, to measure the naive search, encoded again on every call).
    func makeJudge(chat: ChatModel, system: String?, sharesPrefixes: Bool = true,
                   images: @escaping @Sendable () throws -> [EncodedImage]) -> any Judge {
        switch judge {
        case .self:
            SelfJudge(model: chat.textModel, tokenizer: chat.tokenizer, sharesPrefixes: sharesPrefixes) { instruction in
                let images = try images()
                var messages: [ChatMessage] = []
                if let system { messages.append(.system(system)) }
                messages.append(.user(instruction, images: images.count))
                return try chat.prompt(messages, images: images)
            }
        case .logprob: LogProbabilityJudge()
        case .first: FirstJudge()
        }
    }
}

extension Strategy: ExpressibleByArgument {}

enum JudgeName: String, ExpressibleByArgument, CaseIterable {
    case `self`, logprob, first
}
