import ArgumentParser
import Foundation
import GGUF
import Inference

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure prompt-processing and generation speed.",
        discussion: """
            Prompt processing (pp) runs -p random tokens as one batch; generation (tg) decodes -n \
            tokens one at a time after --depth positions of context, --batch sequences together \
            (tokens/s is then the total over all sequences). Read bandwidth is measured right \
            before and after each run; generation is also shown against the memory limit \
            (bandwidth ÷ bytes of weights read per token). With --mmproj and --image, the \
            image test times, in seconds, preprocessing and encoding of the (already decoded) \
            image; for Llama 3.2 Vision (mllama) the prompt starts with that image, so the prompt \
            test includes its cross-attention K/V and the cross-attention layers run in both tests. Each figure is the best of --repeat runs.

            Examples:
              ponder bench --model model.gguf
              ponder bench --model model.gguf -p 512 -n 128 --threads 2 --json
              ponder bench --model model.gguf -p 0 -n 64 --batch 4
              ponder bench --model model.gguf -p 0 --depth 2048
              ponder bench --model model.gguf --mmproj mmproj.gguf --image cat.jpg -p 0 -n 0
            """)

    @Option(help: "The GGUF model.", completion: .file(extensions: ["gguf"]))
    var model: String

    @Option(name: .customShort("p"), help: "Prompt tokens for the prompt-processing test (0 skips it).")
    var promptTokens = 512

    @Option(name: .customShort("n"), help: "Tokens to generate per sequence (0 skips the generation test).")
    var generatedTokens = 128

    @Option(help: "Threads (default: all cores).")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Sequences decoded together in the generation test.")
    var batch = 1

    @Option(help: "Positions of context before the generation test.")
    var depth = 0

    @Option(name: .customLong("repeat"), help: "Runs per test; the best is reported.")
    var repeats = 3

    @Flag(inversion: .prefixedNo, help: "Measure read bandwidth around each run.")
    var bandwidth = true

    @Option(help: "A vision projector (mmproj) GGUF: adds the image-encoding test.", completion: .file(extensions: ["gguf"]))
    var mmproj: String?

    @Option(help: "The image for the image-encoding test.", completion: .file())
    var image: String?

    @Flag(help: "Print one JSON object per measurement.")
    var json = false

    func validate() throws {
        guard promptTokens >= 0, generatedTokens >= 0, depth >= 0 else {
            throw ValidationError("-p, -n and --depth must not be negative.")
        }
        guard batch >= 1, threads >= 1, repeats >= 1 else {
            throw ValidationError("--batch, --threads and --repeat must be at least 1.")
        }
        guard (mmproj == nil) == (image == nil) else {
            throw ValidationError("--mmproj and --image go together.")
        }
    }

    /// The image test: best-of-`repeats` seconds to preprocess and encode the image, and the
    /// encoded image.
    func encodeImage() throws -> (seconds: Double, image: EncodedImage)? {
        guard let mmproj, let image else { return nil }
        do {
            let encoder = try ChatVisionEncoder.load(path: mmproj, threads: threads)
            let pixels = try ImageDecoder.decode(contentsOf: image)
            var best = Double.infinity
            var encoded: EncodedImage?
            for _ in 0..<repeats {
                let start = DispatchTime.now().uptimeNanoseconds
                encoded = encoder.encode(pixels)
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
            return (best, encoded!)
        } catch {
            throw CommandFailure(error)
        }
    }

    func run() throws {
        // The image first: an mllama prompt starts with it, so the text tests include cross-attention.
        let encoded = try encodeImage()
        var benchmark = TextModelBenchmark(promptTokens: promptTokens, generatedTokens: generatedTokens,
                                           batch: batch, depth: depth, repeats: repeats, threads: threads,
                                           measuresBandwidth: bandwidth)
        if let encoded, encoded.image.layout == .mllama { benchmark.image = encoded.image.parts.first }
        let file: GGUFFile
        let textModel: any TextModel
        do {
            file = try GGUFFile(path: model)
            textModel = try loadTextModel(file: file, options: TextModelOptions(
                contextLength: benchmark.contextNeeded, cacheCapacity: benchmark.cacheNeeded, threadCount: threads))
        } catch {
            throw CommandFailure(error)
        }
        let weightBytes = TextModelBenchmark.weightBytesPerToken(file: file)
        let summary = try? ModelSummary(file: file)
        if !json {
            let name = URL(fileURLWithPath: model).lastPathComponent
            print("\(name): \(summary?.fileType ?? "?"), \(summary.map { ModelSummary.formatCount($0.parameterCount) } ?? "?") parameters, "
                  + "\(ModelSummary.formatBytes(weightBytes)) of weights read per token, \(threads) threads")
            print("test".padding(toLength: 18, withPad: " ", startingAt: 0) + "tokens/s".leftPad(10) + "   bandwidth GB/s   vs memory limit")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do {
            try benchmark.run(model: textModel, pool: ThreadPool(threadCount: threads)) { measurement in
                if json {
                    if let data = try? encoder.encode(measurement) { print(String(decoding: data, as: UTF8.self)) }
                    return
                }
                var name = measurement.test
                if measurement.depth > 0 { name += " @ d\(measurement.depth)" }
                if measurement.batch > 1 { name += " × \(measurement.batch)" }
                var line = name.padding(toLength: 18, withPad: " ", startingAt: 0)
                    + String(format: "%10.2f", measurement.tokensPerSecond)
                if let before = measurement.bandwidthBefore, let after = measurement.bandwidthAfter {
                    line += String(format: "   %5.1f – %5.1f", min(before, after), max(before, after))
                    if measurement.test.hasPrefix("tg") {
                        let limit = (before + after) / 2 * 1e9 / Double(weightBytes)
                        let perSequence = measurement.tokensPerSecond / Double(measurement.batch)
                        line += String(format: "      %3.0f%% of %.1f t/s", 100 * perSequence / limit, limit)
                    }
                }
                print(line)
            }
        } catch {
            throw CommandFailure(error)
        }
        if let seconds = encoded?.seconds {
            if json {
                print("{\"batch\":1,\"depth\":0,\"seconds\":\(seconds),\"test\":\"image\",\"threads\":\(threads)}")
            } else {
                print("image".padding(toLength: 18, withPad: " ", startingAt: 0) + String(format: "%9.3f s", seconds)
                      + "   (preprocess + encode \(URL(fileURLWithPath: image!).lastPathComponent))")
            }
        }
    }
}

extension String {
    func leftPad(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
