import ArgumentParser
import Foundation
import GGUF
import Inference

struct Generate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Continue a prompt with a text model, streaming the text as it is generated.",
        discussion: """
            The prompt is tokenized with the model's vocabulary (BOS as the model says) and \
            continued until an end-of-generation token, a --stop string or --max-tokens. \
            Sampling follows llama.cpp's chain (repetition penalty, top-k, top-p, min-p, \
            temperature); --temperature 0 is greedy. A given --seed gives the same text on \
            every run. Statistics go to stderr.

            Examples:
              ponder generate --model model.gguf "Once upon a time"
              ponder generate --model model.gguf --chat "Name three primary colours."
              ponder generate --model model.gguf --temperature 0 --max-tokens 32 "1, 2, 3,"
              ponder generate --model model.gguf --seed 7 --top-p 0.9 --stop "\\n\\n" "Q: Why is the sky blue?\\nA:"
            """)

    @Option(help: "The GGUF model, or a name that ponder models lists.", completion: .file(extensions: ["gguf"]))
    var model: String

    @OptionGroup var modelStore: ModelStoreOptions

    @OptionGroup var chatOptions: ChatOptions

    @OptionGroup var sampling: SamplingOptions

    @Option(help: "The most tokens to generate.")
    var maxTokens = 256

    @Option(help: "Stop when the text reaches this string (repeatable); the string is not printed.")
    var stop: [String] = []

    @OptionGroup var runtime: RunOptions

    @Argument(help: "The prompt.")
    var prompt: String

    func validate() throws {
        guard maxTokens >= 1 else { throw ValidationError("--max-tokens must be at least 1.") }
    }

    func run() async throws {
        let parameters = sampling.parameters
        let generator: Generator
        let ids: [Int32]
        let path = try modelStore.resolve(model).model
        do {
            let file = try GGUFFile(path: path)
            let tokenizer = try VocabularyTokenizer(file: file)
            let text = try chatOptions.prompt(for: prompt, file: file)
            ids = tokenizer.encode(text, addSpecial: true, parseSpecial: chatOptions.isEnabled)
            let textModel = try loadTextModel(file: file, options: TextModelOptions(
                contextLength: runtime.contextLength, threadCount: runtime.threads))
            guard ids.count < textModel.contextLength else {
                throw CommandFailure("The prompt is \(ids.count) tokens, more than the context of \(textModel.contextLength) allows; raise --context-length.")
            }
            generator = Generator(model: textModel, tokenizer: tokenizer)
        } catch let failure as CommandFailure {
            throw failure
        } catch {
            throw CommandFailure(error)
        }
        try await streamAnswer(generator.generate(GenerationPrompt(tokens: ids), parameters: parameters,
                                                  stop: StopCondition(stopStrings: stop, maxTokens: maxTokens)),
                               seed: parameters.seed, quiet: runtime.quiet)
    }
}
