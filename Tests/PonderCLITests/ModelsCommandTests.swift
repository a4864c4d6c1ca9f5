import Foundation
import GGUF
import Inference
import Testing

/// `ponder models` and `--model NAME`, run as the binary in an environment of the test's own
/// (a temporary home folder; no real Ollama store or Hugging Face cache is read).
@Suite("ponder models")
struct ModelsCommandTests {
    /// A temporary folder holding `home/` and `models/` (a copy of a tokenizer fixture as
    /// `tok.gguf`, a projector beside it, and `dup.gguf` in two subfolders).
    final class Folder {
        let root: String
        var home: String { root + "/home" }
        var models: String { root + "/models" }
        var tok: String { models + "/tok.gguf" }
        var projector: String { models + "/mmproj-tok-f16.gguf" }

        init() throws {
            root = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-models-\(UUID().uuidString)").path
            let manager = FileManager.default
            for folder in [home, models + "/one", models + "/two"] {
                try manager.createDirectory(atPath: folder, withIntermediateDirectories: true)
            }
            try manager.copyItem(atPath: fixture("tokenizers/bpe-llama-bpe.gguf"), toPath: tok)
            var writer = GGUFWriter()
            writer.set("general.architecture", "clip")
            writer.set("clip.projector_type", "mlp")
            try writer.addTensor(name: "mm.0.weight", dimensions: [4], values: [1, 2, 3, 4])
            try writer.write(to: projector)
            for sub in ["one", "two"] {
                try manager.copyItem(atPath: fixture("tokenizers/bpe-llama-bpe.gguf"), toPath: "\(models)/\(sub)/dup.gguf")
            }
        }

        deinit { try? FileManager.default.removeItem(atPath: root) }

        /// Runs `ponder` with HOME set to the test's own folder and the store's variables
        /// removed (PONDER_MODELS set only when given).
        func run(_ arguments: [String], ponderModels: String? = nil) throws -> PonderProcess.Result {
            let process = Process()
            process.executableURL = PonderProcess.executable
            process.arguments = arguments
            var environment = ProcessInfo.processInfo.environment
            for name in ["OLLAMA_MODELS", "HF_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME", "PONDER_MODELS"] {
                environment[name] = nil
            }
            environment["HOME"] = home
            if let ponderModels { environment["PONDER_MODELS"] = ponderModels }
            process.environment = environment
            let out = Pipe(), err = Pipe()
            process.standardOutput = out
            process.standardError = err
            try process.run()
            let stdout = out.fileHandleForReading.readDataToEndOfFile()
            let stderr = err.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return PonderProcess.Result(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                                        stderr: String(decoding: stderr, as: UTF8.self))
        }
    }

    @Test func jsonListsTheFolderModelsWithTheirProjector() throws {
        let folder = try Folder()
        let result = try folder.run(["models", "--json", "--models-dir", folder.models])
        #expect(result.status == 0 && result.stderr.isEmpty, "\(result.stderr)")
        let objects = try result.stdout.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        #expect(objects.compactMap { $0["name"] as? String } == ["dup", "dup", "tok"])
        let tok = try #require(objects.last)
        let size = try #require(try FileManager.default.attributesOfItem(atPath: folder.tok)[.size] as? Int)
        let projectorSize = try #require(try FileManager.default.attributesOfItem(atPath: folder.projector)[.size] as? Int)
        #expect(tok["source"] as? String == "folder")
        #expect(tok["model"] as? String == folder.tok)
        #expect(tok["projector"] as? String == folder.projector)
        #expect(tok["projector_embedded"] as? Bool == false)
        #expect(tok["family"] as? String == "llama")
        #expect(tok["projector_type"] as? String == "mlp")
        #expect(tok["size_bytes"] as? Int == size + projectorSize)
        let dup = try #require(objects.first)
        #expect(dup["projector"] is NSNull && dup["projector_type"] is NSNull)
    }

    @Test func tableDetailAndVerbose() throws {
        let folder = try Folder()
        let table = try folder.run(["models"], ponderModels: folder.models)
        #expect(table.status == 0)
        let lines = table.stdout.split(separator: "\n")
        #expect(lines.first?.hasPrefix("NAME") == true && lines.count == 4)
        #expect(lines.last?.hasPrefix("tok ") == true && lines.last?.hasSuffix(folder.projector) == true)

        let detail = try folder.run(["models", "tok", "--models-dir", folder.models])
        #expect(detail.status == 0)
        #expect(detail.stdout.contains("model file      \(folder.tok)\n"))
        #expect(detail.stdout.contains("projector file  \(folder.projector)\n"))

        let file = try folder.run(["models", folder.tok])
        #expect(file.status != 0 && file.stderr.contains("\(folder.tok) is a file, not a name that ponder models lists"))

        let verbose = try folder.run(["models", "--verbose", "--models-dir", folder.models])
        #expect(verbose.stderr.contains("looked in ollama: \(folder.home)/.ollama/models (missing)\n"))
        #expect(verbose.stderr.contains("looked in folder: \(folder.models)\n"))

        let empty = try folder.run(["models"])
        #expect(empty.status == 0 && empty.stdout.hasPrefix("No models found in Ollama's store (\(folder.home)/.ollama/models, missing)"))
        let help = try folder.run(["models", "--help"])
        #expect(help.status == 0 && help.stdout.contains("Examples:") && help.stdout.contains("--models-dir"))
    }

    @Test func tokenizeTakesAListedName() throws {
        let folder = try Folder()
        let byPath = try folder.run(["tokenize", "--model", folder.tok, "Hello, world"])
        #expect(byPath.status == 0 && !byPath.stdout.isEmpty)
        let byName = try folder.run(["tokenize", "--models-dir", folder.models, "--model", "tok", "Hello, world"])
        #expect(byName.status == 0 && byName.stderr.isEmpty, "\(byName.stderr)")
        #expect(byName.stdout == byPath.stdout)
        let fromEnvironment = try folder.run(["inspect", "tok"], ponderModels: folder.models)
        #expect(fromEnvironment.status == 0 && fromEnvironment.stdout.contains("file              \(folder.tok)"))
    }

    /// The demo model behind an Ollama manifest (model and projector layers) and in a Hugging
    /// Face snapshot: `ask --model NAME --image` finds the projector and answers exactly as
    /// with the files given.
    @Test func askFindsTheProjectorOfAnOllamaAndAHuggingFaceName() throws {
        let folder = try Folder()
        let manager = FileManager.default
        let demo = DemoModelTests.demo
        let text = demo.appendingPathComponent("ponder-demo.gguf").path
        let projector = demo.appendingPathComponent("ponder-demo-mmproj.gguf").path
        let ollama = folder.home + "/.ollama/models"
        let (modelDigest, projectorDigest) = (String(repeating: "a1", count: 32), String(repeating: "b2", count: 32))
        try manager.createDirectory(atPath: ollama + "/blobs", withIntermediateDirectories: true)
        try manager.createSymbolicLink(atPath: "\(ollama)/blobs/sha256-\(modelDigest)", withDestinationPath: text)
        try manager.createSymbolicLink(atPath: "\(ollama)/blobs/sha256-\(projectorDigest)", withDestinationPath: projector)
        let manifestFolder = ollama + "/manifests/registry.ollama.ai/library/ponder-demo"
        try manager.createDirectory(atPath: manifestFolder, withIntermediateDirectories: true)
        let manifest = #"{"layers":[{"mediaType":"application/vnd.ollama.image.model","digest":"sha256:\#(modelDigest)"},"#
            + #"{"mediaType":"application/vnd.ollama.image.projector","digest":"sha256:\#(projectorDigest)"}]}"#
        try manifest.write(toFile: manifestFolder + "/latest", atomically: true, encoding: .utf8)
        let snapshot = folder.home + "/.cache/huggingface/hub/models--ponder--demo-GGUF/snapshots/main"
        try manager.createDirectory(atPath: snapshot, withIntermediateDirectories: true)
        try manager.createSymbolicLink(atPath: snapshot + "/ponder-demo-F16.gguf", withDestinationPath: text)
        try manager.createSymbolicLink(atPath: snapshot + "/mmproj-ponder-demo-F16.gguf", withDestinationPath: projector)

        let image = demo.appendingPathComponent("sample.jpg").path
        let question = ["--image", image, "--threads", "1", "--max-tokens", "24", "--quiet", "How many shapes are there?"]
        let byPath = try folder.run(["ask", "--model", text, "--mmproj", projector] + question)
        #expect(byPath.status == 0 && !byPath.stdout.isEmpty, "\(byPath.stderr)")
        for name in ["ponder-demo", "ponder-demo:latest", "ponder/demo-GGUF", "ponder/demo-GGUF:F16"] {
            let byName = try folder.run(["ask", "--model", name] + question)
            #expect(byName.status == 0, "\(name): \(byName.stderr)")
            #expect(byName.stdout == byPath.stdout, "\(name)")
        }
        let listed = try folder.run(["models", "--json"])
        #expect(listed.stdout.split(separator: "\n").count == 2)
        #expect(listed.stdout.contains(#""name":"ponder-demo:latest","projector":"\#(ollama)/blobs/sha256-\#(projectorDigest)""#))
    }

    @Test func unknownAndAmbiguousNamesFailWithOneSentence() throws {
        let folder = try Folder()
        let unknown = try folder.run(["tokenize", "--models-dir", folder.models, "--model", "nope", "hi"])
        #expect(unknown.status != 0 && unknown.stdout.isEmpty)
        #expect(unknown.stderr.contains("'nope' is neither a file nor one of the 3 models found in Ollama's store (\(folder.home)/.ollama/models, missing)"))
        #expect(unknown.stderr.contains("and the model folders (\(folder.models)); run 'ponder models' to list them."))
        #expect(unknown.stderr.split(separator: "\n").count == 1, "\(unknown.stderr)")

        let ambiguous = try folder.run(["ask", "--model", "dup", "hi"], ponderModels: folder.models)
        #expect(ambiguous.status != 0)
        let expected = ["'dup' matches 2 models: dup in the model folders (\(folder.models)/one/dup.gguf),",
                        "dup in the model folders (\(folder.models)/two/dup.gguf); pass the file path instead."].joined(separator: " ")
        #expect(ambiguous.stderr.contains(expected))
    }
}
