import ArgumentParser
import Foundation
import GGUF
import Inference
import Reasoning
import RemoteModel

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
              ponder ask --model ggml-org/SmolVLM-256M-Instruct-GGUF --image cat.jpg "What is this?"
              ponder ask --model smolvlm.gguf --mmproj mmproj.gguf --image chart.png --temperature 0 "Which bar is tallest?"
              ponder ask --server http://127.0.0.1:8000 --image cat.jpg --strategy stage-beam --judge self "What is this?"
            """)

    @Option(help: "The GGUF text model, or a name that ponder models lists (default: the bundled demo model).", completion: .file(extensions: ["gguf"]))
    var model: String?

    @Option(help: "The vision projector (mmproj) GGUF that goes with the model (default: the listed model's).", completion: .file(extensions: ["gguf"]))
    var mmproj: String?

    @OptionGroup var modelStore: ModelStoreOptions
    @OptionGroup var imagePixels: ImagePixelOptions
    @OptionGroup var remote: ServerOptions

    @Option(help: "The image: JPEG, PNG or PPM.", completion: .file())
    var image: String?

    @Option(help: ArgumentHelp("Use this chat-template family instead of the model's: "
                                + ChatTemplateFamily.allNames.joined(separator: ", ") + ".", valueName: "name"))
    var chatTemplate: String?

    @Option(help: "A system message to put before the question.")
    var system: String?

    @OptionGroup var sampling: SamplingOptions

    @OptionGroup var search: StrategyOptions

    @Flag(help: .hidden)
    var naive = false

    @Flag(help: "Print all four stages, not only the conclusion.")
    var showStages = false

    @Flag(help: "Print the events as JSON, one object per line, then the whole answer.")
    var json = false

    @OptionGroup var runtime: RunOptions

    @Argument(help: "The question.")
    var question: String

    func validate() throws {
        if naive && search.strategy != .stageBeam { throw ValidationError("--naive measures stage-beam only.") }
        if remote.server != nil && (model != nil || mmproj != nil || naive) {
            throw ValidationError("--server answers with the served model: leave out --model, --mmproj and --naive.")
        }
    }

    func run() async throws {
        if let server = try await remote.connect() {
            try await run(on: server)
            return
        }
        let files = try ModelFiles(model: model, mmproj: mmproj, store: modelStore)
        try files.checkVision(image: image)
        let parameters = sampling.parameters(defaultTemperature: search.defaultTemperature)
        let strategy = search.strategy
        let chat: ChatModel
        let prompt: GenerationPrompt
        let judge: any Judge
        var naivePrompt: (@Sendable () throws -> GenerationPrompt)?
        do {
            chat = try ChatModel(model: files.model, mmproj: image == nil ? nil : files.mmproj,
                                 options: TextModelOptions(contextLength: runtime.contextLength, threadCount: runtime.threads),
                                 chatTemplate: chatTemplate, imagePixels: imagePixels.bounds)
            // Long encodes (Llama 3.2 Vision: minutes on a few cores) show their layers on a terminal.
            let showsProgress = !runtime.quiet && isatty(STDERR_FILENO) != 0
            let images: [EncodedImage] = try image.map { path -> [EncodedImage] in
                let encoded = try chat.encodeImage(atPath: path, progress: showsProgress ? { done, total in
                    FileHandle.standardError.write(Data("\rencoding the image: layer \(done)/\(total)".utf8))
                } : nil)
                if showsProgress, chat.imageLayout == .mllama { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
                return [encoded]
            } ?? []
            let instruction = search.instruction(for: chat)
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
            let embeddings: @Sendable () throws -> [EncodedImage] = {
                naive ? try imagePath.map { [try chat.encodeImage(atPath: $0)] } ?? [] : images
            }
            judge = search.makeJudge(chat: chat, system: system, sharesPrefixes: !naive, images: embeddings)
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
        var configuration = search.configuration(parameters: parameters, chat: chat)
        var printer = AnswerPrinter(json: json, showStages: showStages, streams: strategy == .greedy)
        let record: ReasoningRecord
        do {
            record = try await Reasoner(generator: generator, judge: judge, naivePrompt: naivePrompt)
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

    /// The question asked of a served model (the image sent with it).
    private func run(on server: RemoteModel) async throws {
        let parameters = sampling.parameters(defaultTemperature: search.defaultTemperature)
        var printer = AnswerPrinter(json: json, showStages: showStages, streams: search.strategy == .greedy)
        let record: ReasoningRecord
        do {
            let model = try image.map { try server.attaching(imageAt: $0) } ?? server
            let conversation = ReasoningConversation(question: question, system: system, instruction: search.remoteInstruction)
            record = try await Reasoner(model: model, judge: search.judge(for: model, system: system))
                .run(conversation: conversation, configuration: search.configuration(parameters: parameters, plan: .llavaCoT)) {
                    printer.handle($0)
                }
        } catch {
            throw CommandFailure(error)
        }
        printer.finish(record)
        if !runtime.quiet && !json {
            let cached = record.cachedTokens.map { " (\($0) cached)" } ?? ""
            let line = "\(record.promptTokens) prompt tokens\(cached), \(record.generatedTokens) generated in "
                + String(format: "%.2f s", record.seconds)
                + ", strategy \(search.strategy.rawValue), seed \(parameters.seed), \(server.connection.server)\n"
            FileHandle.standardError.write(Data(line.utf8))
        }
    }
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
