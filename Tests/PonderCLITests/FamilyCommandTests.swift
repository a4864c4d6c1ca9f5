import Foundation
import Testing

/// The VLM families end to end on the command line, each found by name in a fake Ollama
/// store built in a temporary home folder: the tiny random fixture answers in the four
/// stages with stage-level beam search and the self judge.
@Suite("model families on the command line")
struct FamilyCommandTests {
    /// `gemma3:4b` in a fake Ollama store: a manifest with the model and projector layers,
    /// the blobs linked to the Gemma 3 fixture pair (llama.cpp's converter's layout).
    @Test func gemma3FromAnOllamaStoreRunsStageBeam() throws {
        let folder = try ModelsCommandTests.Folder()
        let manager = FileManager.default
        let text = fixture("gemma3/gemma3-text-f32.gguf"), projector = fixture("gemma3/mmproj-gemma3-f32.gguf")
        let ollama = folder.home + "/.ollama/models"
        let (modelDigest, projectorDigest) = (String(repeating: "c3", count: 32), String(repeating: "d4", count: 32))
        try manager.createDirectory(atPath: ollama + "/blobs", withIntermediateDirectories: true)
        try manager.createSymbolicLink(atPath: "\(ollama)/blobs/sha256-\(modelDigest)", withDestinationPath: text)
        try manager.createSymbolicLink(atPath: "\(ollama)/blobs/sha256-\(projectorDigest)", withDestinationPath: projector)
        let manifestFolder = ollama + "/manifests/registry.ollama.ai/library/gemma3"
        try manager.createDirectory(atPath: manifestFolder, withIntermediateDirectories: true)
        let manifest = #"{"layers":[{"mediaType":"application/vnd.ollama.image.model","digest":"sha256:\#(modelDigest)"},"#
            + #"{"mediaType":"application/vnd.ollama.image.projector","digest":"sha256:\#(projectorDigest)"}]}"#
        try manifest.write(toFile: manifestFolder + "/4b", atomically: true, encoding: .utf8)

        let listed = try folder.run(["models", "--json"])
        #expect(listed.stdout.contains(#""name":"gemma3:4b""#), "\(listed.stdout)")
        #expect(listed.stdout.contains(#""family":"gemma3""#), "\(listed.stdout)")

        let image = fixture("gemma3/images/landscape_240x150.png")
        let run = try folder.run(["ask", "--model", "gemma3:4b", "--image", image, "--threads", "1", "--max-tokens", "6",
                                  "--strategy", "stage-beam", "--beam", "2", "--judge", "self", "--seed", "3", "--json",
                                  "What is in the picture?"])
        #expect(run.status == 0, "\(run.stderr)")
        let events = run.stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        let started = events.filter { $0["event"] as? String == "stage_started" }
        #expect(started.map { $0["stage"] as? String } == ["summary", "caption", "reasoning", "conclusion"])
        #expect(started.allSatisfy { $0["candidates"] as? Int == 2 })
        let chosen = events.filter { $0["event"] as? String == "stage_chosen" }
        #expect(chosen.count == 4 && chosen.allSatisfy { $0["by"] as? String == "judge" })
        #expect(events.contains { $0["event"] as? String == "done" })
    }
}

extension FamilyCommandTests {
    /// The Qwen2.5-VL fixture pair in a fake Hugging Face cache (`org/name:QUANT` naming),
    /// answering about an image in the four stages with stage-beam.
    @Test func qwen25VLFromTheHuggingFaceCacheRunsStageBeam() throws {
        let folder = try ModelsCommandTests.Folder()
        let manager = FileManager.default
        let snapshot = folder.home + "/.cache/huggingface/hub/models--ponder--tiny-qwen2.5-vl-GGUF/snapshots/main"
        try manager.createDirectory(atPath: snapshot, withIntermediateDirectories: true)
        try manager.createSymbolicLink(atPath: snapshot + "/tiny-qwen2.5-vl-F32.gguf", withDestinationPath: fixture("qwen2_5_vl/model.gguf"))
        try manager.createSymbolicLink(atPath: snapshot + "/mmproj-tiny-qwen2.5-vl-F32.gguf",
                                       withDestinationPath: fixture("qwen2_5_vl/mmproj.gguf"))
        let listed = try folder.run(["models", "--json"])
        #expect(listed.stdout.contains(#""family":"qwen2vl""#), "\(listed.stdout)")
        let run = try folder.run(["ask", "--model", "ponder/tiny-qwen2.5-vl-GGUF", "--image", fixture("qwen2_5_vl/images/down_240x160.png"),
                                  "--threads", "1", "--max-tokens", "6", "--strategy", "stage-beam", "--beam", "2",
                                  "--seed", "5", "--json", "What is in the picture?"])
        #expect(run.status == 0, "\(run.stderr)")
        let events = run.stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        let started = events.filter { $0["event"] as? String == "stage_started" }
        #expect(started.map { $0["stage"] as? String } == ["summary", "caption", "reasoning", "conclusion"])
        #expect(started.allSatisfy { $0["candidates"] as? Int == 2 })
        #expect(events.contains { $0["event"] as? String == "done" })
    }
}

extension FamilyCommandTests {
    /// The pixel bounds of dynamic resizing: one sentence for values that cannot be, and the
    /// bounds change how many tokens the image takes.
    @Test func imagePixelBoundsAreCheckedAndUsed() throws {
        let folder = try ModelsCommandTests.Folder()
        let model = fixture("qwen2_5_vl/model.gguf"), projector = fixture("qwen2_5_vl/mmproj.gguf")
        let image = fixture("qwen2_5_vl/images/down_240x160.png")
        let bad = try folder.run(["ask", "--model", model, "--mmproj", projector, "--image", image,
                                  "--image-min-pixels", "100", "--image-max-pixels", "50", "hi"])
        #expect(bad.status != 0 && bad.stderr.contains("--image-min-pixels (100) must not exceed --image-max-pixels (50)."))
        func promptTokens(_ bounds: [String]) throws -> Int? {
            let run = try folder.run(["ask", "--model", model, "--mmproj", projector, "--image", image, "--threads", "1",
                                      "--max-tokens", "1", "--strategy", "greedy", "--json"] + bounds + ["hi"])
            #expect(run.status == 0, "\(run.stderr)")
            let done = run.stdout.split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }.first { $0["event"] as? String == "done" }
            return (done?["stats"] as? [String: Any])?["prompt_tokens"] as? Int
        }
        // 240×160 → 112×168 (24 tokens) under the fixture's bounds; 224×336 (96 tokens) with a floor of 4 times that.
        let small = try #require(try promptTokens(["--image-min-pixels", "9408", "--image-max-pixels", "23520"]))
        let large = try #require(try promptTokens(["--image-min-pixels", "75264", "--image-max-pixels", "100000"]))
        #expect(large - small == 96 - 24)
    }
}

extension FamilyCommandTests {
    /// The Qwen3-VL(-Thinking) fixture pair in a model folder: found by name, the projector
    /// paired, and stage-beam over a thinking model's two stages: the reasoning opened with
    /// `<think>` and ended at `</think>`, then the answer as the conclusion (no stage
    /// instruction in the prompt).
    @Test func qwen3VLFromAModelFolderRunsStageBeam() throws {
        let folder = try ModelsCommandTests.Folder()
        let manager = FileManager.default
        let models = folder.root + "/qwen"
        try manager.createDirectory(atPath: models, withIntermediateDirectories: true)
        try manager.copyItem(atPath: fixture("qwen3_vl/model.gguf"), toPath: models + "/tiny-qwen3-vl.gguf")
        try manager.copyItem(atPath: fixture("qwen3_vl/mmproj.gguf"), toPath: models + "/mmproj-tiny-qwen3-vl.gguf")
        let run = try folder.run(["ask", "--models-dir", models, "--model", "tiny-qwen3-vl",
                                  "--image", fixture("qwen3_vl/images/up_30x50.png"), "--threads", "1", "--max-tokens", "6",
                                  "--strategy", "stage-beam", "--beam", "2", "--seed", "7", "--json", "What is in the picture?"])
        #expect(run.status == 0, "\(run.stderr)")
        let events = run.stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        let started = events.filter { $0["event"] as? String == "stage_started" }
        #expect(started.map { $0["stage"] as? String } == ["reasoning", "conclusion"])
        #expect(started.allSatisfy { $0["candidates"] as? Int == 2 })
        let chosen = events.filter { $0["event"] as? String == "stage_chosen" }
        #expect(chosen.map { $0["stage"] as? String } == ["reasoning", "conclusion"])
        let done = try #require(events.first { $0["event"] as? String == "done" })
        #expect((done["stages"] as? [String: String])?.keys.sorted() == ["conclusion", "reasoning"])
    }
}

extension FamilyCommandTests {
    /// `ponder logits --image --prompt-file` on the chat template's text with the family's own
    /// image text (as transformers' processors take it): every position within 1e-3 of
    /// transformers' logits.
    @Test(arguments: [
        ("gemma3", "gemma3-text-f32.gguf", "mmproj-gemma3-f32.gguf", "image_landscape", "images/landscape_240x150.png", [String]()),
        ("qwen2_vl", "model.gguf", "mmproj.gguf", "image_up", "images/up_30x50.png",
         ["--image-min-pixels", "9408", "--image-max-pixels", "23520"]),
        ("qwen2_5_vl", "model.gguf", "mmproj.gguf", "image_down", "images/down_240x160.png",
         ["--image-min-pixels", "9408", "--image-max-pixels", "23520"]),
        ("qwen3_vl", "model.gguf", "mmproj.gguf", "image_up", "images/up_30x50.png",
         ["--image-min-pixels", "12288", "--image-max-pixels", "30720"]),
    ])
    func logitsOfAPromptFileMatchTransformers(_ family: String, _ model: String, _ projector: String, _ prompt: String,
                                              _ image: String, _ bounds: [String]) throws {
        let folder = try ModelsCommandTests.Folder()
        let references = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: fixture("\(family)/references.json"))))
            as? [String: Any]
        let entry = try #require((references?["prompts"] as? [[String: Any]])?.first { $0["name"] as? String == prompt })
        let text = try #require(entry["text"] as? String)
        let logits = try #require((entry["logits"] as? [String: Any])?["file"] as? String)
        let promptFile = folder.root + "/prompt.txt", out = folder.root + "/logits.bin"
        try text.write(toFile: promptFile, atomically: true, encoding: .utf8)
        let run = try folder.run(["logits", "--model", fixture("\(family)/\(model)"), "--mmproj", fixture("\(family)/\(projector)"),
                                  "--image", fixture("\(family)/\(image)"), "--prompt-file", promptFile, "--out", out] + bounds)
        #expect(run.status == 0, "\(run.stderr)")
        func floats(_ path: String) throws -> [Float] {
            try Data(contentsOf: URL(fileURLWithPath: path)).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        }
        let mine = try floats(out), theirs = try floats(fixture("\(family)/\(logits)"))
        #expect(mine.count == theirs.count, "\(family): \(mine.count) logits against \(theirs.count)")
        guard mine.count == theirs.count else { return }
        let peak = theirs.map { abs($0) }.max()!
        let error = zip(mine, theirs).map { abs($0 - $1) }.max()! / peak
        print("ponder logits --prompt-file, \(family) \(prompt): max|Δ|/max|ref| = \(error)")
        #expect(error < 1e-3, "\(family) \(prompt): max|Δ|/max|ref| = \(error)")
    }
}
