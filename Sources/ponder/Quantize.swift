import ArgumentParser
import Foundation
import GGUF
import Inference

struct Quantize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a GGUF model to another quantization, as llama.cpp's llama-quantize does.",
        discussion: """
            Writes OUT.gguf with the same metadata and tensors as IN.gguf, each tensor of the \
            type llama.cpp would choose for the target (Q4_K_M and Q5_K_M mix Q4_K/Q5_K with \
            Q6_K; norms and other 1-D tensors stay as they are). The bytes are identical to \
            llama.cpp's quantizer without an importance matrix. Streams one tensor at a time, \
            so memory stays small whatever the model's size.

            Types: \(QuantizationTarget.allCases.map(\.name).joined(separator: ", ")).

            Examples:
              ponder quantize model-f16.gguf model-q4_k_m.gguf --type Q4_K_M
              ponder quantize model-f32.gguf model-q8_0.gguf --type q8_0 --threads 2
              ponder quantize model-f16.gguf --type Q5_K_M --dry-run
            """)

    @Argument(help: "The GGUF model to convert, or a name that ponder models lists.", completion: .file(extensions: ["gguf"]))
    var input: String

    @Argument(help: "The GGUF file to write (replaced if it exists); not needed with --dry-run.",
              completion: .file(extensions: ["gguf"]))
    var output: String?

    @Option(help: "The target: \(QuantizationTarget.allCases.map(\.name).joined(separator: ", ")).")
    var type: String

    @Option(help: "Threads (default: all cores).")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    @Flag(help: "Print each tensor's planned type and the output size; write nothing.")
    var dryRun = false

    @OptionGroup var modelStore: ModelStoreOptions

    func run() throws {
        guard let target = QuantizationTarget(name: type) else {
            throw CommandFailure(QuantizationError(kind: .unknownTarget(type)))
        }
        guard threads > 0 else { throw CommandFailure("--threads must be at least 1, not \(threads)") }
        let quantizer = ModelQuantizer(target: target, threadCount: threads)
        let input = try modelStore.resolve(self.input).model
        if dryRun { return try printPlan(quantizer, input: input) }
        guard let output else { throw CommandFailure("give the output file after \(input), or --dry-run") }
        let line = ProgressLine(enabled: isatty(STDERR_FILENO) != 0)
        let summary: ModelQuantizer.Summary
        do {
            summary = try quantizer.quantize(input: input, output: output) { line.show($0) }
        } catch {
            line.clear()
            throw CommandFailure(error)
        }
        line.clear()
        let types = summary.typeCounts.sorted { $0.value > $1.value }.map { "\($0.value) \($0.key.name)" }
        print("\(input) → \(output) (\(target.name)): \(megabytes(summary.inputBytes)) → \(megabytes(summary.outputBytes)), "
              + "\(summary.tensorCount) tensors (\(types.joined(separator: ", "))), "
              + String(format: "%.1f s", summary.seconds))
    }
}

extension Quantize {
    /// One line per tensor (name, shape, type → planned type), then the sizes.
    func printPlan(_ quantizer: ModelQuantizer, input: String) throws {
        let file: GGUFFile
        do {
            file = try GGUFFile(path: input)
        } catch {
            throw CommandFailure(error)
        }
        var outputBytes = 0
        for (tensor, type) in zip(file.tensors, quantizer.plan(for: file)) {
            let bytes = type.byteCount(elementCount: UInt64(tensor.elementCount)).map(Int.init) ?? 0
            outputBytes += bytes
            let change = type == tensor.type ? "\(type.name) (copied)" : "\(tensor.type.name) → \(type.name)"
            print("\(tensor.name)  \(tensor.dimensions.map(String.init).joined(separator: "×"))  \(change)")
        }
        let inputBytes = file.tensors.reduce(0) { $0 + $1.byteCount }
        print("\(quantizer.target.name): tensor data \(megabytes(inputBytes)) → \(megabytes(outputBytes))")
    }
}

private func megabytes(_ bytes: Int) -> String {
    String(format: "%.1f MB", Double(bytes) / 1e6)
}

/// One line on stderr, rewritten in place: tensor i/n, its name, MB done of the total.
private final class ProgressLine: @unchecked Sendable {
    let enabled: Bool
    private var lastDraw = ContinuousClock.now - .seconds(1)

    init(enabled: Bool) { self.enabled = enabled }

    func show(_ progress: ModelQuantizer.Progress) {
        guard enabled, ContinuousClock.now - lastDraw >= .milliseconds(100) else { return }
        lastDraw = ContinuousClock.now
        let name = progress.tensorName.count > 40 ? String(progress.tensorName.suffix(40)) : progress.tensorName
        let text = "[\(progress.tensorIndex)/\(progress.tensorCount)] \(name)  "
            + "\(Int(Double(progress.bytesDone) / 1e6))/\(Int(Double(progress.bytesTotal) / 1e6)) MB"
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + text).utf8))
    }

    func clear() {
        if enabled { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}
