import ArgumentParser
import ChatService
import Foundation
import Inference
import Reasoning
import RemoteModel
import TUI

/// `ponder chat` (and bare `ponder`): the terminal app.
struct Chat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat",
        abstract: "Chat about an image in the terminal and watch the model reason, stage by stage.",
        discussion: """
            Opens the terminal app: the image, the conversation, and each answer's four stages \
            (summary, caption, reasoning, conclusion) as they generate, with the candidates of \
            each stage to compare and pick. Without --model it opens the bundled demo model \
            with its sample image and question. Press ? in the app for the keys.

            Examples:
              ponder
              ponder chat --model llava.gguf --mmproj mmproj.gguf --image cat.jpg
              ponder chat --model llama3.2-vision:11b --image cat.jpg   (a name that ponder models lists)
              ponder chat --strategy stage-beam --beam 4 --judge manual --theme light
              ponder chat --server http://127.0.0.1:8000 --image cat.jpg --strategy stage-beam --judge self
            """)

    @Option(help: "The GGUF text model, or a name that ponder models lists (default: the bundled demo model).", completion: .file(extensions: ["gguf"]))
    var model: String?

    @Option(help: "The vision projector (mmproj) GGUF that goes with the model (default: the listed model's).", completion: .file(extensions: ["gguf"]))
    var mmproj: String?

    @OptionGroup var modelStore: ModelStoreOptions
    @OptionGroup var imagePixels: ImagePixelOptions
    @OptionGroup var remote: ServerOptions

    @Option(help: "The image to open with: JPEG, PNG or PPM (default: the demo model's sample).", completion: .file())
    var image: String?

    @Option(help: "Colour theme: dark, light, ansi, high-contrast, solarized, or one in ~/.config/ponder/themes (NO_COLOR turns colours off).")
    var theme = "dark"

    @Option(help: "How to search: greedy, best-of-n or stage-beam.")
    var strategy = "greedy"

    @Option(help: "Candidates per stage (stage-beam) or whole answers (best-of-n), 1–9.")
    var beam = 4

    @Option(help: "Who picks among candidates: self, logprob, first or manual (you, at each stage).")
    var judge = "logprob"

    @Option(help: "The most tokens of an answer (per stage with stage-beam).")
    var maxTokens = 512

    @Option(help: ArgumentHelp("Use this chat-template family instead of the model's: "
                                + ChatTemplateFamily.allNames.joined(separator: ", ") + ".", valueName: "name"))
    var chatTemplate: String?

    @Option(help: "A system message to put before the conversation.")
    var system: String?

    @Flag(help: "Ask questions as they are, without the instruction that asks for the four tagged stages.")
    var noStageInstruction = false

    @OptionGroup var sampling: SamplingOptions
    @OptionGroup var runtime: RunOptions

    func validate() throws {
        guard ChatSettings.strategies.contains(strategy) else {
            throw ValidationError("--strategy must be one of \(ChatSettings.strategies.joined(separator: ", ")), not '\(strategy)'.")
        }
        guard ChatSettings.judges.contains(judge) else {
            throw ValidationError("--judge must be one of \(ChatSettings.judges.joined(separator: ", ")), not '\(judge)'.")
        }
        guard (1...9).contains(beam) else { throw ValidationError("--beam must be between 1 and 9, not \(beam).") }
        guard maxTokens >= 1 else { throw ValidationError("--max-tokens must be at least 1.") }
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let noColor = !(environment["NO_COLOR"] ?? "").isEmpty
        let colours: Theme
        do { colours = try Theme.load(named: theme) } catch { throw CommandFailure(error) }
        func requireTerminal() throws {
            guard isatty(STDIN_FILENO) == 1, isatty(STDOUT_FILENO) == 1 else {
                throw CommandFailure("ponder chat needs a terminal: standard input and output must be a TTY (use ponder ask in scripts).")
            }
        }
        let keyVariable = remote.apiKeyEnv
        let connector: ChatService.Connector = { server in
            try await RemoteChatSource.connect(server: server, keyVariable: keyVariable)
        }
        let source: any ChatModelSource
        var imagePath = image
        var question = ""
        if let server = try await remote.connect() {
            try requireTerminal()
            source = RemoteChatSource(model: server)
        } else {
            let files = try ModelFiles(model: model, mmproj: mmproj, store: modelStore)
            try files.checkVision(image: image)
            try requireTerminal()
            if !runtime.quiet { FileHandle.standardError.write(Data("Loading \(files.model)…\n".utf8)) }
            let chat: ChatModel
            do {
                chat = try ChatModel(model: files.model, mmproj: files.mmproj,
                                     options: TextModelOptions(contextLength: runtime.contextLength, threadCount: runtime.threads),
                                     chatTemplate: chatTemplate, imagePixels: imagePixels.bounds)
            } catch {
                throw CommandFailure(error)
            }
            source = LocalChatSource(chat: chat, name: files.displayName)
            imagePath = image ?? files.sampleImage
            question = image == nil ? files.sampleQuestion ?? "" : ""
        }
        let backend: ChatService
        do {
            backend = try ChatService(source: source, system: system,
                                      instruction: noStageInstruction ? nil : StageInstruction.standard,
                                      parameters: sampling.parameters(defaultTemperature: 0), fixedSeed: sampling.seed != nil,
                                      maxTokens: maxTokens, connector: connector)
        } catch {
            throw CommandFailure(error)
        }
        let settings = ChatSettings(strategy: strategy, beam: beam, judge: judge,
                                    temperature: sampling.temperature.map(Double.init))
        let state = AppState(size: Size(width: 80, height: 24), theme: colours, settings: settings,
                             preferences: Preferences.load(), modelName: backend.modelName, imagePath: imagePath,
                             question: question)
        // The run loop blocks; it gets a thread of its own, so generation keeps the
        // cooperative pool.
        let result: Result<Void, TerminalError> = await withCheckedContinuation { continuation in
            let thread = Thread {
                do {
                    let terminal = try NCursesTerminal(noColor: noColor)
                    ChatApp(state: state, terminal: terminal, backend: backend).run()
                    continuation.resume(returning: .success(()))
                } catch let error as TerminalError {
                    continuation.resume(returning: .failure(error))
                } catch {
                    continuation.resume(returning: .failure(TerminalError(description: String(describing: error))))
                }
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        if case .failure(let error) = result { throw CommandFailure(error) }
    }
}
