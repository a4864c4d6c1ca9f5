import ArgumentParser
import Foundation
import Inference
import RemoteModel

/// `ponder models`: the models already on this machine, by the names `--model` takes.
struct Models: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the vision-language and text models already on this machine.",
        discussion: """
            Looks in Ollama's store ($OLLAMA_MODELS, else ~/.ollama/models), the Hugging Face \
            cache ($HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub), LM \
            Studio's models folder (~/.lmstudio/models, or the older ~/.cache/lm-studio/models) \
            and the folders in $PONDER_MODELS (colon-separated) and --models-dir. Each text \
            model is listed with the vision projector (mmproj) beside it, or "embedded" when \
            its own file holds the vision tower (Ollama's gemma3, mllama, qwen2.5vl), with its \
            family (general.architecture), projector type, quantization and size on disk.

            Names: gemma3:4b (Ollama; user/model:tag and host/namespace/model:tag outside its \
            library), org/name (Hugging Face), publisher/repo (LM Studio), with :QUANT when \
            one repository holds several model files (org/name:Q4_K_M), and the file name \
            without .gguf in a folder. Every command's --model takes these names, and the \
            projector comes along unless --mmproj is given. Only headers and metadata are read; \
            a file or folder that cannot be read is skipped (--verbose says why).

            Examples:
              ponder models
              ponder models --json
              ponder models --models-dir ~/gguf --verbose
              ponder models llama3.2-vision:11b
              ponder models --server http://127.0.0.1:8000
              ponder ask --model llama3.2-vision:11b --image cat.jpg "What is in the picture?"
            """)

    @OptionGroup var modelStore: ModelStoreOptions

    @Flag(help: "Print one JSON object per model: name, source, model, projector, projector_embedded, family, projector_type, quantization, size_bytes.")
    var json = false

    @Flag(help: "Also print to stderr the folders looked in and every file skipped, with the reason.")
    var verbose = false

    @Argument(help: "Show this model only, in detail.")
    var name: String?

    @Option(help: "List the models an OpenAI-compatible server serves instead (vLLM, SGLang, llama-server, Ollama).")
    var server: String?

    @Option(help: "With --server: the environment variable that holds the API key.")
    var apiKeyEnv: String?

    func run() async throws {
        if let server {
            let (dialect, names): (Dialect, [String])
            do {
                (dialect, names) = try await RemoteModel.servedModels(server: server, keyVariable: apiKeyEnv)
            } catch {
                throw CommandFailure(error)
            }
            for name in names {
                if json {
                    let object: [String: Any] = ["name": name, "source": "server", "server": server, "dialect": dialect.rawValue]
                    if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) {
                        print(String(decoding: data, as: UTF8.self))
                    }
                } else {
                    print("\(name)  (\(dialect.rawValue) at \(server))")
                }
            }
            if names.isEmpty && !json { print("\(server) serves no models.") }
            return
        }
        try runLocal()
    }

    func runLocal() throws {
        let store = modelStore.store
        let listing = store.scan()
        if verbose {
            for location in listing.locations {
                let state = location.exists ? "" : " (missing)"
                FileHandle.standardError.write(Data("looked in \(location.source.rawValue): \(location.path)\(state)\n".utf8))
            }
            for skip in listing.skipped {
                FileHandle.standardError.write(Data("\(skip)\n".utf8))
            }
        }
        if let name {
            if FileManager.default.fileExists(atPath: name) {
                throw CommandFailure("\(name) is a file, not a name that ponder models lists; ponder inspect \(name) shows what it holds.")
            }
            let entry: ModelStoreEntry
            do {
                entry = try ModelStore.lookUp(name, in: listing)
            } catch {
                throw CommandFailure(error.description)
            }
            if json { try printJSON(entry) } else { print(entry.detail) }
            return
        }
        if json {
            for entry in listing.entries { try printJSON(entry) }
        } else {
            print(listing.table(home: store.homeDirectory))
        }
    }

    private func printJSON(_ entry: ModelStoreEntry) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(entry), as: UTF8.self))
    }
}
