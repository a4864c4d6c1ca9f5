import Foundation
import Testing
@testable import Inference

/// Builds safetensors bytes: the 8-byte header length, the JSON header, the data.
struct SafetensorsBuilder {
    var tensors: [(name: String, dtype: String, shape: [Int], data: [UInt8])] = []
    var metadata: [String: String]? = ["format": "pt"]

    mutating func add(_ name: String, shape: [Int], values: [Float]) {
        var bytes: [UInt8] = []
        for value in values { withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
        tensors.append((name, "F32", shape, bytes))
    }

    func header() -> String {
        var entries: [String] = []
        if let metadata {
            let pairs = metadata.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\"\($0.value)\"" }
            entries.append("\"__metadata__\":{\(pairs.joined(separator: ","))}")
        }
        var offset = 0
        for tensor in tensors {
            entries.append("\"\(tensor.name)\":{\"dtype\":\"\(tensor.dtype)\",\"shape\":\(tensor.shape),\"data_offsets\":[\(offset),\(offset + tensor.data.count)]}")
            offset += tensor.data.count
        }
        return "{" + entries.joined(separator: ",") + "}"
    }

    func bytes(header text: String? = nil) -> [UInt8] {
        var json = Array((text ?? header()).utf8)
        while json.count % 8 != 0 { json.append(0x20) }
        var out: [UInt8] = []
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out += json
        for tensor in tensors { out += tensor.data }
        return out
    }
}

@Suite("Safetensors reading")
struct SafetensorsTests {
    static func sample() -> SafetensorsBuilder {
        var builder = SafetensorsBuilder()
        builder.add("a.weight", shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        builder.add("b.bias", shape: [3], values: [-1, 0.5, 7])
        builder.tensors.append(("c.half", "BF16", [2], [0x80, 0x3F, 0x00, 0xC0]))   // 1, -2
        return builder
    }

    @Test("a well-formed file parses: dtypes, shapes, offsets, metadata")
    func parses() throws {
        let file = try SafetensorsFile(copying: Self.sample().bytes(), name: "sample.safetensors")
        #expect(file.tensors.map(\.name) == ["a.weight", "b.bias", "c.half"])
        let a = try #require(file.tensor(named: "a.weight"))
        #expect(a.shape == [2, 3] && a.dataType == .f32 && a.byteCount == 24)
        let data = file.data(for: a)
        #expect(data.loadUnaligned(fromByteOffset: 20, as: Float.self) == 6)
        #expect(file.metadata == ["format": "pt"])
        #expect(file.tensor(named: "c.half")?.dataType == .bf16)
    }

    static let corruptions: [(String, @Sendable (SafetensorsBuilder) -> [UInt8], String)] = [
        ("empty", { _ in [] }, "fewer than the 8-byte header length"),
        ("header length past the end", { b in var x = b.bytes(); x[0] = 0xFF; x[1] = 0xFF; return x }, "only"),
        ("header length of 2^63", { b in var x = b.bytes(); x[7] = 0x80; return x }, "header length"),
        ("not JSON", { b in b.bytes(header: "{\"a.weight\": [oops") }, "not valid JSON"),
        ("JSON but not an object", { b in b.bytes(header: "[1, 2, 3]") }, "not a JSON object"),
        ("offsets past the data", { b in b.bytes(header: b.header().replacingOccurrences(of: "[24,36]", with: "[24,3600]")) },
         "'b.bias' has data ending at byte 3600"),
        ("offsets backwards", { b in b.bytes(header: b.header().replacingOccurrences(of: "[24,36]", with: "[36,24]")) },
         "'b.bias' has data_offsets [36, 24] that run backwards"),
        ("byte count not the shape's", { b in b.bytes(header: b.header().replacingOccurrences(of: "[2, 3]", with: "[2,4]")) },
         "'a.weight' has 24 bytes of data, but shape [2, 4] of F32 takes 32"),
        ("overlapping tensors", { b in b.bytes(header: b.header().replacingOccurrences(of: "[24,36]", with: "[12,24]")
            .replacingOccurrences(of: "\"shape\":[3]", with: "\"shape\":[3]")) }, "overlaps the data of tensor 'a.weight'"),
        ("negative shape", { b in b.bytes(header: b.header().replacingOccurrences(of: "[2, 3]", with: "[-2,-3]")) },
         "'a.weight' has no valid shape"),
        ("huge shape", { b in b.bytes(header: b.header().replacingOccurrences(of: "[2, 3]", with: "[4294967296,4294967296,4294967296]")) },
         "'a.weight' has a shape"),
        ("unknown dtype", { b in b.bytes(header: b.header().replacingOccurrences(of: "\"BF16\"", with: "\"Q9\"")) },
         "'c.half' has data type Q9"),
        ("a tensor that is not an object", { b in b.bytes(header: "{\"x\": 5}") }, "'x' is not described by an object"),
        ("metadata that is not strings", { b in b.bytes(header: "{\"__metadata__\": {\"k\": 1}}") }, "__metadata__ key 'k'"),
    ]

    @Test("a corrupt file gives one sentence naming the file (and tensor)", arguments: 0..<corruptions.count)
    func corrupt(index: Int) {
        let (label, mutate, expected) = Self.corruptions[index]
        #expect(throws: ConvertError.self, "\(label)") {
            try SafetensorsFile(copying: mutate(Self.sample()), name: "bad.safetensors")
        }
        do {
            _ = try SafetensorsFile(copying: mutate(Self.sample()), name: "bad.safetensors")
        } catch {
            #expect(error.description.hasPrefix("bad.safetensors: "), "\(label): \(error)")
            #expect(error.description.contains(expected), "\(label): \(error)")
            #expect(!error.description.contains("\n"))
        }
    }

    @Test("every truncation and thousands of random byte flips give an error or a valid file, never a crash")
    func fuzz() {
        let original = Self.sample().bytes()
        var outcomes = [0, 0]
        for length in 0..<original.count {
            do { _ = try SafetensorsFile(copying: Array(original[0..<length]), name: "t"); outcomes[0] += 1 } catch { outcomes[1] += 1 }
        }
        var random = SplitMix64(seed: 7)
        for _ in 0..<3000 {
            var bytes = original
            for _ in 0..<(1 + Int(random.next() % 4)) {
                let position = Int(random.next() % UInt64(bytes.count))
                bytes[position] = UInt8(truncatingIfNeeded: random.next())
            }
            do {
                let file = try SafetensorsFile(copying: bytes, name: "f")
                for tensor in file.tensors { _ = file.data(for: tensor).reduce(0, &+) }   // in bounds
                outcomes[0] += 1
            } catch {
                outcomes[1] += 1
            }
        }
        #expect(outcomes[1] > 0)
    }

    @Test("a sharded checkpoint reads through its index; a tensor missing from its shard is named")
    func shards() throws {
        let folder = try ConvertFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        var first = SafetensorsBuilder(), second = SafetensorsBuilder()
        first.add("x", shape: [2], values: [1, 2])
        second.add("y", shape: [1], values: [3])
        try Data(first.bytes()).write(to: folder.appendingPathComponent("model-00001-of-00002.safetensors"))
        try Data(second.bytes()).write(to: folder.appendingPathComponent("model-00002-of-00002.safetensors"))
        let index = #"{"metadata": {}, "weight_map": {"x": "model-00001-of-00002.safetensors", "y": "model-00002-of-00002.safetensors"}}"#
        try Data(index.utf8).write(to: folder.appendingPathComponent("model.safetensors.index.json"))
        let checkpoint = try SafetensorsCheckpoint(folder: folder.path)
        #expect(checkpoint.tensorNames == ["x", "y"])
        #expect(try checkpoint.tensor("y").file.path.hasSuffix("00002-of-00002.safetensors"))

        let broken = index.replacingOccurrences(of: "\"y\": \"model-00002", with: "\"z\": \"model-00002")
        try Data(broken.utf8).write(to: folder.appendingPathComponent("model.safetensors.index.json"))
        #expect(throws: ConvertError(file: folder.path + "/model-00002-of-00002.safetensors", kind: .missingTensor("z"))) {
            try SafetensorsCheckpoint(folder: folder.path)
        }
    }
}
