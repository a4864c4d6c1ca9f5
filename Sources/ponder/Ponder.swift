import ArgumentParser

@main
struct Ponder: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ponder",
        abstract: "Chat about an image with a local vision-language model and watch it reason.",
        discussion: """
            Ponder reads GGUF model files (llama.cpp's format). With no command it opens the \
            chat (the terminal app) on the bundled demo model and its sample image.

              ponder                                   the chat, on the demo model
              ponder chat --model m.gguf --mmproj p.gguf --image cat.jpg --strategy stage-beam
              ponder ask --image shapes.jpg --show-stages "How many circles are there?"
              ponder eval --data Models/demo/eval-sample.jsonl
              ponder models                            the models already on this machine
              ponder ask --model llama3.2-vision:11b --image cat.jpg "What is this?"
              ponder inspect model.gguf               what a model file holds
              ponder convert ~/hf/Llama-3.2-1B-Instruct --out llama.gguf --type F16
              ponder tokenize --model model.gguf "Hello, world"
              ponder logits --model model.gguf --tokens "1 2 3" --out logits.f32
              ponder bench --model model.gguf -p 512 -n 128
              ponder quantize model-f16.gguf model-q4_k_m.gguf --type Q4_K_M
            """,
        subcommands: [Models.self, Inspect.self, Convert.self, Quantize.self, Tokenize.self, Generate.self, Ask.self, Eval.self, LogitsCommand.self,
                      EmbedImage.self, Bench.self, BenchKernels.self, Chat.self, ChatBenchRender.self],
        defaultSubcommand: Chat.self
    )

    /// `AsyncParsableCommand`'s entry point, after OpenBLAS's kernels are checked.
    static func main() async {
        OpenBLASCore.restartIfMisdetected()
        do {
            var command = try parseAsRoot()
            if var command = command as? AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}

/// A failure reported to the user as one sentence on stderr, with a non-zero exit code.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
    init(_ error: any Error) { self.description = String(describing: error) }
}
