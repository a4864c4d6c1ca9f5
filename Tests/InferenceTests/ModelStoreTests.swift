import Foundation
import GGUF
@testable import Inference
import Testing

/// Discovery: each source's layout, its names, and the projector paired with each model.
@Suite("ModelStore discovery")
struct ModelStoreTests {
    /// A store that sees only the sandbox: its home folder and the given variables.
    func store(_ sandbox: StoreSandbox, _ environment: [String: String] = [:], folders: [String] = []) -> ModelStore {
        ModelStore(environment: environment, homeDirectory: sandbox.path("home"), folders: folders)
    }

    func entry(_ listing: ModelListing, _ name: String) throws -> ModelStoreEntry {
        try #require(listing.entries.first { $0.name == name }, "no entry \(name) in \(listing.entries.map(\.name))")
    }

    @Test func defaultLocationsFollowTheHomeFolderAndTheEnvironment() throws {
        let sandbox = try StoreSandbox()
        let plain = store(sandbox)
        let home = sandbox.path("home")
        #expect(plain.ollamaFolder == home + "/.ollama/models")
        #expect(plain.huggingFaceFolder == home + "/.cache/huggingface/hub")
        #expect(plain.lmStudioFolders == [home + "/.lmstudio/models", home + "/.cache/lm-studio/models"])
        #expect(plain.modelFolders.isEmpty)
        #expect(store(sandbox, ["HF_HOME": "/x/hf"]).huggingFaceFolder == "/x/hf/hub")
        #expect(store(sandbox, ["HF_HOME": "/x/hf", "HF_HUB_CACHE": "/y/hub"]).huggingFaceFolder == "/y/hub")
        #expect(store(sandbox, ["XDG_CACHE_HOME": "/c"]).huggingFaceFolder == "/c/huggingface/hub")
        #expect(store(sandbox, ["OLLAMA_MODELS": "/o"]).ollamaFolder == "/o")
        let folders = store(sandbox, ["PONDER_MODELS": "/a::~/b:/a"], folders: ["/c", "/a"]).modelFolders
        #expect(folders == ["/a", home + "/b", "/c"])
        #expect(store(sandbox).locations.map(\.source) == [.ollama, .huggingface, .lmstudio, .lmstudio])
    }

    @Test func ollamaManifestsGiveNamesBlobsAndProjectors() throws {
        let sandbox = try StoreSandbox()
        let root = "home/.ollama/models"
        let text = try sandbox.write("\(root)/blobs/sha256-\(fakeDigest(1))", TinyGGUF.textModel())
        let clip = try sandbox.write("\(root)/blobs/sha256-\(fakeDigest(2))", TinyGGUF.projector())
        let gemma = try sandbox.write("\(root)/blobs/sha256-\(fakeDigest(3))",
                                      TinyGGUF.textModel(architecture: "gemma3", fileType: nil, visionTensors: true))
        try sandbox.write("\(root)/manifests/registry.ollama.ai/library/llava/7b",
                          text: ollamaManifest(model: fakeDigest(1), projector: fakeDigest(2)))
        try sandbox.write("\(root)/manifests/registry.ollama.ai/library/gemma3/4b", text: ollamaManifest(model: fakeDigest(3)))
        try sandbox.write("\(root)/manifests/registry.ollama.ai/someone/tiny/latest", text: ollamaManifest(model: fakeDigest(1)))
        try sandbox.write("\(root)/manifests/example.com/team/thing/v1", text: ollamaManifest(model: fakeDigest(1)))

        let listing = store(sandbox).scan()
        #expect(listing.entries.map(\.name) == ["example.com/team/thing:v1", "gemma3:4b", "llava:7b", "someone/tiny:latest"])
        #expect(listing.skipped.isEmpty, "\(listing.skipped)")

        let llava = try entry(listing, "llava:7b")
        #expect(llava.source == .ollama)
        #expect(llava.model == text && llava.projector == clip && !llava.projectorEmbedded)
        #expect(llava.family == "llama" && llava.projectorType == "mlp" && llava.quantization == "Q4_K_M")
        #expect(llava.sizeBytes == TinyGGUF.textModel().count + TinyGGUF.projector().count)
        #expect(llava.aliases == ["library/llava:7b", "registry.ollama.ai/library/llava:7b"])

        // gemma3 keeps its vision tower in the model blob: the projector is the model file.
        let embedded = try entry(listing, "gemma3:4b")
        #expect(embedded.projector == gemma && embedded.projectorEmbedded)
        #expect(embedded.family == "gemma3" && embedded.projectorType == "gemma3")
        #expect(embedded.quantization == "F32", "no general.file_type: the type holding the most bytes")
        #expect(embedded.sizeBytes == TinyGGUF.textModel(architecture: "gemma3", fileType: nil, visionTensors: true).count)

        let tiny = try entry(listing, "someone/tiny:latest")
        #expect(tiny.projector == nil && !tiny.projectorEmbedded && tiny.projectorType == nil)
        #expect(tiny.aliases == ["registry.ollama.ai/someone/tiny:latest"])
        #expect(try entry(listing, "example.com/team/thing:v1").aliases.isEmpty)
    }

    @Test func ollamaSkipsBadManifestsAndBlobs() throws {
        let sandbox = try StoreSandbox()
        let root = sandbox.path("ollama")
        try sandbox.write("ollama/blobs/sha256-\(fakeDigest(1))", TinyGGUF.textModel())
        try sandbox.write("ollama/blobs/sha256-\(fakeDigest(4))", TinyGGUF.truncated)
        let library = "ollama/manifests/registry.ollama.ai/library"
        try sandbox.write("\(library)/good/1", text: ollamaManifest(model: fakeDigest(1)))
        try sandbox.write("\(library)/malformed/1", text: "{\"layers\": [")
        try sandbox.write("\(library)/nolayers/1", text: "{\"schemaVersion\": 2}")
        try sandbox.write("\(library)/missing/1", text: ollamaManifest(model: fakeDigest(9)))
        try sandbox.write("\(library)/corrupt/1", text: ollamaManifest(model: fakeDigest(4)))
        try sandbox.write("\(library)/escape/1", text: ollamaManifest(model: "../../../etc/passwd"))
        try sandbox.write("\(library)/projectoronly/1", text: #"{"layers":[{"mediaType":"application/vnd.ollama.image.projector","digest":"sha256:\#(fakeDigest(1))"}]}"#)
        try sandbox.link("\(library)/dangling/1", to: sandbox.path("nowhere"))

        let listing = store(sandbox, ["OLLAMA_MODELS": root]).scan()
        #expect(listing.entries.map(\.name) == ["good:1"])
        func reason(_ model: String) -> String? {
            listing.skipped.first { $0.path.hasSuffix("/\(model)/1") }?.reason
        }
        #expect(reason("malformed")?.contains("not an Ollama manifest") == true)
        #expect(reason("nolayers")?.contains("not an Ollama manifest") == true)
        #expect(reason("escape")?.contains("is not sha256:<64 hex digits>") == true)
        #expect(reason("projectoronly")?.contains("no model layer") == true)
        #expect(reason("dangling") == "a dangling symbolic link")
        let blobs = listing.skipped.filter { $0.path.contains("/blobs/") }
        #expect(blobs.contains { $0.path.hasSuffix(fakeDigest(9)) && $0.reason.contains("no such file") })
        #expect(blobs.contains { $0.path.hasSuffix(fakeDigest(4)) && $0.reason.contains("not a readable GGUF file") })
    }

    /// `models--org--name/snapshots/<rev>/…` links into `blobs/`, as huggingface_hub leaves them.
    func makeHuggingFaceCache(_ sandbox: StoreSandbox) throws {
        let repo = "hub/models--ggml-org--gemma-3-4b-it-GGUF"
        try sandbox.write("\(repo)/blobs/aaa", TinyGGUF.textModel(architecture: "gemma3"))
        try sandbox.write("\(repo)/blobs/bbb", TinyGGUF.textModel(architecture: "gemma3", fileType: 7))
        try sandbox.write("\(repo)/blobs/ccc", TinyGGUF.projector(projectorType: "gemma3"))
        try sandbox.write("\(repo)/refs/main", text: "rev2\n")
        try sandbox.link("\(repo)/snapshots/rev2/gemma-3-4b-it-Q4_K_M.gguf", to: "../../blobs/aaa")
        try sandbox.link("\(repo)/snapshots/rev2/gemma-3-4b-it-Q8_0.gguf", to: "../../blobs/bbb")
        try sandbox.link("\(repo)/snapshots/rev2/mmproj-model-f16.gguf", to: "../../blobs/ccc")
        try sandbox.link("\(repo)/snapshots/rev2/broken-Q2_K.gguf", to: "../../blobs/gone")
        // An older revision, newer on disk: refs/main still wins.
        try sandbox.link("\(repo)/snapshots/rev1/gemma-3-4b-it-F16.gguf", to: "../../blobs/aaa")
        try sandbox.age("\(repo)/snapshots/rev2", secondsAgo: 3600)

        // No refs: the most recently modified snapshot.
        let single = "hub/models--org--single"
        try sandbox.write("\(single)/blobs/ddd", TinyGGUF.textModel(fileType: 7))
        try sandbox.link("\(single)/snapshots/new/sub/single.Q8_0.gguf", to: "../../../blobs/ddd")
        try sandbox.link("\(single)/snapshots/old/single.Q4_0.gguf", to: "../../blobs/ddd")
        try sandbox.age("\(single)/snapshots/old", secondsAgo: 7200)
        try sandbox.makeFolder("hub/datasets--org--data/snapshots/x")
    }

    @Test func huggingFaceCachePairsMmprojInTheNewestSnapshot() throws {
        let sandbox = try StoreSandbox()
        try makeHuggingFaceCache(sandbox)
        let listing = store(sandbox, ["HF_HUB_CACHE": sandbox.path("hub")]).scan()
        #expect(listing.entries.map(\.name) == ["ggml-org/gemma-3-4b-it-GGUF:Q4_K_M", "ggml-org/gemma-3-4b-it-GGUF:Q8_0",
                                                "org/single"])
        let snapshot = sandbox.path("hub/models--ggml-org--gemma-3-4b-it-GGUF/snapshots/rev2")
        let q4 = try entry(listing, "ggml-org/gemma-3-4b-it-GGUF:Q4_K_M")
        #expect(q4.source == .huggingface)
        #expect(q4.model == snapshot + "/gemma-3-4b-it-Q4_K_M.gguf")
        #expect(q4.projector == snapshot + "/mmproj-model-f16.gguf" && !q4.projectorEmbedded)
        #expect(q4.family == "gemma3" && q4.projectorType == "gemma3" && q4.quantization == "Q4_K_M")
        #expect(q4.sizeBytes == TinyGGUF.textModel(architecture: "gemma3").count + TinyGGUF.projector(projectorType: "gemma3").count)
        #expect(try entry(listing, "ggml-org/gemma-3-4b-it-GGUF:Q8_0").quantization == "Q8_0")
        #expect(listing.skipped.contains { $0.path == snapshot + "/broken-Q2_K.gguf" && $0.reason == "a dangling symbolic link" })

        let single = try entry(listing, "org/single")
        #expect(single.model.hasSuffix("/snapshots/new/sub/single.Q8_0.gguf"))
        #expect(single.aliases == ["org/single:Q8_0"] && single.projector == nil)
    }

    @Test func lmStudioFoldersNamePublisherAndRepository() throws {
        let sandbox = try StoreSandbox()
        let repo = "home/.lmstudio/models/lmstudio-community/Qwen2-VL-2B-GGUF"
        let model = try sandbox.write("\(repo)/Qwen2-VL-2B-Q4_K_M.gguf", TinyGGUF.textModel(architecture: "qwen2vl"))
        try sandbox.write("\(repo)/mmproj-Qwen2-VL-2B-Q8_0.gguf", TinyGGUF.projector(projectorType: "qwen2vl_merger", fileType: 7))
        let f16 = try sandbox.write("\(repo)/mmproj-Qwen2-VL-2B-F16.gguf", TinyGGUF.projector(projectorType: "qwen2vl_merger"))
        try sandbox.write("home/.cache/lm-studio/models/old/Text-GGUF/text-f16.gguf", TinyGGUF.textModel(fileType: 1))
        try sandbox.write("home/.lmstudio/models/stray.gguf", TinyGGUF.textModel())

        let listing = store(sandbox).scan()
        #expect(listing.entries.map(\.name) == ["lmstudio-community/Qwen2-VL-2B-GGUF", "old/Text-GGUF"])
        let qwen = try entry(listing, "lmstudio-community/Qwen2-VL-2B-GGUF")
        #expect(qwen.source == .lmstudio && qwen.model == model)
        #expect(qwen.projector == f16, "of two projectors, F16 before Q8_0")
        #expect(qwen.projectorType == "qwen2vl_merger")
        #expect(try entry(listing, "old/Text-GGUF").quantization == "F16")

        // A repository folder linked to another source's folder is still listed here.
        try sandbox.link("home/.lmstudio/models/linked/Same-GGUF", to: sandbox.path(repo))
        let names = store(sandbox).scan().entries.map(\.name)
        #expect(names == ["linked/Same-GGUF", "lmstudio-community/Qwen2-VL-2B-GGUF", "old/Text-GGUF"])
    }

    @Test func modelFoldersFromTheEnvironmentAndTheCommandLine() throws {
        let sandbox = try StoreSandbox()
        let x = try sandbox.write("a/x.gguf", TinyGGUF.textModel())
        let projector = try sandbox.write("a/mmproj-x-f16.gguf", TinyGGUF.projector())
        try sandbox.write("a/sub/y.gguf", TinyGGUF.textModel(fileType: 7))
        try sandbox.write("a/sub/deeper/z.gguf", TinyGGUF.textModel())
        try sandbox.write("a/1/2/3/too-deep.gguf", TinyGGUF.textModel())
        try sandbox.write("a/notes.txt", text: "not a model")
        try sandbox.write("a/bad.gguf", TinyGGUF.notGGUF)
        try sandbox.write("c/w.gguf", TinyGGUF.textModel(architecture: "mllama", visionTensors: true))
        try sandbox.write("c/lonely-mmproj.gguf", TinyGGUF.projector())

        let environment = ["PONDER_MODELS": sandbox.path("a") + ":" + sandbox.path("missing")]
        let listing = store(sandbox, environment, folders: [sandbox.path("c")]).scan()
        #expect(listing.entries.map(\.name) == ["w", "x", "y", "z"])
        let entryX = try entry(listing, "x")
        #expect(entryX.source == .folder && entryX.model == x && entryX.projector == projector)
        #expect(try entry(listing, "y").projector == nil, "a projector pairs only within its own folder")
        let w = try entry(listing, "w")
        #expect(w.projectorEmbedded && w.projector == w.model, "an mllama file with its vision tower")
        #expect(listing.skipped.contains { $0.path == sandbox.path("a/bad.gguf") && $0.reason.contains("not a GGUF file") })
        #expect(listing.locations.filter { $0.source == .folder }.map(\.path)
                == [sandbox.path("a"), sandbox.path("missing"), sandbox.path("c")])
    }

    @Test func splitModelsAreSkippedWithTheirReason() throws {
        let sandbox = try StoreSandbox()
        let first = try sandbox.write("m/big-Q4_K_M-00001-of-00002.gguf", TinyGGUF.textModel())
        try sandbox.write("m/big-Q4_K_M-00002-of-00002.gguf", TinyGGUF.textModel(fileType: 7))
        try sandbox.write("m/small.gguf", TinyGGUF.textModel())
        let listing = store(sandbox, folders: [sandbox.path("m")]).scan()
        #expect(listing.entries.map(\.name) == ["small"])
        #expect(listing.skipped == [ModelStoreSkip(
            path: first, reason: "part 1 of a model split in 2 files; Ponder reads single-file GGUF models only")])
    }
}
