/// Where a model was found.
public enum ModelSource: String, Sendable, Codable, CaseIterable, Comparable {
    /// Ollama's store: manifests and blobs.
    case ollama
    /// The Hugging Face hub cache.
    case huggingface
    /// LM Studio's models folder.
    case lmstudio
    /// `$PONDER_MODELS` and `--models-dir` folders.
    case folder

    /// How the source is named in sentences: "Ollama's store", "the Hugging Face cache".
    public var title: String {
        switch self {
        case .ollama: "Ollama's store"
        case .huggingface: "the Hugging Face cache"
        case .lmstudio: "LM Studio's models"
        case .folder: "the model folders"
        }
    }

    public static func < (lhs: ModelSource, rhs: ModelSource) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// One model that `ponder models` lists: a text model file and the projector that goes with it.
public struct ModelStoreEntry: Sendable, Equatable {
    /// What `--model` takes: `gemma3:4b`, `org/name`, `org/name:Q4_K_M`, a file's name.
    public var name: String
    /// Other names that reach the same entry (`library/gemma3:4b`, `org/name:Q4_K_M` when the
    /// repository holds one model file).
    public var aliases: [String]
    public var source: ModelSource
    /// The text model's GGUF file.
    public var model: String
    /// The vision projector's GGUF file: a separate `mmproj` file, the model file itself when
    /// the vision tower is embedded in it, or nil for a text-only model.
    public var projector: String?
    /// Whether the vision tower lives in the model file (`projector == model`).
    public var projectorEmbedded: Bool
    /// `general.architecture` of the model file.
    public var family: String?
    /// The projector's `clip.projector_type`, or the family of an embedded vision tower.
    public var projectorType: String?
    /// `general.file_type` by name, or the model's most common tensor type.
    public var quantization: String?
    /// Bytes on disk: the model file, plus the projector file when it is a separate one.
    public var sizeBytes: Int

    public init(name: String, aliases: [String] = [], source: ModelSource, model: String, projector: String?,
                projectorEmbedded: Bool, family: String?, projectorType: String?, quantization: String?,
                sizeBytes: Int) {
        self.name = name
        self.aliases = aliases
        self.source = source
        self.model = model
        self.projector = projector
        self.projectorEmbedded = projectorEmbedded
        self.family = family
        self.projectorType = projectorType
        self.quantization = quantization
        self.sizeBytes = sizeBytes
    }

    /// Every name the entry answers to, its own first.
    public var names: [String] { [name] + aliases }
}

extension ModelStoreEntry: Encodable {
    private enum CodingKeys: String, CodingKey {
        case name, source, model, projector, family, quantization
        case projectorEmbedded = "projector_embedded", projectorType = "projector_type", sizeBytes = "size_bytes"
    }

    /// Snake-case keys; absent values are written as `null`, never left out.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(source.rawValue, forKey: .source)
        try container.encode(model, forKey: .model)
        try container.encode(projector, forKey: .projector)
        try container.encode(projectorEmbedded, forKey: .projectorEmbedded)
        try container.encode(family, forKey: .family)
        try container.encode(projectorType, forKey: .projectorType)
        try container.encode(quantization, forKey: .quantization)
        try container.encode(sizeBytes, forKey: .sizeBytes)
    }
}

/// A folder the store looks in.
public struct ModelStoreLocation: Sendable, Equatable {
    public var source: ModelSource
    public var path: String

    public init(source: ModelSource, path: String) {
        self.source = source
        self.path = path
    }

    /// Whether the folder exists now.
    public var exists: Bool { StoreFileSystem.isDirectory(path) }
}

/// A file or folder the listing passed over, and why (`--verbose` prints them).
public struct ModelStoreSkip: Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): skipped: \(reason)" }
}

/// What a scan of the store found.
public struct ModelListing: Sendable {
    public var entries: [ModelStoreEntry]
    public var skipped: [ModelStoreSkip]
    public var locations: [ModelStoreLocation]
}
