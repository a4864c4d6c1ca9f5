import ArgumentParser
import Foundation
import GGUF
import Inference

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what a GGUF model or projector file holds.",
        discussion: """
            Prints the architecture, parameter count, file type, context length, tokenizer and \
            vocabulary size, chat-template family, and tensor bytes per type; for a vision \
            projector (mmproj) file, the projector type and image size.

            A name that ponder models lists stands for its model file.

            Examples:
              ponder inspect model.gguf
              ponder inspect mmproj.gguf --json
              ponder inspect llama3.2-vision:11b
            """)

    @Argument(help: "The GGUF file, or a name that ponder models lists.", completion: .file(extensions: ["gguf"]))
    var file: String

    @OptionGroup var modelStore: ModelStoreOptions

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func run() throws {
        let summary: ModelSummary
        let path = try modelStore.resolve(file).model
        do {
            summary = try ModelSummary(file: GGUFFile(path: path))
        } catch {
            throw CommandFailure(error)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let data = try encoder.encode(summary)
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(summary.text)
        }
    }
}
