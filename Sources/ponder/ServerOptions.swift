import ArgumentParser
import Foundation
import RemoteModel

/// `--server`: the model an OpenAI-compatible server serves, instead of a local GGUF.
struct ServerOptions: ParsableArguments {
    @Option(help: "Use the model that an OpenAI-compatible server serves (vLLM, SGLang, llama-server, Ollama), e.g. http://127.0.0.1:8000, instead of a local GGUF.")
    var server: String?

    @Option(help: "With --server: the served model's name (default: the first the server lists).")
    var servedModel: String?

    @Option(help: "With --server: the environment variable that holds the API key (it is never printed, logged or saved).")
    var apiKeyEnv: String?

    @Flag(help: "With --server: say on stderr which dialect was detected and how candidates are requested.")
    var verbose = false

    func validate() throws {
        if server == nil && (servedModel != nil || apiKeyEnv != nil) {
            throw ValidationError("--served-model and --api-key-env go with --server.")
        }
    }

    /// Connects to the server (nil without --server).
    func connect() async throws -> RemoteModel? {
        guard let server else { return nil }
        let verbose = self.verbose
        do {
            return try await RemoteModel.connect(server: server, servedModel: servedModel, keyVariable: apiKeyEnv) { line in
                if verbose { FileHandle.standardError.write(Data("ponder: \(line)\n".utf8)) }
            }
        } catch {
            throw CommandFailure(error)
        }
    }
}
