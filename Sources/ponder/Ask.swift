import ArgumentParser
import Foundation
import GGUF
import Inference

struct Ask: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ask",
        abstract: "Ask a vision-language model a question about an image and stream its answer.",
        discussion: """
            Decodes the image, encodes it with the vision projector (--mmproj), puts the \
            question and the image into the model's chat template as one user turn (the \
            image first), and streams the answer. Without --image the question is asked \
            alone. Statistics go to stderr.

            Examples:
              ponder ask --model llava.gguf --mmproj mmproj.gguf --image cat.jpg "What is the cat doing?"
              ponder ask --model smolvlm.gguf --mmproj mmproj.gguf --image chart.png --temperature 0 "Which bar is tallest?"
            """)

    @Option(help: "The GGUF text model.", completion: .file(extensions: ["gguf"]))
    var model: String

    @Option(help: "The vision projector (mmproj) GGUF that goes with the model.", completion: .file(extensions: ["gguf"]))
    var mmproj: String?

    @Option(help: "The image: JPEG, PNG or PPM.", completion: .file())
    var image: String?

    @Option(help: ArgumentHelp("Use this chat-template family instead of the model's: "
                                + ChatTemplateFamily.allNames.joined(separator: ", ") + ".", valueName: "name"))
    var chatTemplate: String?

    @Option(help: "A system message to put before the question.")
    var system: String?

    @OptionGroup var sampling: SamplingOptions

    @Option(help: "The most tokens to generate.")
    var maxTokens = 512

    @OptionGroup var runtime: RunOptions

    @Argument(help: "The question.")
    var question: String

    func validate() throws {
        guard maxTokens >= 1 else { throw ValidationError("--max-tokens must be at least 1.") }
    }

    func run() async throws {
        if image != nil && mmproj == nil {
            throw CommandFailure("--image needs --mmproj, the vision projector that goes with the model.")
        }
        let parameters = sampling.parameters
        let generator: Generator
        let prompt: GenerationPrompt
        do {
            let file = try GGUFFile(path: model)
            let tokenizer = try VocabularyTokenizer(file: file)
            let textModel = try loadTextModel(file: file, options: TextModelOptions(
                contextLength: runtime.contextLength, threadCount: runtime.threads))
            var images: [ImageEmbeddings] = []
            var projectorType = ProjectorType.mlp
            if let image, let mmproj {
                let encoder = try loadVisionEncoder(path: mmproj, threads: runtime.threads)
                guard encoder.embeddingWidth == textModel.configuration.embeddingLength else {
                    throw VisionError(file: mmproj, kind: .textModelMismatch(
                        projectorWidth: encoder.embeddingWidth, textWidth: textModel.configuration.embeddingLength))
                }
                projectorType = encoder.configuration.projectorType
                images.append(encoder.encode(try ImageDecoder.decode(contentsOf: image)))
            }
            var messages: [ChatMessage] = []
            if let system { messages.append(.system(system)) }
            messages.append(.user(question, images: images.count))
            let text = try ChatOptions.render(messages, chatTemplate: chatTemplate, file: file)
            prompt = try MultimodalPrompt(tokenizer: tokenizer, projectorType: projectorType).inputs(for: text, images: images)
            guard prompt.count < textModel.contextLength else {
                throw CommandFailure("The prompt is \(prompt.count) positions (image included), more than the context of \(textModel.contextLength) allows; raise --context-length.")
            }
            generator = Generator(model: textModel, tokenizer: tokenizer)
        } catch let failure as CommandFailure {
            throw failure
        } catch {
            throw CommandFailure(error)
        }
        try await streamAnswer(generator.generate(prompt, parameters: parameters,
                                                  stop: StopCondition(maxTokens: maxTokens)),
                               seed: parameters.seed, quiet: runtime.quiet)
    }
}
