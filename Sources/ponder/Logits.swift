import ArgumentParser
import Foundation
import GGUF
import Inference

struct LogitsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logits",
        abstract: "Write the model's logits for every position of a token sequence or a prompt with images.",
        discussion: """
            Runs the whole input as one batch and writes raw little-endian f32 values, \
            [positions × output rows], row by row, to --out: the parity tool, to compare with \
            llama.cpp's logits (logits_all) or transformers'.

            --tokens takes ids as they are. --prompt (or --prompt-file) takes the whole prompt as \
            the chat template renders it: special-token text is parsed and nothing is added (no \
            BOS). Each --image goes where the family's image marker stands: <|image|> for \
            Llama 3.2 Vision (mllama), <__media__> for the others; an mllama model file that \
            holds its vision tower needs no --mmproj.

            Examples:
              ponder logits --model model.gguf --tokens "1 15043 3186" --out logits.f32
              ponder logits --model model.gguf --tokens "$(ponder tokenize --model model.gguf 'Hello')" --out l.f32
              ponder logits --model llava-cot.gguf --mmproj mmproj-llava-cot.gguf --image cat.png \\
                --prompt-file prompt.txt --out logits.f32
            """)

    @Option(help: "The GGUF model, or a name that ponder models lists.", completion: .file(extensions: ["gguf"]))
    var model: String

    @OptionGroup var modelStore: ModelStoreOptions
    @OptionGroup var imagePixels: ImagePixelOptions

    @Option(help: "Token ids, separated by spaces or commas.")
    var tokens: String?

    @Option(help: "The whole prompt text, special tokens written out (e.g. <|begin_of_text|>).")
    var prompt: String?

    @Option(name: .customLong("prompt-file"), help: "A file holding the whole prompt text.", completion: .file())
    var promptFile: String?

    @Option(help: "The vision projector (mmproj) for --image (default: the listed model's).", completion: .file(extensions: ["gguf"]))
    var mmproj: String?

    @Option(help: "An image for the next image marker of the prompt (repeat for several).", completion: .file())
    var image: [String] = []

    @Option(help: "The output file.", completion: .file())
    var out: String

    @Option(help: "Threads (default: all cores).")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    func validate() throws {
        let given = [tokens != nil, prompt != nil, promptFile != nil].filter { $0 }.count
        guard given == 1 else { throw ValidationError("Give exactly one of --tokens, --prompt and --prompt-file.") }
        guard image.isEmpty || tokens == nil else { throw ValidationError("--image needs --prompt or --prompt-file, where its marker stands.") }
        guard threads > 0 else { throw ValidationError("--threads: \(threads) is not a positive number of threads.") }
    }

    func run() throws {
        let logits: Logits
        let count: Int
        let reference = try modelStore.resolve(model)
        do {
            let file = try GGUFFile(path: reference.model)
            let inputs = try self.inputs(file: file, model: reference.model, projector: mmproj ?? reference.projector)
            guard !inputs.isEmpty else { throw CommandFailure("The prompt is empty: give at least one token.") }
            count = inputs.count
            let textModel = try loadTextModel(file: file, options: TextModelOptions(contextLength: count, threadCount: threads))
            for case .token(let id) in inputs where id < 0 || Int(id) >= textModel.configuration.embeddingRowCount {
                throw CommandFailure("--tokens: id \(id) is outside the vocabulary of \(textModel.vocabularySize) tokens.")
            }
            let sequence = try textModel.makeSequence()
            logits = try textModel.forward(Batch(items: inputs.enumerated().map {
                Batch.Item(sequence: sequence, position: $0.offset, input: $0.element, wantsLogits: true)
            }))
        } catch let failure as CommandFailure {
            throw failure
        } catch {
            throw CommandFailure(error)
        }
        let data = logits.values.withUnsafeBytes { Data($0) }
        do {
            try data.write(to: URL(fileURLWithPath: out), options: .atomic)
        } catch {
            throw CommandFailure("\(out): cannot write the file: \(error.localizedDescription)")
        }
        FileHandle.standardError.write(Data("wrote \(count) × \(logits.vocabularySize) logits to \(out)\n".utf8))
    }

    /// The batch inputs: the ids as given, or the prompt tokenized with its images in place.
    private func inputs(file: GGUFFile, model: String, projector: String?) throws -> [Batch.Input] {
        if let tokens {
            let pieces = tokens.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\n" || $0 == "\t" })
            var ids: [Int32] = []
            for piece in pieces {
                guard let id = Int32(piece) else { throw CommandFailure("--tokens: '\(piece)' is not a token id.") }
                ids.append(id)
            }
            return ids.map { .token($0) }
        }
        let text: String
        if let promptFile {
            guard let data = FileManager.default.contents(atPath: promptFile) else {
                throw CommandFailure("\(promptFile): cannot read the prompt file.")
            }
            text = String(decoding: data, as: UTF8.self)
        } else {
            text = prompt ?? ""
        }
        let tokenizer = try VocabularyTokenizer(file: file)
        let source = projector ?? (ChatVisionEncoder.holdsVision(file) ? model : nil)
        var layout: ImagePromptLayout = file.architecture == "mllama" ? .mllama : .mlp
        var images: [EncodedImage] = []
        if !image.isEmpty {
            guard let source else { throw CommandFailure(ChatModelError.noVisionProjector(image: image[0])) }
            let vision = try ChatVisionEncoder.load(path: source, threads: threads, imagePixels: imagePixels.bounds)
            layout = vision.layout
            images = try image.map { try vision.encode(try ImageDecoder.decode(contentsOf: $0)) }
        }
        return try MultimodalPrompt(tokenizer: tokenizer, layout: layout).inputs(for: text, images: images, addSpecial: false).inputs
    }
}
