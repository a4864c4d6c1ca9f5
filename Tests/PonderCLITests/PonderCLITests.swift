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
        for absent in ["  ask ", "  chat ", "  eval ", "  embed-image "] {
            #expect(!help.stdout.contains(absent), "help lists \(absent)")
        }
        for command in ["inspect", "tokenize", "logits", "bench"] {
            let sub = try PonderProcess.run([command, "--help"])
            #expect(sub.status == 0 && sub.stdout.contains("Examples:"), "\(command)")
        }
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

    /// Bad input: one line on stderr naming the file, a non-zero status, nothing on stdout.
    @Test(arguments: [
        (["inspect", "/nonexistent/model.gguf"], "/nonexistent/model.gguf: cannot open the file: no such file or directory"),
        (["inspect", "#Package.swift"], "Package.swift: not a GGUF file: it starts with \"// s\" instead of \"GGUF\" (at byte 0)"),
        (["tokenize", "--model", "#quants", "hi"], "tokenizer.ggml.model"),
        (["inspect", "#truncated"], "tokenizer.ggml.tokens' is 3000, more than the 4394 bytes that remain in the file can hold (at byte 598)"),
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
}
