import Foundation
import GGUF
import Inference
import Testing

/// Runs the `ponder` executable that `swift test` built next to the test bundle.
struct PonderProcess {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static var executable: URL {
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        // On Linux the test runner is `<bin>/PonderPackageTests.xctest`; on macOS it is a bundle.
        if folder.pathExtension == "xctest" || folder.path.contains(".xctest/") {
            while folder.pathExtension != "xctest" { folder.deleteLastPathComponent() }
            folder.deleteLastPathComponent()
        }
        return folder.appendingPathComponent("ponder")
    }

    static func run(_ arguments: [String]) throws -> Result {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                      stderr: String(decoding: stderr, as: UTF8.self))
    }
}

let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../InferenceTests/Fixtures").standardized

func fixture(_ name: String) -> String { fixtures.appendingPathComponent(name).path }

@Suite("ponder command line")
struct PonderCLITests {
    @Test func binaryIsBuilt() {
        #expect(FileManager.default.isExecutableFile(atPath: PonderProcess.executable.path))
    }

    @Test func helpListsOnlyBuiltCommandsWithExamples() throws {
        let help = try PonderProcess.run(["--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("inspect") && help.stdout.contains("tokenize"))
        #expect(help.stdout.contains("ponder inspect model.gguf"))
        #expect(help.stdout.contains("ponder tokenize --model model.gguf"))
        for command in ["inspect", "tokenize", "generate", "ask", "eval", "logits", "embed-image", "bench", "bench-kernels", "quantize"] {
            #expect(help.stdout.contains("  \(command)"), "help lists \(command)")
            let sub = try PonderProcess.run([command, "--help"])
            #expect(sub.status == 0 && sub.stdout.contains("Examples:"), "\(command)")
        }
    }

    @Test func benchKernelsRefusesATypeItCannotRead() throws {
        let result = try PonderProcess.run(["bench-kernels", "--types", "Q4_K,IQ2_XXS"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("'IQ2_XXS' is not a weight type Ponder can read"), "\(result.stderr)")
    }

    @Test func tokenizePrintsLlamaCppIds() throws {
        let model = fixture("tokenizers/bpe-llama-bpe.gguf")
        let tokenizer = try VocabularyTokenizer(file: GGUFFile(path: model))
        for (text, special) in [("Hello, world! 1234567", false), ("<|begin_of_text|>hi <|eot_id|>", true),
                                ("<|begin_of_text|>hi <|eot_id|>", false)] {
            var arguments = ["tokenize", "--model", model, text]
            if special { arguments.insert("--special", at: 1) }
            let result = try PonderProcess.run(arguments)
            #expect(result.status == 0 && result.stderr.isEmpty)
            let expected = tokenizer.encode(text, addSpecial: true, parseSpecial: special)
            #expect(result.stdout == expected.map(String.init).joined(separator: " ") + "\n")
        }
    }

    @Test func tokenizeWithTheChatTemplate() throws {
        let model = fixture("tokenizers/bpe-qwen2.gguf")
        let tokenizer = try VocabularyTokenizer(file: GGUFFile(path: model))
        let result = try PonderProcess.run(["tokenize", "--model", model, "--chat", "--system", "Be brief.", "Hi"])
        #expect(result.status == 0 && result.stderr.isEmpty)
        let prompt = "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
        #expect(result.stdout == tokenizer.encode(prompt, addSpecial: true, parseSpecial: true).map(String.init)
            .joined(separator: " ") + "\n")
        let bad = try PonderProcess.run(["tokenize", "--model", model, "--chat-template", "nonsense", "Hi"])
        #expect(bad.status != 0 && bad.stderr.contains("Unknown chat template 'nonsense'"))
        #expect(bad.stderr.contains("chatml") && bad.stderr.contains("llama3"))
    }

    @Test func inspectTextAndJSON() throws {
        let model = fixture("tokenizers/bpe-smollm.gguf")
        let text = try PonderProcess.run(["inspect", model])
        #expect(text.status == 0)
        #expect(text.stdout.contains("architecture      llama"))
        #expect(text.stdout.contains("pre-tokenizer smollm"))
        let json = try PonderProcess.run(["inspect", "--json", model])
        #expect(json.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let file = try GGUFFile(path: model)
        #expect(object["tensorCount"] as? Int == file.tensors.count)
        #expect(object["parameterCount"] as? Int == file.tensors.reduce(0) { $0 + $1.elementCount })
        #expect((object["tokenizer"] as? [String: Any])?["vocabularySize"] as? Int
                == (try file.stringArray("tokenizer.ggml.tokens").count))
    }

    @Test func logitsMatchLlamaCpp() throws {
        let model = fixture("models/llama-f32.gguf")
        let references = try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: fixture("models/references.json")))) as? [String: Any]
        let fixtures = try #require(references?["fixtures"] as? [[String: Any]])
        let entry = try #require(fixtures.first { ($0["file"] as? String) == "llama-f32.gguf" })
        let prompt = try #require((entry["prompt"] as? [Int]) ?? (references?["prompt"] as? [Int]))
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-logits-\(UUID().uuidString).f32")
        defer { try? FileManager.default.removeItem(at: out) }
        let result = try PonderProcess.run(["logits", "--model", model, "--tokens", prompt.map(String.init).joined(separator: " "),
                                            "--out", out.path])
        #expect(result.status == 0, "\(result.stderr)")
        let ours = try Data(contentsOf: out).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        let reference = try Data(contentsOf: URL(fileURLWithPath: fixture("models/llama-f32.logits.bin")))
            .withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        #expect(ours.count == reference.count && !ours.isEmpty)
        let peak = reference.map(abs).max() ?? 1
        let worst = zip(ours, reference).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst / peak <= 1e-3)

        let bad = try PonderProcess.run(["logits", "--model", model, "--tokens", "1 999999", "--out", out.path])
        #expect(bad.status != 0 && bad.stderr.contains("id 999999 is outside the vocabulary"))
    }

    @Test func generateStreamsTheGeneratorsText() async throws {
        let model = fixture("models/qwen2-f32.gguf")
        let file = try GGUFFile(path: model)
        let tokenizer = try VocabularyTokenizer(file: file)
        let generator = Generator(model: try loadTextModel(file: file, options: TextModelOptions(threadCount: 1)),
                                  tokenizer: tokenizer)
        var expected = ""
        for await event in generator.generate(GenerationPrompt(tokens: tokenizer.encode("the image")), parameters: .greedy,
                                              stop: StopCondition(maxTokens: 12)) {
            if case .finished(let result, _) = event { expected = result.text }
        }
        let greedy = try PonderProcess.run(["generate", "--model", model, "--temperature", "0", "--max-tokens", "12",
                                            "--threads", "1", "--quiet", "the image"])
        #expect(greedy.status == 0 && greedy.stderr.isEmpty, "\(greedy.stderr)")
        #expect(greedy.stdout == expected + "\n")

        let seeded = ["generate", "--model", model, "--seed", "11", "--max-tokens", "12", "the image"]
        let first = try PonderProcess.run(seeded), second = try PonderProcess.run(seeded)
        #expect(first.status == 0 && first.stdout == second.stdout)
        #expect(first.stderr.contains("12 generated") && first.stderr.contains("seed 11"))

        let bad = try PonderProcess.run(["generate", "--model", model, "--repeat-penalty", "0", "x"])
        #expect(bad.status != 0 && bad.stderr.contains("repetition penalty must be a finite number above 0"))
    }

    @Test func benchPrintsTheJSONContract() throws {
        let result = try PonderProcess.run(["bench", "--model", fixture("models/qwen2-f32.gguf"), "-p", "16", "-n", "4",
                                            "--batch", "2", "--depth", "8", "--repeat", "3", "--threads", "1",
                                            "--no-bandwidth", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        var lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 3)
        // The last line: the load, the peak memory and OpenBLAS's kernels.
        let load = try #require(try JSONSerialization.jsonObject(with: Data(lines.removeLast().utf8)) as? [String: Any])
        #expect(load["test"] as? String == "load" && (load["load_seconds"] as? Double ?? -1) > 0)
        #expect((load["peak_resident_bytes"] as? Int ?? 0) > 1 << 20 && load["repacked_bytes"] is Int && load["repack_seconds"] is Double)
        #expect(!(load["openblas_kernels"] as? String ?? "").isEmpty && load["model"] as? String == "qwen2 128K F32")
        var tests: [String] = []
        for line in lines {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            tests.append(try #require(object["test"] as? String))
            let best = try #require(object["tokens_per_second"] as? Double)
            let mean = try #require(object["mean_tokens_per_second"] as? Double)
            let sd = try #require(object["sd_tokens_per_second"] as? Double)
            let samples = try #require(object["samples_tokens_per_second"] as? [Double])
            #expect(samples.count == 3 && best == samples.max() && best > 0)
            #expect(abs(mean - samples.reduce(0, +) / 3) <= 1e-9 * mean && sd >= 0)
            #expect(object["threads"] as? Int == 1 && object["repeats"] as? Int == 3)
            #expect(object["model"] as? String == "qwen2 128K F32" && object["backend"] as? String == "CPU")
            #expect((object["model_size"] as? Int ?? 0) > 0 && (object["model_params"] as? Int ?? 0) > 0)
        }
        #expect(tests == ["pp16", "tg4"])
        let generation = try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as? [String: Any]
        #expect(generation?["batch"] as? Int == 2 && generation?["depth"] as? Int == 8)
    }

    /// The default output is llama-bench's markdown table, one row per test: --batch and
    /// --depth lists give one generation row per combination, depth by depth.
    @Test func benchPrintsALlamaBenchTableWithARowPerCombination() throws {
        let result = try PonderProcess.run(["bench", "--model", fixture("models/qwen2-f32.gguf"), "-p", "16", "-n", "4",
                                            "--batch", "1,2", "--depth", "0,8", "--repeat", "2", "--threads", "1",
                                            "--no-bandwidth"])
        #expect(result.status == 0, "\(result.stderr)")
        // The table, a blank line, then notes (load time, peak resident memory).
        let sections = result.stdout.components(separatedBy: "\n\n")
        let lines = sections[0].split(separator: "\n").map(String.init)
        try #require(lines.count == 7, "\(result.stdout)")
        let notes = sections.dropFirst().joined(separator: "\n")
        #expect(notes.contains("load: ") && notes.contains("peak resident memory: "), "\(result.stdout)")
        // OpenBLAS's kernels: never its SSE3 fallback on a CPU with AVX2 and FMA (Ponder restarts
        // itself with OPENBLAS_CORETYPE when an older OpenBLAS does not know the CPU).
        let kernels = try #require(notes.components(separatedBy: "\n").first { $0.hasPrefix("OpenBLAS kernels: ") })
        let flags = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
            .components(separatedBy: "\n").first { $0.hasPrefix("flags") }?.split(separator: " ").map(String.init) ?? []
        if flags.contains("avx2") && flags.contains("fma") {
            #expect(!["Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Atom"].contains(kernels.dropFirst(18).trimmingCharacters(in: .whitespaces)),
                    "\(kernels)")
        }
        func cells(_ line: String) -> [String] {
            line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
        }
        #expect(cells(lines[0]) == ["model", "size", "params", "backend", "threads", "test", "t/s"])
        #expect(lines[1].hasPrefix("| ---") && lines[1].hasSuffix(": |"))
        let rows = lines.dropFirst(2).map(cells)
        #expect(rows.map { $0[5] } == ["pp16", "tg4", "tg4 x2", "tg4 @ d8", "tg4 x2 @ d8"])
        for row in rows {
            #expect(row.count == 7)
            #expect(row[0] == "qwen2 128K F32" && row[1].hasSuffix(" MiB") && row[2].hasSuffix(" K"))
            #expect(row[3] == "CPU" && row[4] == "1")
            let parts = row[6].components(separatedBy: " ± ")
            #expect(parts.count == 2 && (Double(parts[0]) ?? 0) > 0 && Double(parts[1]) != nil, "\(row[6])")
        }
        #expect(lines[0].count == lines[1].count, "the header and the separator line up")
    }

    @Test func quantizeWritesALoadableModelAndASummary() throws {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-q8-\(UUID().uuidString).gguf").path
        defer { try? FileManager.default.removeItem(atPath: output) }
        let result = try PonderProcess.run(["quantize", fixture("models/llama-f32.gguf"), output, "--type", "q8_0"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.isEmpty, "no progress line when stderr is not a terminal")
        #expect(result.stdout.contains("(Q8_0)") && result.stdout.contains("16 Q8_0") && result.stdout.contains(" s\n"))
        let file = try GGUFFile(path: output)
        #expect(try file.int("general.file_type") == 7)
        _ = try loadTextModel(file: file)

        let bad = try PonderProcess.run(["quantize", fixture("models/llama-f32.gguf"), output, "--type", "Q3_K"])
        #expect(bad.status != 0 && bad.stdout.isEmpty)
        #expect(bad.stderr.contains("unknown quantization type 'Q3_K'; valid types are Q8_0, Q4_0, Q4_K_M, Q5_K_M, Q6_K, F16, BF16, F32"))
        let notGGUF = try PonderProcess.run(["quantize", fixture("quants/plans.json"), output, "--type", "Q8_0"])
        #expect(notGGUF.status != 0 && notGGUF.stderr.contains("plans.json: not a GGUF file"))
    }

    /// Bad input: one line on stderr naming the file, a non-zero status, nothing on stdout.
    @Test(arguments: [
        (["inspect", "/nonexistent/model.gguf"], "/nonexistent/model.gguf: cannot open the file: no such file or directory"),
        (["inspect", "#Package.swift"], "Package.swift: not a GGUF file: it starts with \"// s\" instead of \"GGUF\" (at byte 0)"),
        (["tokenize", "--model", "#quants", "hi"], "tokenizer.ggml.model"),
        (["inspect", "#truncated"], "tokenizer.ggml.tokens' is 3000, more than the 4394 bytes that remain in the file can hold (at byte 598)"),
        (["embed-image", "--mmproj", "#text-model", "--image", "#png", "--out", "/dev/null"],
         "text-llama.gguf: this is not a vision projector (mmproj) file"),
        (["embed-image", "--mmproj", "#mmproj", "--image", "#Package.swift", "--out", "/dev/null"],
         "Package.swift: not a JPEG, PNG or PPM image."),
        (["ask", "--model", "#text-model", "--mmproj", "#mmproj", "--image", "/nonexistent/cat.png", "hi"],
         "/nonexistent/cat.png"),
        (["ask", "--model", "#text-model", "--image", "#png", "hi"], "--image needs --mmproj"),
        (["bench", "--model", "#text-model", "--batch", "1,x"],
         "--batch: 'x' in '1,x' is not a whole number of at least 1; give one or a comma-separated list such as 1,2,4,8."),
        (["bench", "--model", "#text-model", "--batch", "4,0"], "--batch: '0' in '4,0' is not a whole number of at least 1"),
        (["bench", "--model", "#text-model", "--depth", "0,-5"], "--depth: '-5' in '0,-5' is not a whole number (0 or more)"),
        (["bench", "--model", "#text-model", "--depth", ""], "--depth is empty"),
        (["embed-image", "--mmproj", "#mmproj", "--image", "#png", "--out", "/dev/null", "--model", "#other-model"],
         "the projector produces 64-wide embeddings but the text model's embedding length is 16"),
    ])
    func badInputGivesOneClearLine(arguments: [String], message: String) throws {
        var arguments = arguments
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Package.swift").standardized.path
        // Test cases run in parallel: each gets its own file.
        let truncated = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-truncated-\(UUID().uuidString).gguf")
        let whole = try Data(contentsOf: URL(fileURLWithPath: fixture("tokenizers/spm-bpe.gguf")))
        try whole.prefix(5000).write(to: truncated)
        defer { try? FileManager.default.removeItem(at: truncated) }
        arguments = arguments.map {
            switch $0 {
            case "#Package.swift": package
            case "#quants": fixture("quants/quants.gguf")
            case "#truncated": truncated.path
            case "#text-model": fixture("vision/text-llama.gguf")
            case "#other-model": fixture("tokenizers/bpe-llama-bpe.gguf")
            case "#mmproj": fixture("vision/siglip-idefics3.gguf")
            case "#png": fixture("vision/large240x160.png")
            default: $0
            }
        }
        let result = try PonderProcess.run(arguments)
        #expect(result.status != 0)
        #expect(result.stdout.isEmpty)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(result.stderr)")
        #expect(result.stderr.contains(message), "\(result.stderr)")
        #expect(!result.stderr.contains("Fatal error") && !result.stderr.contains("Stack"))
    }

    @Test func embedImageWritesTheEncodersEmbeddings() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-embed-\(UUID().uuidString).f32")
        defer { try? FileManager.default.removeItem(at: out) }
        let result = try PonderProcess.run(["embed-image", "--mmproj", fixture("vision/siglip-idefics3.gguf"),
                                            "--image", fixture("vision/large240x160.png"), "--out", out.path,
                                            "--model", fixture("vision/text-llama.gguf"), "--threads", "1"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("wrote 28 × 64 embeddings, 2 × 3 tiles and an overview"))
        let written = try Data(contentsOf: out)
        let reference = try Data(contentsOf: URL(fileURLWithPath: fixture("vision/siglip-idefics3.large240x160.trained.f32.bin")))
        #expect(written.count == reference.count)
        let a = written.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        let b = reference.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        let peak = b.map(abs).max()!
        #expect(zip(a, b).map { abs($0 - $1) }.max()! <= 1e-4 * peak)
    }

    @Test func askStreamsAnAnswerAboutTheImage() throws {
        let result = try PonderProcess.run(["ask", "--model", fixture("vision/text-llama.gguf"),
                                            "--mmproj", fixture("vision/siglip-idefics3.gguf"),
                                            "--image", fixture("vision/portrait33x70.png"),
                                            "--chat-template", "smolvlm", "--temperature", "0", "--max-tokens", "5", "--context-length", "2048",
                                            "--threads", "1", "What is this?"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!result.stdout.isEmpty)
        // The image alone is 28 positions (2 × 3 tiles and an overview, 4 each).
        #expect(result.stderr.contains("5 generated"), "\(result.stderr)")
        let promptTokens = result.stderr.split(separator: " ").first.flatMap { Int($0) }
        #expect((promptTokens ?? 0) > 28, "\(result.stderr)")
    }

    @Test func benchTimesImageEncoding() throws {
        let result = try PonderProcess.run(["bench", "--model", fixture("vision/text-llama.gguf"),
                                            "--mmproj", fixture("vision/siglip-idefics3.gguf"),
                                            "--image", fixture("vision/square56.png"),
                                            "-p", "0", "-n", "0", "--repeat", "1", "--threads", "1", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let objects = result.stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        #expect(objects.count == 3, "\(result.stdout)")
        // Last, the load record.
        #expect(objects.last?["test"] as? String == "load" && objects.last?["model"] as? String == "llama 82K F32")
        // The image-prompt test: the image's rows prefilled (idefics3: 4 per tile and the overview).
        let prompt = objects.first
        let name = prompt?["test"] as? String ?? ""
        #expect(name.hasPrefix("img") && name.hasSuffix("+pp0"), "\(name)")
        let rows = Int(name.dropFirst(3).dropLast(4)) ?? 0
        #expect(rows > 0 && rows % 4 == 0, "\(name)")
        #expect((prompt?["tokens_per_second"] as? Double ?? 0) > 0)
        let object = objects.dropLast().last
        #expect(object?["test"] as? String == "image")
        #expect((object?["seconds"] as? Double ?? 0) > 0)
        #expect(object?["threads"] as? Int == 1)
        let samples = object?["samples_seconds"] as? [Double] ?? []
        #expect(samples.count == 1 && object?["mean_seconds"] as? Double == samples.first && object?["sd_seconds"] as? Double == 0)
        #expect(object?["model"] as? String == "clip idefics3 F32")
    }

    @Test func askJSONFollowsTheEventContract() throws {
        let result = try PonderProcess.run(["ask", "--model", fixture("vision/text-llama.gguf"),
                                            "--mmproj", fixture("vision/clip-mlp.gguf"),
                                            "--image", fixture("vision/tiny3x5.png"), "--strategy", "stage-beam",
                                            "--beam", "2", "--max-tokens", "4", "--seed", "3", "--threads", "1", "--context-length", "2048",
                                            "--json", "How many?"])
        #expect(result.status == 0, "\(result.stderr)")
        let objects = result.stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        let events = objects.compactMap { $0["event"] as? String }
        #expect(events.filter { $0 == "stage_started" }.count == 4)
        #expect(events.filter { $0 == "stage_chosen" }.count == 4)
        #expect(events.filter { $0 == "candidate_finished" }.count == 8)
        #expect(events.last == "done")
        let started = objects.first { $0["event"] as? String == "stage_started" }
        #expect(started?["stage"] as? String == "summary" && started?["candidates"] as? Int == 2)
        let finished = objects.first { $0["event"] as? String == "candidate_finished" }
        #expect(((finished?["tokens"] as? Int) ?? 0) <= 4 && finished?["text"] is String)
        let generated = objects.filter { $0["event"] as? String == "candidate_finished" }.compactMap { $0["tokens"] as? Int }.reduce(0, +)
        let chosen = objects.first { $0["event"] as? String == "stage_chosen" }
        #expect(chosen?["by"] as? String == "judge" && (chosen?["scores"] as? [Any])?.count == 2)
        let done = objects.first { $0["event"] as? String == "done" }
        let stats = done?["stats"] as? [String: Any]
        #expect(stats?["generated_tokens"] as? Int == generated && generated > 8 && stats?["prompt_tokens"] != nil)
        #expect((done?["stages"] as? [String: Any])?.count == 4)
        // The last line is the whole record.
        #expect(objects.last?["steps"] != nil)
    }

    @Test func askWithTheSelfJudgeComparesCandidatesWithTheImage() throws {
        let result = try PonderProcess.run(["ask", "--model", fixture("vision/text-llama.gguf"),
                                            "--mmproj", fixture("vision/clip-mlp.gguf"),
                                            "--image", fixture("vision/tiny3x5.png"), "--strategy", "best-of-n",
                                            "--beam", "3", "--judge", "self", "--max-tokens", "3", "--seed", "5",
                                            "--context-length", "2048", "--threads", "1", "--json", "What?"])
        #expect(result.status == 0, "\(result.stderr)")
        let chosen = result.stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }.first { $0["event"] as? String == "stage_chosen" }
        #expect(chosen?["stage"] as? String == "answer" && chosen?["by"] as? String == "judge")
        // A knockout of 3 candidates: 2 comparisons, so the wins add up to 2.
        let wins = (chosen?["scores"] as? [Double]) ?? []
        #expect(wins.count == 3 && wins.reduce(0, +) == 2)
    }

    @Test func theStageInstructionIsAddedUnlessTurnedOff() throws {
        func promptTokens(_ extra: [String]) throws -> Int {
            let result = try PonderProcess.run(["ask", "--model", fixture("vision/text-llama.gguf"), "--max-tokens", "1",
                                                "--context-length", "2048", "--threads", "1", "--seed", "1"] + extra + ["Why?"])
            #expect(result.status == 0, "\(result.stderr)")
            return result.stderr.split(separator: "\n").last.flatMap { $0.split(separator: " ").first }.flatMap { Int($0) } ?? -1
        }
        let plain = try promptTokens(["--no-stage-instruction"])
        let standard = try promptTokens([])
        let custom = try promptTokens(["--stage-instruction", "Use tags."])
        #expect(plain > 0 && standard > plain + 100 && custom > plain && custom < standard)
    }

    @Test(arguments: [["--strategy", "greedy"], ["--strategy", "best-of-n", "--judge", "logprob"],
                      ["--strategy", "stage-beam", "--judge", "self", "--beam", "4", "--keep", "2"],
                      ["--strategy", "stage-beam", "--judge", "first", "--beam", "2"]])
    func askRunsEveryStrategyOnAnImage(_ strategy: [String]) throws {
        let result = try PonderProcess.run(["ask", "--model", fixture("vision/text-llama.gguf"),
                                            "--mmproj", fixture("vision/siglip-idefics3.gguf"),
                                            "--image", fixture("vision/square56.png"), "--chat-template", "smolvlm",
                                            "--max-tokens", "3", "--seed", "2", "--threads", "1", "--context-length", "2048",
                                            "--json"] + strategy + ["What is this?"])
        #expect(result.status == 0, "\(result.stderr)")
        let objects = result.stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        let record = try #require(objects.last)
        #expect(record["strategy"] as? String == strategy[1])
        let steps = (record["steps"] as? [[String: Any]]) ?? []
        let stageBeam = strategy[1] == "stage-beam"
        #expect(steps.count == (stageBeam ? 4 : 1))
        if strategy.contains("--keep") {
            // Four candidates per stage, two kept as beams (one in the last stage).
            #expect(steps.map { ($0["candidates"] as? [Any])?.count } == [4, 4, 4, 4])
            #expect(steps.map { ($0["kept"] as? [Int])?.count } == [2, 2, 2, 1])
            #expect(objects.filter { $0["event"] as? String == "beams_kept" }.count == 3)
        }
        #expect(objects.contains { $0["event"] as? String == "done" })
        #expect(record["stopped"] as? Bool == false)
    }

    @Test func theNaiveSearchPrefillsEverythingAgain() throws {
        func run(_ extra: [String]) throws -> [String: Any] {
            let result = try PonderProcess.run(["ask", "--model", fixture("vision/text-llama.gguf"),
                                                "--mmproj", fixture("vision/siglip-idefics3.gguf"),
                                                "--image", fixture("vision/square56.png"), "--chat-template", "smolvlm",
                                                "--strategy", "stage-beam", "--beam", "3", "--judge", "self", "--max-tokens", "2",
                                                "--seed", "4", "--threads", "1", "--context-length", "2048", "--json"]
                                               + extra + ["What is this?"])
            #expect(result.status == 0, "\(result.stderr)")
            let done = result.stdout.split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }.first { $0["event"] as? String == "done" }
            return (done?["stats"] as? [String: Any]) ?? [:]
        }
        let shared = try run([]), naive = try run(["--naive"])
        let sharedPrompt = shared["prompt_tokens"] as? Int ?? 0, naivePrompt = naive["prompt_tokens"] as? Int ?? 0
        // Each of 4 stages × 3 candidates prefills the whole prompt (image included) again, and
        // each judge comparison its whole prompt; shared, both fork what is already there.
        #expect(sharedPrompt > 0 && naivePrompt > 3 * sharedPrompt, "shared \(sharedPrompt), naive \(naivePrompt)")
        #expect(shared["generated_tokens"] as? Int == naive["generated_tokens"] as? Int)
    }

    @Test func evalScoresEveryQuestionAndReportsTotals() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-eval-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.copyItem(atPath: fixture("vision/square56.png"), toPath: folder.appendingPathComponent("a.png").path)
        var lines: [String] = []
        for (index, type) in ["count", "colour", "count"].enumerated() {
            lines.append(#"{"id": "q\#(index)", "image": "a.png", "type": "\#(type)", "conversations": [{"from": "human", "value": "<image>\nWhat?"}, {"from": "gpt", "value": "<CONCLUSION>blue</CONCLUSION>"}]}"#)
        }
        let data = folder.appendingPathComponent("set.jsonl")
        try (lines.joined(separator: "\n") + "\n").write(to: data, atomically: true, encoding: .utf8)
        let result = try PonderProcess.run(["eval", "--data", data.path, "--model", fixture("vision/text-llama.gguf"),
                                            "--mmproj", fixture("vision/siglip-idefics3.gguf"), "--max-tokens", "3",
                                            "--limit", "2", "--threads", "1", "--context-length", "2048", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let objects = result.stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        #expect(objects.count == 3, "two questions (--limit 2) and the summary")
        #expect(objects.prefix(2).map { $0["id"] as? String } == ["q0", "q1"])
        #expect(objects.prefix(2).allSatisfy { $0["expected"] as? String == "blue" && $0["predicted"] is String })
        let summary = try #require(objects.last)
        let correct = objects.prefix(2).filter { $0["correct"] as? Bool == true }.count
        #expect(summary["questions"] as? Int == 2 && summary["correct"] as? Int == correct)
        let generated = objects.prefix(2).compactMap { $0["generated_tokens"] as? Int }.reduce(0, +)
        #expect(summary["generated_tokens"] as? Int == generated && generated > 0)
        #expect((summary["by_type"] as? [String: Any])?.keys.sorted() == ["colour", "count"])
        // A malformed line is one sentence naming the file and line.
        try "{}\n".write(to: data, atomically: true, encoding: .utf8)
        let bad = try PonderProcess.run(["eval", "--data", data.path, "--model", fixture("vision/text-llama.gguf")])
        #expect(bad.status != 0 && bad.stderr.contains("Line 1 of \(data.path)"), "\(bad.stderr)")
    }
}
