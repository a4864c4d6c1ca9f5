import Foundation
import GGUF
import Testing

/// `ponder convert` through the built binary: the summary line, the files written, and
/// one-line errors with a non-zero exit status.
@Suite("ponder convert command")
struct ConvertCommandTests {
    static func temporaryFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-convert-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func helpHasExamplesAndListsFamiliesAndTypes() throws {
        let help = try PonderProcess.run(["convert", "--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("Examples:") && help.stdout.contains("ponder convert"))
        #expect(help.stdout.contains("LlamaForCausalLM") && help.stdout.contains("Idefics3ForConditionalGeneration"))
        #expect(help.stdout.contains("Q8_0, Q4_0, Q4_K_M, Q5_K_M, Q6_K, F16, BF16, F32"))
        #expect(try PonderProcess.run(["--help"]).stdout.contains("  convert"))
    }

    @Test func convertsAVisionCheckpointToTwoFiles() throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("smolvlm.gguf").path
        let result = try PonderProcess.run(["convert", fixture("convert/smolvlm"), "--out", out, "--type", "F16"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.hasPrefix("converted llama to F16: \(out) (21 tensors"))
        #expect(result.stderr.contains("mmproj-smolvlm.gguf (38 tensors"))
        #expect(result.stderr.components(separatedBy: "\n").filter { !$0.isEmpty }.count == 1)
        #expect(try GGUFFile(path: out).architecture == "llama")
        #expect(try GGUFFile(path: folder.appendingPathComponent("mmproj-smolvlm.gguf").path).architecture == "clip")
    }

    @Test(arguments: [
        (["--type", "Q4_K"], "Error: --type: output type 'Q4_K' is not supported (supported: Q8_0, Q4_0, Q4_K_M, Q5_K_M, Q6_K, F16, BF16, F32)\n"),
        (["--type", "F16", "--out-missing"], nil),
    ] as [([String], String?)])
    func refusesBadArguments(extra: [String], expected: String?) throws {
        let result = try PonderProcess.run(["convert", fixture("convert/qwen2"), "--out", NSTemporaryDirectory() + "ponder-never-written.gguf"] + extra)
        #expect(result.status != 0)
        if let expected { #expect(result.stderr == expected) }
        #expect(!FileManager.default.fileExists(atPath: NSTemporaryDirectory() + "ponder-never-written.gguf"))
    }

    @Test func aFolderWithoutConfigIsOneLine() throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let result = try PonderProcess.run(["convert", folder.path, "--out", folder.appendingPathComponent("x.gguf").path])
        #expect(result.status != 0)
        #expect(result.stderr == "Error: \(folder.path)/config.json: the file is missing\n")
    }
}
