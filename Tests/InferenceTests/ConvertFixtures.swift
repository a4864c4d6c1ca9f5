import Foundation
import GGUF
@testable import Inference

/// The `ponder convert` fixtures (`Scripts/make_convert_fixtures.py`): tiny Hugging Face
/// checkpoints and what llama.cpp's `convert_hf_to_gguf.py` wrote for each, plus
/// transformers' logits and HF `tokenizers` ids.
enum ConvertFixtures {
    static let directory: URL = {
        guard let fixtures = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
            fatalError("the test bundle has no Fixtures folder")
        }
        return fixtures.appendingPathComponent("convert")
    }()

    /// references.json, as parsed JSON.
    nonisolated(unsafe) static let references: [String: Any] = {
        do {
            let data = try Data(contentsOf: directory.appendingPathComponent("references.json"))
            return try JSONSerialization.jsonObject(with: data) as! [String: Any]
        } catch {
            fatalError("cannot read the convert references: \(error)")
        }
    }()

    static var fixtures: [[String: Any]] { references["fixtures"] as! [[String: Any]] }
    static var names: [String] { fixtures.map { $0["name"] as! String } }
    static func fixture(_ name: String) -> [String: Any] { fixtures.first { $0["name"] as? String == name }! }

    /// "name/TYPE" for every output llama.cpp was run at.
    static var outputs: [String] {
        fixtures.flatMap { fixture in
            (fixture["outputs"] as! [String: Any]).keys.sorted().map { "\(fixture["name"] as! String)/\($0)" }
        }
    }

    static func folder(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// A fresh temporary folder, removed by the caller.
    static func temporaryFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-convert-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Converts fixture `name` at `type` into `folder`; returns the text file's path.
    @discardableResult
    static func convert(_ name: String, type: GGMLType, into folder: URL) throws -> String {
        let path = folder.appendingPathComponent("\(name)-\(type.name).gguf").path
        _ = try HFConverter.convert(folder: Self.folder(name), options: ConvertOptions(outputPath: path, type: type))
        return path
    }

    /// FNV-1a 64 of `bytes`, as lowercase hex (the script's `fnv1a64`).
    static func fnv1a64(_ bytes: UnsafeRawBufferPointer) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        let text = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - text.count) + text
    }

    /// A metadata value in the form references.json records it: type name and a JSON value.
    static func recorded(_ value: GGUFValue) -> (type: String, value: Any) {
        switch value {
        case .uint8(let v): return ("uint8", Double(v))
        case .int8(let v): return ("int8", Double(v))
        case .uint16(let v): return ("uint16", Double(v))
        case .int16(let v): return ("int16", Double(v))
        case .uint32(let v): return ("uint32", Double(v))
        case .int32(let v): return ("int32", Double(v))
        case .uint64(let v): return ("uint64", Double(v))
        case .int64(let v): return ("int64", Double(v))
        case .float32(let v): return ("float32", Double(v))
        case .float64(let v): return ("float64", v)
        case .bool(let v): return ("bool", v)
        case .string(let v): return ("string", v)
        case .array(let array):
            switch array {
            case .string(let a): return ("array<string>", a)
            case .bool(let a): return ("array<bool>", a)
            default:
                let type = recorded(GGUFValue.first(of: array) ?? .int32(0)).type
                return ("array<\(type)>", (array.floats ?? []).map(Double.init))
            }
        }
    }

    /// Whether a recorded reference value equals `value` (type and value).
    static func matches(_ reference: [String: Any], _ value: GGUFValue) -> Bool {
        let mine = recorded(value)
        var type = reference["type"] as? String ?? "?"
        if type == "array" { type = "array<\(reference["element"] as? String ?? "?")>" }
        guard type == mine.type else { return false }
        switch mine.value {
        case let text as String: return reference["value"] as? String == text
        case let flag as Bool: return reference["value"] as? Bool == flag
        case let number as Double: return (reference["value"] as? NSNumber)?.doubleValue == number
        case let strings as [String]: return reference["value"] as? [String] == strings
        case let flags as [Bool]: return reference["value"] as? [Bool] == flags
        case let numbers as [Double]: return (reference["value"] as? [NSNumber])?.map(\.doubleValue) == numbers
        default: return false
        }
    }
}

extension GGUFValue {
    /// The first element of a numeric array as a scalar value (for its type name).
    static func first(of array: GGUFArray) -> GGUFValue? {
        switch array {
        case .uint8(let a): return a.first.map { .uint8($0) }
        case .int8(let a): return a.first.map { .int8($0) }
        case .uint16(let a): return a.first.map { .uint16($0) }
        case .int16(let a): return a.first.map { .int16($0) }
        case .uint32(let a): return a.first.map { .uint32($0) } ?? .uint32(0)
        case .int32(let a): return a.first.map { .int32($0) } ?? .int32(0)
        case .float32(let a): return a.first.map { .float32($0) } ?? .float32(0)
        case .uint64(let a): return a.first.map { .uint64($0) }
        case .int64(let a): return a.first.map { .int64($0) }
        case .float64(let a): return a.first.map { .float64($0) }
        default: return nil
        }
    }
}
