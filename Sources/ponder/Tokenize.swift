import ArgumentParser
import Foundation
import GGUF
import Inference

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the token ids of a text, as llama.cpp's tokenizer gives them.",
        discussion: """
            Prints one line of space-separated token ids. Special tokens (BOS/EOS) are added as \
            the model's flags say; with --special, special-token text such as <|im_start|> in \
            the input becomes its token instead of being spelled out.

            Examples:
              ponder tokenize --model model.gguf "Hello, world"
              ponder tokenize --model model.gguf --special "<|im_start|>user"
              ponder tokenize --model model.gguf --chat --pieces "What is in the image?"
              ponder tokenize --model model.gguf --chat-template llama3 "Hi"
              ponder tokenize --model model.gguf --file notes.txt --timing
              ponder tokenize --model llama3.2-vision:11b "Hello" (a name that ponder models lists)
            """)

    @Option(help: "The GGUF model whose vocabulary to use, or a name that ponder models lists.", completion: .file(extensions: ["gguf"]))
    var model: String

    @OptionGroup var modelStore: ModelStoreOptions

    @Flag(help: "Parse special-token text in the input (llama.cpp's parse_special).")
    var special = false

    @OptionGroup var chatOptions: ChatOptions

    @Flag(help: "Print the text of each token after the ids, one per line.")
    var pieces = false

    @Flag(help: "Also print the token count and the time taken to stderr.")
    var timing = false

    @Option(help: "Read the text from this file instead of the argument.", completion: .file())
    var file: String?

    @Argument(help: "The text to tokenize.")
    var text: String?

    func validate() throws {
        if text == nil && file == nil {
            throw ValidationError("Give the text to tokenize as an argument or with --file.")
        }
        if text != nil && file != nil {
            throw ValidationError("Give the text to tokenize as an argument or with --file, not both.")
        }
    }

    func run() throws {
        let input: String
        if let file {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw CommandFailure("\(file): cannot read the file.")
            }
            input = String(decoding: data, as: UTF8.self)
        } else {
            input = text ?? ""
        }
        let path = try modelStore.resolve(model).model
        let tokenizer: any Tokenizer
        let gguf: GGUFFile
        do {
            gguf = try GGUFFile(path: path)
            tokenizer = try VocabularyTokenizer(file: gguf)
        } catch {
            throw CommandFailure(error)
        }
        let prompt = try chatOptions.prompt(for: input, file: gguf)
        let clock = ContinuousClock()
        let start = clock.now
        let ids = tokenizer.encode(prompt, addSpecial: true, parseSpecial: special || chatOptions.isEnabled)
        let elapsed = clock.now - start
        print(ids.map(String.init).joined(separator: " "))
        if timing {
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
            let megabytes = Double(prompt.utf8.count) / 1_000_000
            FileHandle.standardError.write(Data(String(
                format: "%d tokens from %.3f MB: tokenize %.4f s (%.2f MB/s)\n",
                ids.count, megabytes, seconds, megabytes / max(seconds, 1e-9)).utf8))
        }
        if pieces {
            for id in ids {
                let bytes = tokenizer.piece(for: id, special: true)
                print("\(id)\t\(String(decoding: bytes, as: UTF8.self).debugDescription)")
            }
        }
    }
}
