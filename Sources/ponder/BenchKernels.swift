import ArgumentParser
import Foundation
import GGUF
import Inference

/// `ponder bench-kernels`: matmul kernel throughput on Llama-3.2-1B-shaped random weights.
struct BenchKernels: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-kernels",
        abstract: "Measure matmul kernel throughput per weight type next to the machine's read bandwidth.",
        discussion: """
            Decode figures are weight GB/s (each call reads another copy of the weights, so \
            nothing comes from cache) and their share of a plain streaming read measured in the \
            same process; prompt figures are GFLOP/s of the dequantize-and-sgemm path.

            Examples:
              ponder bench-kernels
              ponder bench-kernels --types Q2_K,IQ4_XS --threads 2 --batch 1 --reference --prompt-batch 0
            """)

    @Option(help: "Comma-separated weight types (ggml names: Q8_0, Q4_K, IQ4_NL, …).")
    var types = "Q8_0,Q4_K"

    @Option(help: "Comma-separated thread counts.")
    var threads = "1,2"

    @Option(help: "Comma-separated decode batch sizes (activation rows per call).")
    var batch = "1,4"

    @Option(name: .customLong("prompt-batch"), help: "Batch of the prompt (sgemm) measurement; 0 skips it.")
    var promptBatch = 512

    @Flag(help: "Also measure the reference path (dequantize each row, f32 dot) for each decode figure.")
    var reference = false

    func parsedTypes() throws -> [GGMLType] {
        try types.split(separator: ",").map { item in
            let name = item.trimmingCharacters(in: .whitespaces)
            guard let type = GGMLType.allCases.first(where: { $0.name.caseInsensitiveCompare(name) == .orderedSame }),
                  type.canDequantize else {
                throw ValidationError("--types: '\(name)' is not a weight type Ponder can read.")
            }
            return type
        }
    }

    static func counts(_ text: String, option: String) throws -> [Int] {
        let values = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) >= 1 }) else {
            throw ValidationError("--\(option) must be a comma-separated list of positive whole numbers.")
        }
        return values.map { $0! }
    }

    func validate() throws {
        _ = try parsedTypes()
        _ = try Self.counts(threads, option: "threads")
        _ = try Self.counts(batch, option: "batch")
        guard promptBatch >= 0 else { throw ValidationError("--prompt-batch must be 0 or more.") }
    }

    func run() throws {
        _ = KernelBenchmark.run(types: try parsedTypes(), decodeBatches: try Self.counts(batch, option: "batch"),
                                threadCounts: try Self.counts(threads, option: "threads"), promptBatch: promptBatch,
                                decodePaths: reference ? [.automatic, .reference] : [.automatic])
    }
}
