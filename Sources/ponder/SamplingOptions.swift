import ArgumentParser
import Foundation
import Inference

/// The sampling flags shared by `generate` and `ask`.
struct SamplingOptions: ParsableArguments {
    @Option(help: "Sampling temperature; 0 picks the most likely token every time (default: 0.8; for ask, 0 with greedy and 0.6 otherwise).")
    var temperature: Float?

    @Option(help: "Keep only the K most likely tokens (0: all).")
    var topK = 40

    @Option(help: "Keep the most likely tokens whose probabilities add up to P (1: all).")
    var topP: Float = 0.95

    @Option(help: "Drop tokens less likely than P times the most likely one (0: none).")
    var minP: Float = 0.05

    @Option(help: "Divide the logits of recently seen tokens by this (1: off).")
    var repeatPenalty: Float = 1

    @Option(help: "How many recent tokens the repetition penalty looks at.")
    var repeatLastN = 64

    @Option(help: "Random seed (default: a new one each run, printed with the statistics).")
    var seed: UInt64?

    func validate() throws {
        let parameters = SamplingParameters(temperature: temperature ?? 0.8, topK: topK, topP: topP, minP: minP,
                                            repetitionPenalty: repeatPenalty, repetitionWindow: repeatLastN, seed: 0)
        if let problem = parameters.problems.first { throw ValidationError(problem) }
    }

    /// The parameters, with a fresh random seed when none was given.
    var parameters: SamplingParameters { parameters(defaultTemperature: 0.8) }

    /// The parameters, with `defaultTemperature` when no --temperature was given.
    func parameters(defaultTemperature: Float) -> SamplingParameters {
        SamplingParameters(temperature: temperature ?? defaultTemperature, topK: topK, topP: topP, minP: minP,
                           repetitionPenalty: repeatPenalty, repetitionWindow: repeatLastN,
                           seed: seed ?? UInt64.random(in: 0..<UInt64(UInt32.max)))
    }
}

/// Context, threads and statistics flags shared by `generate` and `ask`.
struct RunOptions: ParsableArguments {
    @Option(help: "Positions of context (default: the model's, at most 4096).")
    var contextLength: Int?

    @Option(help: "Threads (default: all cores).")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    @Flag(help: "Do not print statistics to stderr.")
    var quiet = false

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1.") }
    }
}

/// Prints a generation's text to stdout as it streams and, unless `quiet`, one line of
/// statistics to stderr; a failed generation becomes the command's error.
func streamAnswer(_ stream: AsyncStream<GenerationEvent>, seed: UInt64, quiet: Bool) async throws {
    let output = FileHandle.standardOutput
    for await event in stream {
        switch event {
        case .token(let token):
            if !token.text.isEmpty { output.write(Data(token.text.utf8)) }
        case .finished(let result, let stats):
            output.write(Data("\n".utf8))
            if case .failed(let error) = result.reason { throw CommandFailure(error) }
            if !quiet {
                let line = String(format: "%d prompt tokens at %.1f t/s, %d generated at %.1f t/s",
                                  stats.promptTokens, stats.promptTokensPerSecond, stats.generatedTokens,
                                  stats.generationTokensPerSecond)
                    + ", stopped: \(result.reason.name), seed \(seed)\n"
                FileHandle.standardError.write(Data(line.utf8))
            }
        }
    }
}
