import Inference

/// A prompt prefilled once into the model and kept there, so that a run, its judge calls and
/// any later branch continue from it: the image is encoded once and its rows are never
/// prefilled again.
///
/// The sequence holds every input but the last; each continuation feeds that last input
/// itself, which yields the logits its first token is sampled from. Released on deinit.
public final class PreparedPrompt: Sendable {
    public let model: any TextModel
    /// The model sequence that holds `inputs` without the last one.
    public let sequence: SequenceID
    /// The whole prompt.
    public let inputs: [Batch.Input]

    /// Prefills `prompt` (all but its last input) into a new sequence of `model`.
    public init(model: any TextModel, prompt: GenerationPrompt) throws {
        guard !prompt.inputs.isEmpty else { throw GenerationError.emptyPrompt }
        let sequence = try model.makeSequence()
        var batch = Batch()
        for (position, input) in prompt.inputs.dropLast().enumerated() {
            batch.items.append(Batch.Item(sequence: sequence, position: position, input: input, wantsLogits: false))
        }
        do {
            if !batch.isEmpty { _ = try model.forward(batch) }
        } catch {
            model.release(sequence)
            throw GenerationError.model(error)
        }
        self.model = model
        self.sequence = sequence
        self.inputs = prompt.inputs
    }

    deinit { model.release(sequence) }

    /// The inputs the sequence holds.
    public var held: ArraySlice<Batch.Input> { inputs.dropLast() }
    /// The input a continuation feeds first.
    public var pending: [Batch.Input] { [inputs[inputs.count - 1]] }
    /// The prompt as a judge may reuse it.
    var shared: SharedPrefix { SharedPrefix(sequence: sequence, inputs: Array(held)) }
}
