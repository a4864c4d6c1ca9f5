import Foundation
import GGUF
import Testing

/// Llama 3.2 Vision through the command line: `ponder convert` on the tiny HF checkpoint,
/// `ponder logits` on an image prompt against transformers, and `ponder ask` with stage-beam
/// and the self judge.
@Suite("mllama on the command line", .serialized)
struct MllamaCLITests {
    static let folder = NSTemporaryDirectory() + "ponder-mllama-cli-\(ProcessInfo.processInfo.processIdentifier)"
    static var model: String { folder + "/tiny.gguf" }
    static var projector: String { folder + "/mmproj-tiny.gguf" }
    static let mllama = fixtures.appendingPathComponent("mllama")

    static func convert() throws {
        guard !FileManager.default.fileExists(atPath: model) else { return }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let result = try PonderProcess.run(["convert", mllama.appendingPathComponent("hf").path, "--out", model, "--type", "F32"])
        #expect(result.status == 0, "\(result.stderr)")
    }

    @Test func convertWritesTheModelAndItsProjector() throws {
        try Self.convert()
        #expect(FileManager.default.fileExists(atPath: Self.model) && FileManager.default.fileExists(atPath: Self.projector))
        let inspect = try PonderProcess.run(["inspect", Self.model, "--json"])
        #expect(inspect.status == 0 && inspect.stdout.contains("\"mllama\""))
    }

    @Test func logitsOfAnImagePromptMatchTransformers() throws {
        try Self.convert()
        struct Prompt: Decodable { let name: String; let text: String; let image: String? }
        struct References: Decodable { let prompts: [Prompt] }
        let references = try JSONDecoder().decode(References.self, from: Data(contentsOf: Self.mllama.appendingPathComponent("references.json")))
        let prompt = try #require(references.prompts.first { $0.name == "tiles3" })
        let promptFile = Self.folder + "/tiles3.txt", out = Self.folder + "/tiles3.f32"
        try prompt.text.write(toFile: promptFile, atomically: true, encoding: .utf8)
        let result = try PonderProcess.run(["logits", "--model", Self.model, "--mmproj", Self.projector, "--image",
                                            Self.mllama.appendingPathComponent(prompt.image!).path,
                                            "--prompt-file", promptFile, "--out", out, "--threads", "2"])
        #expect(result.status == 0, "\(result.stderr)")
        func floats(_ path: String) throws -> [Float] {
            try Data(contentsOf: URL(fileURLWithPath: path)).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        }
        let mine = try floats(out), theirs = try floats(Self.mllama.appendingPathComponent("logits.tiles3.f32.bin").path)
        #expect(mine.count == theirs.count)
        let peak = theirs.map(abs).max()!
        #expect(zip(mine, theirs).map { abs($0 - $1) }.max()! / peak < 1e-3)
    }

    @Test func logitsRefusesAnImageWithoutItsMarkerInOneSentence() throws {
        try Self.convert()
        let result = try PonderProcess.run(["logits", "--model", Self.model, "--mmproj", Self.projector, "--image",
                                            Self.mllama.appendingPathComponent("images/tiles1_40x40.png").path,
                                            "--prompt", "no marker here", "--out", Self.folder + "/x.f32"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("image marker") && result.stderr.split(separator: "\n").count == 1)
    }

    @Test func askRunsStageBeamWithTheSelfJudge() throws {
        try Self.convert()
        let result = try PonderProcess.run(["ask", "--model", Self.model, "--mmproj", Self.projector,
                                            "--image", Self.mllama.appendingPathComponent("images/tiles4_130x120.png").path,
                                            "--strategy", "stage-beam", "--beam", "2", "--judge", "self", "--max-tokens", "4",
                                            "--seed", "1", "--context-length", "1024", "--threads", "2", "--json",
                                            "What is in this image?"])
        #expect(result.status == 0, "\(result.stderr)")
        let events = result.stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        let chosen = events.filter { $0["event"] as? String == "stage_chosen" }
        #expect(chosen.map { $0["stage"] as? String } == ["summary", "caption", "reasoning", "conclusion"])
        #expect(chosen.allSatisfy { $0["by"] as? String == "judge" })
        #expect(events.contains { $0["event"] as? String == "done" })
    }

    /// A model converted with `ponder.stage_format` (LLaVA-CoT) is asked without the stage
    /// instruction: its prompt is the one `--no-stage-instruction` gives the plain conversion,
    /// shorter than the plain conversion's prompt with the instruction.
    @Test func aStageFormatModelIsAskedWithoutTheStageInstruction() throws {
        try Self.convert()
        let staged = Self.folder + "/staged.gguf"
        let converted = try PonderProcess.run(["convert", Self.mllama.appendingPathComponent("hf").path, "--out", staged,
                                               "--type", "F32", "--stage-format"])
        #expect(converted.status == 0, "\(converted.stderr)")
        func promptTokens(_ model: String, _ extra: [String] = []) throws -> Double {
            let result = try PonderProcess.run(["ask", "--model", model, "--mmproj", Self.projector, "--image",
                                                Self.mllama.appendingPathComponent("images/tiles1_40x40.png").path,
                                                "--max-tokens", "1", "--threads", "2", "--context-length", "1024", "--json"] + extra + ["What is this?"])
            #expect(result.status == 0, "\(result.stderr)")
            let done = result.stdout.split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }.first { $0["event"] as? String == "done" }
            return try #require((done?["stats"] as? [String: Any])?["prompt_tokens"] as? Double)
        }
        let plain = try promptTokens(Self.model), bare = try promptTokens(Self.model, ["--no-stage-instruction"])
        #expect(try promptTokens(staged) == bare)
        #expect(plain > bare + 10, "the plain conversion is asked with the instruction")
    }

    /// Ollama's one-file layout: the model file holds the vision tower, so no --mmproj.
    @Test func askTakesAnImageWithOneFileHoldingTextAndVision() throws {
        try Self.convert()
        let single = Self.folder + "/single.gguf"
        var writer = GGUFWriter()
        var keys = Set<String>()
        for path in [Self.model, Self.projector] {
            let file = try GGUFFile(path: path)
            for (key, value) in file.metadata where keys.insert(key).inserted { writer.set(key, value) }
            for tensor in file.tensors {
                try writer.addTensor(name: tensor.name, dimensions: tensor.dimensions, type: tensor.type,
                                     data: Array(file.data(for: tensor)))
            }
        }
        try writer.write(to: single)
        let result = try PonderProcess.run(["ask", "--model", single, "--image",
                                            Self.mllama.appendingPathComponent("images/tiles1_40x40.png").path,
                                            "--max-tokens", "3", "--threads", "2", "--no-stage-instruction", "What is this?"])
        #expect(result.status == 0, "\(result.stderr)")
        let text = try PonderProcess.run(["ask", "--model", Self.model, "--image",
                                          Self.mllama.appendingPathComponent("images/tiles1_40x40.png").path, "What is this?"])
        #expect(text.status != 0 && text.stderr.contains("--mmproj"))
    }
}
