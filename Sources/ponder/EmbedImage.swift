import ArgumentParser
import Foundation
import GGUF
import Inference

struct EmbedImage: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed-image",
        abstract: "Encode an image with a vision projector and write its embeddings.",
        discussion: """
            Decodes the image (JPEG, PNG or PPM), preprocesses it as llama.cpp does for the \
            projector type (letterbox for mlp; tiles plus an overview for idefics3), runs the \
            vision encoder and projector, and writes raw little-endian f32 values, \
            [image tokens × embedding width], tile after tile in prompt order, to --out. \
            With --model, checks that the projector's width matches the text model; a --model \
            name that ponder models lists with a projector needs no --mmproj.

            Examples:
              ponder embed-image --mmproj mmproj.gguf --image cat.jpg --out cat.f32
              ponder embed-image --mmproj mmproj.gguf --image cat.png --out cat.f32 --model model.gguf
              ponder embed-image --model ggml-org/SmolVLM-256M-Instruct-GGUF --image cat.png --out cat.f32
            """)

    @Option(help: "The vision projector (mmproj) GGUF (default: the listed --model's).", completion: .file(extensions: ["gguf"]))
    var mmproj: String?

    @Option(help: "The image: JPEG, PNG or PPM.", completion: .file())
    var image: String

    @Option(help: "The output file.", completion: .file())
    var out: String

    @Option(help: "The text model the embeddings are for (checked, not run), or a name that ponder models lists.",
            completion: .file(extensions: ["gguf"]))
    var model: String?

    @OptionGroup var modelStore: ModelStoreOptions

    @Option(help: "Threads (default: all cores).")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    func run() throws {
        guard threads > 0 else { throw CommandFailure("--threads: \(threads) is not a positive number of threads.") }
        let start = Date()
        let reference = try model.map { try modelStore.resolve($0) }
        guard let mmproj = mmproj ?? reference?.projector else {
            if let entry = reference?.entry {
                throw CommandFailure("embed-image needs --mmproj: \(entry.name) has no vision projector beside it in \(entry.source.title).")
            }
            throw CommandFailure("embed-image needs --mmproj, or a --model name that ponder models lists with a projector.")
        }
        let embeddings: ImageEmbeddings
        do {
            let encoder = try loadVisionEncoder(path: mmproj, threads: threads)
            if let model = reference?.model {
                let configuration = try TextModelConfiguration(file: GGUFFile(path: model))
                if configuration.embeddingLength != encoder.embeddingWidth {
                    throw VisionError(file: mmproj, kind: .textModelMismatch(
                        projectorWidth: encoder.embeddingWidth, textWidth: configuration.embeddingLength))
                }
            }
            let pixels = try ImageDecoder.decode(contentsOf: image)
            embeddings = encoder.encode(pixels)
        } catch {
            throw CommandFailure(error)
        }
        let data = embeddings.flattened.withUnsafeBytes { Data($0) }
        do {
            try data.write(to: URL(fileURLWithPath: out), options: .atomic)
        } catch {
            throw CommandFailure("\(out): cannot write the file: \(error.localizedDescription)")
        }
        let grid = embeddings.tiles.count > 1 ? ", \(embeddings.rows) × \(embeddings.columns) tiles and an overview" : ""
        let seconds = String(format: "%.2f", Date().timeIntervalSince(start))
        FileHandle.standardError.write(Data(
            "wrote \(embeddings.tokenCount) × \(embeddings.width) embeddings\(grid) to \(out) in \(seconds) s\n".utf8))
    }
}
