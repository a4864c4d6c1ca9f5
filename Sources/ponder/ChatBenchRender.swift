import ArgumentParser
import Foundation
import TUI

/// `ponder bench-render`: the TUI's drawing cost per streamed token.
struct ChatBenchRender: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-render",
        abstract: "Measure the terminal app's drawing cost per streamed token (in-memory terminal).",
        discussion: """
            Streams a long answer token by token into the app on an in-memory terminal, every \
            stage expanded, and draws a frame after every token; prints microseconds and cells \
            sent to the terminal per token.

            Examples:
              ponder bench-render
              ponder bench-render --tokens 5000 --width 200 --height 60
            """)

    @Option(help: "Tokens in the answer.")
    var tokens = 5000

    @Option(help: "Terminal width in cells.")
    var width = 120

    @Option(help: "Terminal height in cells.")
    var height = 40

    @Option(help: "Runs; the fastest is reported.")
    var repeats = 3

    func validate() throws {
        guard tokens >= 10 else { throw ValidationError("--tokens must be at least 10.") }
        guard width >= 20, height >= 8 else { throw ValidationError("--width must be at least 20 and --height at least 8.") }
        guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1.") }
    }

    func run() throws {
        // A 64 × 64 gradient for the preview.
        var pixels: [UInt8] = []
        for y in 0..<64 { for x in 0..<64 { pixels += [UInt8(x * 4), UInt8(y * 4), 128] } }
        let image = PreviewImage(width: 64, height: 64, pixels: pixels)
        let results = (0..<repeats).map { _ in
            RenderBenchmark.run(tokens: tokens, size: Size(width: width, height: height), image: image)
        }
        let best = results.min { $0.microsecondsPerToken < $1.microsecondsPerToken }!
        print(String(format: "render: %.1f µs per token over %d tokens (%d×%d, a frame per token, best of %d), %.1f cells drawn per token",
                     best.microsecondsPerToken, best.tokens, width, height, repeats, best.cellsPerToken))
    }
}
