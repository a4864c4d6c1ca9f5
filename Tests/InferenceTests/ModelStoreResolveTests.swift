import Foundation
import GGUF
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
@testable import Inference
import Testing

/// Looking models up by name, the errors of unknown and ambiguous names, the JSON and table
/// output, and the listing's robustness against links, FIFOs and unreadable folders.
@Suite("ModelStore names and robustness")
struct ModelStoreResolveTests {
    /// Ollama (llava:7b with a projector, tiny:latest, tiny:small), a Hugging Face repository
    /// with two quantizations and one with a single file, and a folder holding `dup` twice.
    func makeStore(_ sandbox: StoreSandbox) throws -> ModelStore {
        let ollama = "home/.ollama/models"
        try sandbox.write("\(ollama)/blobs/sha256-\(fakeDigest(1))", TinyGGUF.textModel())
        try sandbox.write("\(ollama)/blobs/sha256-\(fakeDigest(2))", TinyGGUF.projector())
        let library = "\(ollama)/manifests/registry.ollama.ai/library"
        try sandbox.write("\(library)/llava/7b", text: ollamaManifest(model: fakeDigest(1), projector: fakeDigest(2)))
        try sandbox.write("\(library)/tiny/latest", text: ollamaManifest(model: fakeDigest(1)))
        try sandbox.write("\(library)/tiny/small", text: ollamaManifest(model: fakeDigest(1)))
        try sandbox.write("\(library)/solo/1b", text: ollamaManifest(model: fakeDigest(1)))
        let repo = "home/.cache/huggingface/hub/models--ggml-org--gemma-3-4b-it-GGUF/snapshots/r"
        try sandbox.write("\(repo)/gemma-3-4b-it-Q4_K_M.gguf", TinyGGUF.textModel(architecture: "gemma3"))
        try sandbox.write("\(repo)/gemma-3-4b-it-Q8_0.gguf", TinyGGUF.textModel(architecture: "gemma3", fileType: 7))
        try sandbox.write("\(repo)/mmproj-model-f16.gguf", TinyGGUF.projector(projectorType: "gemma3"))
        try sandbox.write("home/.cache/huggingface/hub/models--org--single/snapshots/r/single-Q8_0.gguf",
                          TinyGGUF.textModel(fileType: 7))
        try sandbox.write("folders/one/dup.gguf", TinyGGUF.textModel())
        try sandbox.write("folders/two/dup.gguf", TinyGGUF.textModel())
        return ModelStore(environment: ["PONDER_MODELS": sandbox.path("folders")], homeDirectory: sandbox.path("home"))
    }

    @Test func namesAliasesTagsAndCaseFindTheirModel() throws {
        let sandbox = try StoreSandbox()
        let store = try makeStore(sandbox)
        let listing = store.scan()
        let cases: [(String, String)] = [
            ("llava:7b", "llava:7b"), ("library/llava:7b", "llava:7b"),
            ("registry.ollama.ai/library/llava:7b", "llava:7b"), ("LLaVA:7B", "llava:7b"),
            ("llava", "llava:7b"), ("tiny", "tiny:latest"), ("tiny:small", "tiny:small"), ("solo", "solo:1b"),
            ("ggml-org/gemma-3-4b-it-GGUF:Q4_K_M", "ggml-org/gemma-3-4b-it-GGUF:Q4_K_M"),
            ("ggml-org/gemma-3-4b-it-gguf:q8_0", "ggml-org/gemma-3-4b-it-GGUF:Q8_0"),
            ("org/single", "org/single"), ("org/single:Q8_0", "org/single"),
        ]
        for (name, expected) in cases {
            #expect(try ModelStore.lookUp(name, in: listing).name == expected, "\(name)")
        }
        let reference = try store.resolve("llava:7b")
        #expect(reference.model == sandbox.path("home/.ollama/models/blobs/sha256-\(fakeDigest(1))"))
        #expect(reference.projector == sandbox.path("home/.ollama/models/blobs/sha256-\(fakeDigest(2))"))
        #expect(reference.displayName == "llava:7b")
        let gemma = try store.resolve("ggml-org/gemma-3-4b-it-GGUF:Q4_K_M")
        #expect(gemma.projector?.hasSuffix("/snapshots/r/mmproj-model-f16.gguf") == true)
    }

    @Test func aLookupReadsOnlyTheFilesOfModelsThatCouldAnswer() throws {
        let sandbox = try StoreSandbox()
        let store = try makeStore(sandbox)
        let broken = try sandbox.write("folders/three/broken.gguf", TinyGGUF.truncated)
        let narrow = store.scan(matching: "LLaVA:13b")
        #expect(narrow.entries.map(\.name) == ["llava:7b"])
        #expect(narrow.skipped.isEmpty, "the broken file was not read")
        #expect(store.scan().skipped.map(\.path) == [broken])
        #expect(store.scan(matching: "ggml-org/gemma-3-4b-it-GGUF:Q8_0").entries.count == 2)
        #expect(store.scan(matching: "dup").entries.map(\.name) == ["dup", "dup"])
        #expect(store.scan(matching: "registry.ollama.ai/library/tiny").entries.map(\.name) == ["tiny:latest", "tiny:small"])
        #expect(try store.resolve("tiny:small").entry?.name == "tiny:small")
        // An unknown name's error still counts every model (the broken file is not one).
        #expect(throws: ModelStoreError(name: "llava:13b", kind: .unknown(locations: store.locations, listed: 9))) {
            try store.resolve("llava:13b")
        }
    }

    @Test func anExistingFileAlwaysWinsAndAPathIsTakenAsOne() throws {
        let sandbox = try StoreSandbox()
        let store = try makeStore(sandbox)
        let file = sandbox.path("folders/one/dup.gguf")
        #expect(try store.resolve(file) == ModelReference(model: file))
        // A file whose path reads like a listed name is still the file.
        let odd = try sandbox.write("llava:7b", TinyGGUF.textModel())
        #expect(try store.resolve(odd).entry == nil)
        // Missing paths come back unchanged, for the file's own error downstream.
        #expect(try store.resolve("/nowhere/model.gguf") == ModelReference(model: "/nowhere/model.gguf"))
        #expect(try store.resolve("missing.gguf").model == "missing.gguf")
        #expect(try store.resolve("./x").model == "./x")
    }

    @Test func anAmbiguousNameListsItsCandidates() throws {
        let sandbox = try StoreSandbox()
        let store = try makeStore(sandbox)
        #expect(throws: ModelStoreError.self) { try store.resolve("ggml-org/gemma-3-4b-it-GGUF") }
        do {
            _ = try store.resolve("ggml-org/gemma-3-4b-it-GGUF")
        } catch {
            let expected: String = "'ggml-org/gemma-3-4b-it-GGUF' matches 2 models: ggml-org/gemma-3-4b-it-GGUF:Q4_K_M, "
                + "ggml-org/gemma-3-4b-it-GGUF:Q8_0; give one of these names."
            #expect("\(error)" == expected)
        }
        do {
            _ = try store.resolve("dup")
            Issue.record("dup is in two folders")
        } catch {
            let one = sandbox.path("folders/one/dup.gguf"), two = sandbox.path("folders/two/dup.gguf")
            let expected = ["'dup' matches 2 models: dup in the model folders (\(one)),",
                            "dup in the model folders (\(two)); pass the file path instead."].joined(separator: " ")
            #expect("\(error)" == expected)
        }
    }

    @Test func anUnknownNameSaysWhereItLooked() throws {
        let sandbox = try StoreSandbox()
        let store = try makeStore(sandbox)
        do {
            _ = try store.resolve("nonesuch:1b")
            Issue.record("nonesuch:1b is not listed")
        } catch {
            let home = sandbox.path("home")
            let expected = [
                "'nonesuch:1b' is neither a file nor one of the 9 models found in",
                "Ollama's store (\(home)/.ollama/models), the Hugging Face cache (\(home)/.cache/huggingface/hub),",
                "LM Studio's models (\(home)/.lmstudio/models, missing; \(home)/.cache/lm-studio/models, missing)",
                "and the model folders (\(sandbox.path("folders"))); run 'ponder models' to list them.",
            ].joined(separator: " ")
            #expect("\(error)" == expected)
        }
        let empty = ModelStore(environment: [:], homeDirectory: sandbox.path("nobody"))
        do {
            _ = try empty.resolve("gemma3")
            Issue.record("an empty store has no gemma3")
        } catch {
            #expect("\(error)".contains("one of the 0 models"))
            #expect("\(error)".contains("the model folders (none: $PONDER_MODELS and --models-dir are unset)"))
            #expect("\(error)".contains(sandbox.path("nobody/.ollama/models") + ", missing"))
        }
    }

    @Test func jsonWritesEveryFieldWithNulls() throws {
        let sandbox = try StoreSandbox()
        let listing = try makeStore(sandbox).scan()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let tiny = try #require(listing.entries.first { $0.name == "tiny:latest" })
        let text = String(decoding: try encoder.encode(tiny), as: UTF8.self)
        let blob = sandbox.path("home/.ollama/models/blobs/sha256-\(fakeDigest(1))")
        let expected = [
            #"{"family":"llama","model":"\#(blob)","name":"tiny:latest","projector":null,"#,
            #""projector_embedded":false,"projector_type":null,"quantization":"Q4_K_M","#,
            #""size_bytes":\#(TinyGGUF.textModel().count),"source":"ollama"}"#,
        ].joined()
        #expect(text == expected)
    }

    @Test func theTableAlignsColumnsAndShortensTheHomeFolder() throws {
        let sandbox = try StoreSandbox()
        let store = try makeStore(sandbox)
        let lines = store.scan().table(home: store.homeDirectory).split(separator: "\n").map(String.init)
        #expect(lines.count == 10)
        #expect(lines[0].hasPrefix("NAME  ") && lines[0].hasSuffix("PROJECTOR FILE"))
        let column = try #require(lines[0].range(of: "QUANT")).lowerBound.utf16Offset(in: lines[0])
        let llava = try #require(lines.first { $0.hasPrefix("llava:7b ") })
        #expect(llava.dropFirst(column).hasPrefix("Q4_K_M"))
        #expect(llava.contains("  ~/.ollama/models/blobs/sha256-\(fakeDigest(1))  "))
        #expect(llava.hasSuffix("  ~/.ollama/models/blobs/sha256-\(fakeDigest(2))"))
        let projectorColumn = try #require(lines[0].range(of: "PROJECTOR FILE")).lowerBound.utf16Offset(in: lines[0])
        #expect(llava.dropFirst(projectorColumn).hasPrefix("~/.ollama/models/blobs/sha256-\(fakeDigest(2))"))
        #expect(llava.contains(" mlp "))
        let empty = ModelStore(environment: [:], homeDirectory: sandbox.path("nobody")).scan()
        #expect(empty.table().hasPrefix("No models found in Ollama's store ("))
    }

    @Test func linkLoopsFIFOsAndUnreadableFoldersAreSkipped() throws {
        let sandbox = try StoreSandbox()
        try sandbox.write("m/ok.gguf", TinyGGUF.textModel())
        try sandbox.link("m/self", to: ".")
        try sandbox.link("m/sub/back", to: "../..")
        try sandbox.link("m/a.gguf", to: "b.gguf")
        try sandbox.link("m/b.gguf", to: "a.gguf")
        try sandbox.write("m/empty.gguf", [])
        #expect(mkfifo(sandbox.path("m/pipe.gguf"), 0o644) == 0)
        try sandbox.write("m/locked/hidden.gguf", TinyGGUF.textModel())
        chmod(sandbox.path("m/locked"), 0)

        let listing = ModelStore(environment: [:], homeDirectory: sandbox.path("home"), folders: [sandbox.path("m")]).scan()
        #expect(listing.entries.map(\.name) == (getuid() == 0 ? ["hidden", "ok"] : ["ok"]))
        func reason(_ name: String) -> String? { listing.skipped.first { $0.path == sandbox.path("m/\(name)") }?.reason }
        #expect(reason("a.gguf") == "a loop of symbolic links")
        #expect(reason("pipe.gguf") == "not a regular file")
        #expect(reason("empty.gguf")?.contains("empty") == true)
        if getuid() != 0 { #expect(reason("locked")?.contains("permission denied") == true) }
        // What a folder that cannot be listed gives, whoever runs the test.
        #expect(StoreFileSystem.names(in: sandbox.path("m/ok.gguf")) == .failure(StoreProblem("not a directory")))
        #expect(StoreFileSystem.names(in: sandbox.path("m/none")) == .failure(StoreProblem("no such file or directory")))
    }

    @Test func projectorsPairByWidthThenQuantizationThenPrecision() {
        func facts(_ path: String, clip: Bool, width: Int? = nil, embedding: Int? = nil, quantization: String? = nil) -> ModelFileFacts {
            ModelFileFacts(path: path, size: 1, architecture: clip ? "clip" : "llama", quantization: quantization,
                           projectorType: clip ? "mlp" : nil, embeddingLength: embedding, projectionWidth: width, holdsVision: false)
        }
        let model = facts("/m/model-Q8_0.gguf", clip: false, embedding: 2048)
        let wrongWidth = facts("/m/mmproj-other-Q8_0.gguf", clip: true, width: 4096)
        let f32 = facts("/m/mmproj-model-f32.gguf", clip: true, width: 2048)
        let q8 = facts("/m/mmproj-model-Q8_0.gguf", clip: true, width: 2048)
        let f16 = facts("/m/mmproj.gguf", clip: true, quantization: "F16")
        #expect(ModelPairing.projector(for: model, among: [wrongWidth, f32, f16, q8]) == q8)
        #expect(ModelPairing.projector(for: model, among: [wrongWidth, f32, f16]) == f16)
        #expect(ModelPairing.projector(for: model, among: [wrongWidth, f32]) == f32)
        #expect(ModelPairing.projector(for: model, among: [wrongWidth]) == nil)
        #expect(ModelPairing.quantizationTag("/x/gemma-3-4b-it-UD-Q4_K_XL.gguf") == "Q4_K_XL")
        #expect(ModelPairing.quantizationTag("/x/llama.q5_k_m.gguf") == "Q5_K_M")
        #expect(ModelPairing.quantizationTag("/x/Qwen2-VL-2B-Instruct.gguf") == nil)
        let names = ModelPairing.repositoryNames(repository: "o/r", models: [
            facts("/r/a-Q4_K_M.gguf", clip: false), facts("/r/b-Q4_K_M.gguf", clip: false),
            facts("/r/c.gguf", clip: false, quantization: "Q6_K")])
        #expect(names.map(\.name) == ["o/r:a-Q4_K_M", "o/r:b-Q4_K_M", "o/r:Q6_K"])
    }
}
