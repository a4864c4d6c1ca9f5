import Foundation

/// A Hugging Face checkpoint folder, read for conversion: `config.json` (decoded), the
/// tokenizer files, the chat template, the image processor settings and the safetensors
/// weights (mapped, not read).
public struct HFCheckpoint: @unchecked Sendable {
    public let folder: String
    public let config: HFConfig
    public let weights: SafetensorsCheckpoint
    /// `tokenizer.json`, `tokenizer_config.json`, `generation_config.json`, when present.
    let tokenizer: JSONFile?
    let tokenizerConfig: JSONFile?
    let generationConfig: JSONFile?
    /// `preprocessor_config.json` merged with `processor_config.json` (its `image_processor`
    /// lifted to the top), as llama.cpp reads them.
    let preprocessor: [String: Any]
    /// From `tokenizer_config.json`'s `chat_template`, else `chat_template.jinja`, else
    /// `chat_template.json` (llama.cpp's order).
    public let chatTemplate: String?
    /// `README.md` (the model card), when present.
    public let readme: String?

    public init(folder: String) throws(ConvertError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ConvertError(file: folder, kind: .cannotOpen(reason: "it is not a folder (give the Hugging Face checkpoint's folder)"))
        }
        self.folder = folder
        let configPath = folder + "/config.json"
        guard let configData = FileManager.default.contents(atPath: configPath) else {
            throw ConvertError(file: configPath, kind: .missingFile)
        }
        do {
            config = try JSONDecoder().decode(HFConfig.self, from: configData)
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            let key = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw ConvertError(file: configPath, kind: .invalidValue(key: key, value: "of the wrong type",
                                                                     reason: context.debugDescription.lowercased()))
        } catch {
            throw ConvertError(file: configPath, kind: .invalidJSON(reason: "it cannot be decoded"))
        }
        tokenizer = try JSONFile.optional(folder + "/tokenizer.json")
        tokenizerConfig = try JSONFile.optional(folder + "/tokenizer_config.json")
        generationConfig = try JSONFile.optional(folder + "/generation_config.json")
        var preprocessor: [String: Any] = [:]
        if let file = try JSONFile.optional(folder + "/preprocessor_config.json") {
            preprocessor.merge(file.root) { $1 }
        }
        if let file = try JSONFile.optional(folder + "/processor_config.json") {
            preprocessor.merge(file.root) { $1 }
            if let nested = file.root["image_processor"] as? [String: Any] { preprocessor.merge(nested) { $1 } }
        }
        self.preprocessor = preprocessor
        chatTemplate = try Self.chatTemplate(folder: folder, tokenizerConfig: tokenizerConfig)
        readme = (try? String(contentsOfFile: folder + "/README.md", encoding: .utf8))
        weights = try SafetensorsCheckpoint(folder: folder)
    }

    private static func chatTemplate(folder: String, tokenizerConfig: JSONFile?) throws(ConvertError) -> String? {
        if let value = tokenizerConfig?.root["chat_template"] {
            if let text = value as? String { return text }
            if let named = value as? [[String: Any]] {
                return (named.first { $0["name"] as? String == "default" } ?? named.first)?["template"] as? String
            }
        }
        if let text = try? String(contentsOfFile: folder + "/chat_template.jinja", encoding: .utf8) { return text }
        if let file = try JSONFile.optional(folder + "/chat_template.json") {
            return file.root["chat_template"] as? String
        }
        return nil
    }

    /// The file a path error should name.
    func path(_ name: String) -> String { folder + "/" + name }

    /// A key of the image processor settings, or an error naming the file.
    func preprocessorFloats(_ key: String) throws(ConvertError) -> [Float] {
        guard let values = preprocessor[key] as? [Any] else {
            throw ConvertError(file: path("preprocessor_config.json"), kind: .missingKey(key))
        }
        let numbers = values.compactMap { ($0 as? NSNumber)?.floatValue }
        guard numbers.count == values.count, !numbers.isEmpty else {
            throw ConvertError(file: path("preprocessor_config.json"),
                               kind: .invalidValue(key: key, value: "\(values)", reason: "it must be a list of numbers"))
        }
        return numbers
    }

    /// `preprocessor[outer][inner]` as an integer, when present.
    func preprocessorInt(_ outer: String, _ inner: String) -> Int? {
        ((preprocessor[outer] as? [String: Any])?[inner] as? NSNumber)?.intValue
    }

    /// Whether the model card or the config names LLaVA-CoT (the four-stage format).
    public var isLLaVACoT: Bool {
        let marks = ["llava-cot", "llava-o1", "llama-3.2v-11b-cot"]
        let texts = [config.nameOrPath ?? "", readme ?? ""].map { $0.lowercased() }
        return texts.contains { text in marks.contains { text.contains($0) } }
    }
}

extension HFConfig {
    /// A required integer, or an error naming `config.json` and the key (`prefix` for nested configs).
    func require(_ value: Int?, _ key: String, in checkpoint: HFCheckpoint, prefix: String = "") throws(ConvertError) -> Int {
        guard let value else { throw ConvertError(file: checkpoint.path("config.json"), kind: .missingKey(prefix + key)) }
        guard value > 0 else {
            throw ConvertError(file: checkpoint.path("config.json"),
                               kind: .invalidValue(key: prefix + key, value: "\(value)", reason: "it must be positive"))
        }
        return value
    }
}
