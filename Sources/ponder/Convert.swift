import ArgumentParser
import Foundation
import GGUF
import Inference

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a Hugging Face checkpoint (safetensors) to GGUF.",
        discussion: """
            Reads config.json, the safetensors weights (one file or shards with \
            model.safetensors.index.json), tokenizer.json, tokenizer_config.json and the chat \
            template, and writes the GGUF file llama.cpp's convert_hf_to_gguf.py would write. \
            Vision models also get a projector file, mmproj-FILE.gguf, in the same folder. \
            Tensors stream one at a time from the mapped checkpoint, so memory stays small.

            Families: \(ConvertFamilies.supportedArchitectures.joined(separator: ", ")).
            Types: \(QuantizationTarget.allCases.map(\.name).joined(separator: ", ")) (norms and 1-D \
            tensors stay F32); without --type, BF16 for a BF16 checkpoint, else F16. A quantized \
            type quantizes the text model straight from the checkpoint's values with llama.cpp's \
            per-tensor mix (as ponder quantize does); a projector is then F16.

            Examples:
              ponder convert ~/hf/Llama-3.2-1B-Instruct --out llama-3.2-1b-f16.gguf --type F16
              ponder convert ~/hf/Qwen2.5-0.5B-Instruct --out qwen2.5-0.5b.gguf
              ponder convert ~/hf/SmolVLM-256M-Instruct --out smolvlm.gguf   # also writes mmproj-smolvlm.gguf
              ponder convert ~/hf/Llama-3.2V-11B-cot --out llava-cot-q4_k_m.gguf --type Q4_K_M
            """)

    @Argument(help: "The checkpoint folder (config.json, *.safetensors, tokenizer.json).", completion: .directory)
    var folder: String

    @Option(name: .long, help: "The GGUF file to write.", completion: .file(extensions: ["gguf"]))
    var out: String

    @Option(name: .long, help: "Tensor type: \(QuantizationTarget.allCases.map(\.name).joined(separator: ", ")).")
    var type: String?

    @Flag(name: .long, help: "Mark the model as answering in LLaVA-CoT's four stages (ponder.stage_format).")
    var stageFormat = false

    func run() throws {
        let options: ConvertOptions
        do {
            let output = try type.map(ConvertOptions.outputType(named:))
            options = ConvertOptions(outputPath: out, type: output?.type, stageFormat: stageFormat,
                                     quantization: output?.quantization)
        } catch {
            throw CommandFailure("--type: \(error.message)")
        }
        let bar = ConvertProgressBar(enabled: isatty(STDERR_FILENO) != 0)
        let summary: ConvertSummary
        do {
            summary = try HFConverter.convert(folder: folder, options: options) { bar.show($0) }
        } catch {
            bar.clear()
            throw CommandFailure(error)
        }
        bar.clear()
        let megabytes = Double(summary.tensorBytes) / 1_000_000
        let rate = summary.seconds > 0 ? megabytes / summary.seconds : 0
        let files = summary.files.map { "\($0.path) (\($0.tensorCount) tensors, \(formatBytes($0.byteCount)))" }
        FileHandle.standardError.write(Data((
            "converted \(summary.architecture) to \(summary.quantization?.name ?? summary.type.name): \(files.joined(separator: ", ")) "
            + "in \(String(format: "%.1f", summary.seconds)) s, \(String(format: "%.0f", rate)) MB/s\n").utf8))
    }
}

/// One line on stderr, redrawn in place: tensor i/n, bytes written, MB/s. Drawn at most ten
/// times a second, and only on a terminal.
final class ConvertProgressBar {
    private let enabled: Bool
    private let started = Date()
    private var lastDraw = Date.distantPast
    private var drawn = false

    init(enabled: Bool) { self.enabled = enabled }

    func show(_ progress: ConvertProgress) {
        guard enabled else { return }
        let now = Date()
        guard now.timeIntervalSince(lastDraw) >= 0.1 || progress.bytesWritten == progress.totalBytes else { return }
        lastDraw = now
        let fraction = progress.totalBytes > 0 ? Double(progress.bytesWritten) / Double(progress.totalBytes) : 1
        let width = 24
        let filled = min(width, Int(fraction * Double(width)))
        let seconds = max(now.timeIntervalSince(started), 1e-3)
        let rate = Double(progress.bytesWritten) / 1_000_000 / seconds
        let name = progress.tensorName.count > 28 ? String(progress.tensorName.prefix(27)) + "…" : progress.tensorName
        let line = "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] "
            + "tensor \(progress.tensorIndex)/\(progress.tensorCount) \(name)  "
            + "\(formatBytes(progress.bytesWritten))/\(formatBytes(progress.totalBytes))  \(String(format: "%.0f", rate)) MB/s"
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
        drawn = true
    }

    func clear() {
        guard enabled, drawn else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
        drawn = false
    }
}

private func formatBytes(_ count: Int) -> String {
    let value = Double(count)
    if value >= 1e9 { return String(format: "%.2f GB", value / 1e9) }
    if value >= 1e6 { return String(format: "%.1f MB", value / 1e6) }
    if value >= 1e3 { return String(format: "%.1f kB", value / 1e3) }
    return "\(count) B"
}
