import ArgumentParser
import Foundation
import GGUF
import Inference

struct LogitsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logits",
        abstract: "Write the model's logits for every position of a token sequence.",
        discussion: """
            Runs the tokens as one batch and writes raw little-endian f32 values, \
            [number of tokens × vocabulary size], row by row, to --out. Compare them with \
            llama.cpp's logits for the same ids (logits_all) to check parity.

            Examples:
              ponder logits --model model.gguf --tokens "1 15043 3186" --out logits.f32
              ponder logits --model model.gguf --tokens "$(ponder tokenize --model model.gguf 'Hello')" --out l.f32
            """)

    @Option(help: "The GGUF model.", completion: .file(extensions: ["gguf"]))
    var model: String

    @Option(help: "Token ids, separated by spaces or commas.")
    var tokens: String

    @Option(help: "The output file.", completion: .file())
    var out: String

    @Option(help: "Threads (default: all cores).")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    func run() throws {
        let pieces = tokens.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\n" || $0 == "\t" })
        var ids: [Int32] = []
        for piece in pieces {
            guard let id = Int32(piece) else { throw CommandFailure("--tokens: '\(piece)' is not a token id.") }
            ids.append(id)
        }
        guard !ids.isEmpty else { throw CommandFailure("--tokens: give at least one token id.") }
        let logits: Logits
        do {
            let file = try GGUFFile(path: model)
            let textModel = try loadTextModel(file: file, options: TextModelOptions(
                contextLength: max(ids.count, 1), threadCount: threads))
            if let bad = ids.first(where: { $0 < 0 || Int($0) >= textModel.vocabularySize }) {
                throw CommandFailure("--tokens: id \(bad) is outside the vocabulary of \(textModel.vocabularySize) tokens.")
            }
            let sequence = try textModel.makeSequence()
            logits = try textModel.forward(Batch(prompt: ids, sequence: sequence, logits: .all))
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
        FileHandle.standardError.write(Data("wrote \(ids.count) × \(logits.vocabularySize) logits to \(out)\n".utf8))
    }
}
