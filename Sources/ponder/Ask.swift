import ArgumentParser
import Foundation
import GGUF
import Inference
import Reasoning

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

    @Option(help: "The most tokens to generate (a whole answer; per stage with stage-beam).")
    var maxTokens = 512

    @Option(help: "How to search: greedy (one pass), best-of-n (N whole answers, the judge picks), stage-beam (N candidates per stage, the judge keeps one).")
    var strategy: Strategy = .greedy

    @Option(help: "Candidates per stage (stage-beam) or whole answers (best-of-n).")
    var beam = 4

    @Option(help: "Who picks among candidates: self (the model compares two at a time, image in view), logprob (mean token log-probability) or first.")
    var judge: JudgeName = .logprob

    @Option(help: "The instruction appended to the question that asks for the four tagged stages (for models not trained on the format).")
    var stageInstruction = StageInstruction.standard

    @Flag(help: "Ask the question as it is, without the stage instruction (for LLaVA-CoT-trained models).")
    var noStageInstruction = false

    @Flag(help: "Print all four stages, not only the conclusion.")
    var showStages = false

    @Flag(help: "Print the events as JSON, one object per line, then the whole answer.")
    var json = false

    @OptionGroup var runtime: RunOptions

    @Argument(help: "The question.")
    var question: String

    func validate() throws {
        guard maxTokens >= 1 else { throw ValidationError("--max-tokens must be at least 1.") }
        guard beam >= 1 else { throw ValidationError("--beam must be at least 1.") }
    }

    func run() async throws {
        if image != nil && mmproj == nil {
            throw CommandFailure("--image needs --mmproj, the vision projector that goes with the model.")
        }
        let parameters = sampling.parameters
        let generator: Generator
        let prompt: GenerationPrompt
        let judgePrompt: SelfJudge.PromptBuilder
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
            let asked = noStageInstruction || stageInstruction.isEmpty ? question : question + "\n\n" + stageInstruction
            messages.append(.user(asked, images: images.count))
            let text = try ChatOptions.render(messages, chatTemplate: chatTemplate, file: file)
            prompt = try MultimodalPrompt(tokenizer: tokenizer, projectorType: projectorType).inputs(for: text, images: images)
            guard prompt.count < textModel.contextLength else {
                throw CommandFailure("The prompt is \(prompt.count) positions (image included), more than the context of \(textModel.contextLength) allows; raise --context-length.")
            }
            generator = Generator(model: textModel, tokenizer: tokenizer)
            // The self judge sees the same image (its embeddings, not encoded again).
            let chatTemplate = self.chatTemplate, system = self.system, imageEmbeddings = images
            let builder = MultimodalPrompt(tokenizer: tokenizer, projectorType: projectorType)
            judgePrompt = { instruction in
                var messages: [ChatMessage] = []
                if let system { messages.append(.system(system)) }
                messages.append(.user(instruction, images: imageEmbeddings.count))
                return try builder.inputs(for: ChatOptions.render(messages, chatTemplate: chatTemplate, file: file, quiet: true),
                                          images: imageEmbeddings)
            }
        } catch let failure as CommandFailure {
            throw failure
        } catch {
            throw CommandFailure(error)
        }
        let judge: any Judge = switch self.judge {
        case .self: SelfJudge(model: generator.model, tokenizer: generator.tokenizer, prompt: judgePrompt)
        case .logprob: LogProbabilityJudge()
        case .first: FirstJudge()
        }
        let configuration = ReasoningConfiguration(strategy: strategy, candidates: beam, parameters: parameters,
                                                   stageTokenBudget: maxTokens, maxTokens: maxTokens)
        var printer = AnswerPrinter(json: json, showStages: showStages, streams: strategy == .greedy)
        let record: ReasoningRecord
        do {
            record = try await Reasoner(generator: generator, judge: judge)
                .run(prompt: prompt, question: question, configuration: configuration) { printer.handle($0) }
        } catch {
            throw CommandFailure(error)
        }
        printer.finish(record)
        if !runtime.quiet && !json {
            let line = String(format: "%d prompt tokens, %d generated in %.2f s", record.promptTokens,
                              record.generatedTokens, record.seconds)
                + ", strategy \(strategy.rawValue), seed \(parameters.seed)\n"
            FileHandle.standardError.write(Data(line.utf8))
        }
    }
}

extension Strategy: ExpressibleByArgument {}

enum JudgeName: String, ExpressibleByArgument, CaseIterable {
    case `self`, logprob, first
}

/// Prints a reasoning run: the conclusion (or every stage) as plain text, streamed for a
/// single pass and printed per chosen stage otherwise; or the events as JSON lines.
struct AnswerPrinter {
    let json: Bool
    let showStages: Bool
    let streams: Bool
    private var parser = StageParser()
    private let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    init(json: Bool, showStages: Bool, streams: Bool) {
        self.json = json
        self.showStages = showStages
        self.streams = streams
    }

    private func write(_ text: String) { FileHandle.standardOutput.write(Data(text.utf8)) }

    mutating func handle(_ event: ReasoningEvent) {
        if json {
            if let data = try? encoder.encode(event) { write(String(decoding: data, as: UTF8.self) + "\n") }
            return
        }
        if streams, case .token(_, _, let text) = event {
            for stageEvent in parser.feed(text) { show(stageEvent) }
        }
    }

    private func show(_ event: StageEvent) {
        switch event {
        case .opened(let stage):
            if showStages { write("\n[\(stage.rawValue)]\n") }
        case .text(let stage, let text):
            if showStages || stage == .conclusion { write(text) }
        case .closed:
            break
        }
    }

    mutating func finish(_ record: ReasoningRecord) {
        if json {
            struct Done: Encodable {
                let event = "done"
                let answer: String
                let stages: [String: String]
                let stats: [String: Double]
            }
            let done = Done(answer: record.answer, stages: record.stages,
                            stats: ["prompt_tokens": Double(record.promptTokens),
                                    "generated_tokens": Double(record.generatedTokens), "seconds": record.seconds])
            if let data = try? encoder.encode(done) { write(String(decoding: data, as: UTF8.self) + "\n") }
            if let data = try? encoder.encode(record) { write(String(decoding: data, as: UTF8.self) + "\n") }
            return
        }
        if streams {
            for event in parser.finish() { show(event) }
        } else if showStages {
            for stage in Stage.allCases {
                if let text = record.stages[stage.rawValue] { write("\n[\(stage.rawValue)]\n" + text) }
            }
        } else {
            write(record.answer)
        }
        write("\n")
    }
}
