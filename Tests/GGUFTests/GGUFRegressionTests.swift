import Foundation
import Testing
import GGUF

/// Inputs that once crashed, hung or misbehaved under the fuzzer (Scripts/fuzz-gguf.sh) or were
/// written by hand to cover an edge. Each must now parse or fail with a `GGUFError`, quickly.
private func regressionFiles() -> [URL] {
    guard let folder = Bundle.module.url(forResource: "Regressions", withExtension: nil),
          let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { return [] }
    return names.sorted().filter { !$0.hasPrefix(".") && $0 != "README.md" }.map { folder.appendingPathComponent($0) }
}

@Test func regressionCorpusIsPresent() {
    #expect(regressionFiles().count >= 5)
}

@Test(arguments: regressionFiles())
func regressionInputParsesOrFailsCleanly(url: URL) throws {
    let bytes = try [UInt8](Data(contentsOf: url))
    do {
        let file = try GGUFFile(bytes: bytes, name: url.lastPathComponent)
        // A file that parses must expose every tensor's data in bounds.
        for tensor in file.tensors {
            #expect(file.data(for: tensor).count == tensor.byteCount)
            #expect(tensor.fileOffset + tensor.byteCount <= file.fileSize)
        }
    } catch {
        #expect(error.description.hasPrefix(url.lastPathComponent + ": "))
    }
}
