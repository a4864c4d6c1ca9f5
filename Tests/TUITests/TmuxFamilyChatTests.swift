import Foundation
import Testing

/// `ponder chat --model NAME` under tmux for the VLM families, each found where a user keeps it
/// (a fake home folder: Ollama's store, the Hugging Face cache, a model folder), with
/// stage-level beam search: the tiny random fixtures stream their stages (four, or the
/// reasoning and conclusion of a thinking model), each with two candidates.
@Suite("model families in ponder chat under tmux", .serialized)
struct TmuxFamilyChatTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../InferenceTests/Fixtures").standardized.path

    /// A fake home under the session's scratch folder with `gemma3:4b` in Ollama's store (a
    /// manifest naming the model and projector blobs), the Qwen2.5-VL pair in the Hugging Face
    /// cache and the Qwen3-VL pair in `models/`.
    static func makeStores(home: String) throws {
        let manager = FileManager.default
        let ollama = home + "/.ollama/models"
        let (model, projector) = (String(repeating: "c3", count: 32), String(repeating: "d4", count: 32))
        try manager.createDirectory(atPath: ollama + "/blobs", withIntermediateDirectories: true)
        try manager.createSymbolicLink(atPath: "\(ollama)/blobs/sha256-\(model)", withDestinationPath: fixtures + "/gemma3/gemma3-text-f32.gguf")
        try manager.createSymbolicLink(atPath: "\(ollama)/blobs/sha256-\(projector)",
                                       withDestinationPath: fixtures + "/gemma3/mmproj-gemma3-f32.gguf")
        let manifests = ollama + "/manifests/registry.ollama.ai/library/gemma3"
        try manager.createDirectory(atPath: manifests, withIntermediateDirectories: true)
        try (#"{"layers":[{"mediaType":"application/vnd.ollama.image.model","digest":"sha256:\#(model)"},"#
            + #"{"mediaType":"application/vnd.ollama.image.projector","digest":"sha256:\#(projector)"}]}"#)
            .write(toFile: manifests + "/4b", atomically: true, encoding: .utf8)
        let snapshot = home + "/.cache/huggingface/hub/models--ponder--tiny-qwen2.5-vl-GGUF/snapshots/main"
        try manager.createDirectory(atPath: snapshot, withIntermediateDirectories: true)
        try manager.createSymbolicLink(atPath: snapshot + "/tiny-qwen2.5-vl-F32.gguf", withDestinationPath: fixtures + "/qwen2_5_vl/model.gguf")
        try manager.createSymbolicLink(atPath: snapshot + "/mmproj-tiny-qwen2.5-vl-F32.gguf",
                                       withDestinationPath: fixtures + "/qwen2_5_vl/mmproj.gguf")
        try manager.createDirectory(atPath: home + "/models", withIntermediateDirectories: true)
        try manager.createSymbolicLink(atPath: home + "/models/tiny-qwen3-vl.gguf", withDestinationPath: fixtures + "/qwen3_vl/model.gguf")
        try manager.createSymbolicLink(atPath: home + "/models/mmproj-tiny-qwen3-vl.gguf", withDestinationPath: fixtures + "/qwen3_vl/mmproj.gguf")
    }

    /// Llama 3.2 Vision as a user gets it: `ponder convert` on the tiny HF checkpoint, then
    /// `ponder chat --model … --mmproj …` with stage-beam over the four stages.
    @Test(.enabled(if: Tmux.available, "tmux is not installed: skipping the mllama chat test"))
    func aConvertedMllamaCheckpointChatsWithStageBeam() throws {
        let tmux = Tmux.Session("mllama")
        defer { tmux.close() }
        try FileManager.default.createDirectory(atPath: tmux.home, withIntermediateDirectories: true)
        let convert = Process()
        convert.executableURL = Tmux.ponder
        convert.arguments = ["convert", Self.fixtures + "/mllama/hf", "--out", tmux.home + "/tiny.gguf", "--type", "Q8_0"]
        convert.standardOutput = FileHandle.nullDevice
        convert.standardError = FileHandle.nullDevice
        try convert.run()
        convert.waitUntilExit()
        try #require(convert.terminationStatus == 0, "ponder convert failed")
        try tmux.start(["chat", "--model", tmux.home + "/tiny.gguf", "--mmproj", tmux.home + "/mmproj-tiny.gguf",
                        "--image", Self.fixtures + "/mllama/images/tiles4_130x120.png", "--strategy", "stage-beam", "--beam", "2",
                        "--max-tokens", "6", "--seed", "3", "--threads", "1", "--context-length", "1024"],
                       environment: ["NO_COLOR=1"], width: 110, height: 40)
        let (loaded, start) = TmuxEndToEndTests.waitFor(tmux.socket) { $0.contains("tiles4_130x120.png") && $0.contains("›") }
        try #require(loaded, "the app did not open with the image:\n\(start)")
        tmux.ask("What is in the picture?")
        let stages = ["Summary", "Caption", "Reasoning", "Conclusion"]
        let (answered, screen) = TmuxEndToEndTests.waitFor(tmux.socket, seconds: 120) { screen in
            stages.allSatisfy { stage in
                screen.components(separatedBy: "\n").contains { $0.contains(stage + " · done") && $0.contains("/2 ▶") }
            }
        }
        #expect(answered, "the four stages did not all finish with 2 candidates:\n\(screen)")
    }

    @Test(.enabled(if: Tmux.available, "tmux is not installed: skipping the family chat tests"),
          arguments: [
            ("gemma3:4b", "gemma3/images/landscape_240x150.png", ["Summary", "Caption", "Reasoning", "Conclusion"], [String]()),
            ("ponder/tiny-qwen2.5-vl-GGUF", "qwen2_5_vl/images/down_240x160.png", ["Summary", "Caption", "Reasoning", "Conclusion"],
             ["--image-min-pixels", "9408", "--image-max-pixels", "23520"]),
            ("tiny-qwen3-vl", "qwen3_vl/images/up_30x50.png", ["Reasoning", "Conclusion"],
             ["--models-dir", "MODELS", "--image-min-pixels", "12288", "--image-max-pixels", "30720"]),
          ])
    func aFamilyStreamsItsStagesWithStageBeam(model: String, image: String, stages: [String], extra: [String]) throws {
        let tmux = Tmux.Session("family")
        defer { tmux.close() }
        try Self.makeStores(home: tmux.home)
        let arguments = ["chat", "--model", model, "--image", Self.fixtures + "/" + image, "--strategy", "stage-beam",
                         "--beam", "2", "--max-tokens", "6", "--seed", "3", "--threads", "1"]
            + extra.map { $0 == "MODELS" ? tmux.home + "/models" : $0 }
        // HOME is the fake one; no other store variable leaks in from the machine running the tests.
        try tmux.start(arguments, environment: ["-u", "OLLAMA_MODELS", "-u", "HF_HOME", "-u", "HF_HUB_CACHE", "-u", "PONDER_MODELS",
                                                "-u", "XDG_CACHE_HOME", "HOME=\(tmux.home)", "NO_COLOR=1"], width: 110, height: 40)
        let name = (image as NSString).lastPathComponent
        let (loaded, start) = TmuxEndToEndTests.waitFor(tmux.socket) { $0.contains(name) && $0.contains("›") }
        try #require(loaded, "\(model): the app did not open with the image:\n\(start)")

        tmux.ask("What is in the picture?")
        // Every stage done, each showing which of its 2 candidates was taken.
        let (answered, screen) = TmuxEndToEndTests.waitFor(tmux.socket, seconds: 120) { screen in
            stages.allSatisfy { stage in
                screen.components(separatedBy: "\n").contains { $0.contains(stage + " · done") && $0.contains("/2 ▶") }
            }
        }
        #expect(answered, "\(model): the stages \(stages) did not all finish with 2 candidates:\n\(screen)")
        if stages.count == 2 {   // a thinking model's summary and caption are shown as skipped
            #expect(screen.contains("Summary · skipped") && screen.contains("Caption · skipped"),
                    "\(model): a thinking model has two stages:\n\(screen)")
        }
    }
}
