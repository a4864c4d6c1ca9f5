import Inference

/// A sequence already in the model that a judge may fork (never release) to skip prefilling
/// the inputs it holds: the run's prompt, image included.
struct SharedPrefix: Sendable {
    var sequence: SequenceID
    /// The inputs the sequence holds, from position 0.
    var inputs: [Batch.Input]

    init(sequence: SequenceID, inputs: [Batch.Input]) {
        self.sequence = sequence
        self.inputs = inputs
    }
}

extension SelfJudge {
    /// Builds the inputs of one comparison on the local model: the rendered judge conversation
    /// (chat template, image included) around `instruction`, with the generation prompt.
    public typealias PromptBuilder = @Sendable (_ instruction: String) throws -> GenerationPrompt

    /// A self judge on a local text model whose comparison prompts `prompt` builds. With
    /// `sharesPrefixes` off, every comparison is prefilled from scratch, as the reference
    /// implementation does (for benchmarks).
    public init(model: any TextModel, tokenizer: any Tokenizer, sharesPrefixes: Bool = true,
                prompt: @escaping PromptBuilder) {
        self.init(model: LocalReasoningModel(generator: Generator(model: model, tokenizer: tokenizer),
                                             sharesJudgePrefixes: sharesPrefixes) { try prompt($0.question) })
    }
}
