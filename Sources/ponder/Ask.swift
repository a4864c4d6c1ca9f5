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

    @Option(help: "The GGUF text model (default: the bundled demo model).", completion: .file(extensions: ["gguf"]))
    var model: String?

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

    @Option(help: "Stage-beam: how many candidates of each stage are kept as beams; each then spawns beam/keep candidates.")
    var keep = 1

    @Flag(help: .hidden)
    var naive = false

    @Option(help: "Who picks among candidates: self (the model compares two at a time, image in view), logprob (mean token log-probability) or first.")
    var judge: JudgeName = .logprob

    @Option(help: "The instruction appended to the question that asks for the four tagged stages (for models not trained on the format).")
    var stageInstruction = StageInstruction.standard

    @Flag(help: "Ask the question as it is, without the stage instruction (for LLaVA-CoT-trained models; automatic for models whose GGUF sets ponder.stage_format).")
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
        guard keep >= 1 && keep <= beam else { throw ValidationError("--keep must be between 1 and --beam (\(beam)), not \(keep).") }
        if naive && strategy != .stageBeam { throw ValidationError("--naive measures stage-beam only.") }
    }

    func run() async throws {
        if image != nil && mmproj == nil && model != nil {
            throw CommandFailure("--image needs --mmproj, the vision projector that goes with the model.")
        }
        let files = try ModelFiles(model: model, mmproj: mmproj)
        // Several candidates need sampling to differ; LLaVA-CoT samples at 0.6.
        let parameters = sampling.parameters(defaultTemperature: strategy == .greedy ? 0 : 0.6)
        let chat: ChatModel
        let prompt: GenerationPrompt
        let judgePrompt: SelfJudge.PromptBuilder
        var naivePrompt: (@Sendable () throws -> GenerationPrompt)?
        do {
            chat = try ChatModel(model: files.model, mmproj: image == nil ? nil : files.mmproj,
                                 options: TextModelOptions(contextLength: runtime.contextLength, threadCount: runtime.threads),
                                 chatTemplate: chatTemplate)
            let images = try image.map { [try chat.encodeImage(atPath: $0)] } ?? []
            let instruction = noStageInstruction || stageInstruction.isEmpty || chat.knowsStageFormat ? nil : stageInstruction
            let (question, system) = (self.question, self.system)
            prompt = try chat.prompt(question: question, instruction: instruction, system: system, images: images)
            if let warning = chat.template.warning, !runtime.quiet {
                FileHandle.standardError.write(Data("warning: \(warning)\n".utf8))
            }
            guard prompt.count < chat.textModel.contextLength else {
                throw CommandFailure("The prompt is \(prompt.count) positions (image included), more than the context of \(chat.textModel.contextLength) allows; raise --context-length.")
            }
            // The self judge sees the same image: its embeddings, not encoded again, unless
            // --naive measures the reference implementation, which encodes it for every call.
            let imagePath = image, naive = self.naive
            let embeddings: @Sendable () throws -> [ImageEmbeddings] = {
                naive ? try imagePath.map { [try chat.encodeImage(atPath: $0)] } ?? [] : images
            }
            judgePrompt = { judgeInstruction in
                let images = try embeddings()
                var messages: [ChatMessage] = []
                if let system { messages.append(.system(system)) }
                messages.append(.user(judgeInstruction, images: images.count))
                return try chat.prompt(messages, images: images)
            }
            if naive {
                naivePrompt = {
                    try chat.prompt(question: question, instruction: instruction, system: system, images: try embeddings())
                }
            }
        } catch let failure as CommandFailure {
            throw failure
        } catch {
            throw CommandFailure(error)
        }
        let generator = Generator(model: chat.textModel, tokenizer: chat.tokenizer)
        let judge: any Judge = switch self.judge {
        case .self: SelfJudge(model: chat.textModel, tokenizer: chat.tokenizer, sharesPrefixes: !naive, prompt: judgePrompt)
        case .logprob: LogProbabilityJudge()
        case .first: FirstJudge()
        }
        var configuration = ReasoningConfiguration(strategy: strategy, candidates: beam, keep: keep, parameters: parameters,
                                                   stageTokenBudget: maxTokens, maxTokens: maxTokens)
        configuration.naivePrompt = naivePrompt
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
