import GGUF

/// What `ponder inspect` reports about a GGUF file: a text model, a vision projector (mmproj),
/// or anything else that parses.
public struct ModelSummary: Sendable, Codable, Equatable {
    public struct TypeUsage: Sendable, Codable, Equatable {
        public var type: String
        public var tensors: Int
        public var bytes: Int
    }

    public struct TokenizerInfo: Sendable, Codable, Equatable {
        /// `tokenizer.ggml.model`: `gpt2` (byte-level BPE), `llama` (SentencePiece), …
        public var kind: String
        /// `tokenizer.ggml.pre`, for BPE vocabularies.
        public var preTokenizer: String?
        public var vocabularySize: Int
        public var mergeCount: Int?
        public var bosTokenID: Int?
        public var eosTokenID: Int?
    }

    public struct ProjectorInfo: Sendable, Codable, Equatable {
        /// `clip.projector_type` (`mlp` for legacy LLaVA files that lack the key).
        public var projectorType: String
        public var imageSize: Int?
        public var patchSize: Int?
        public var embeddingLength: Int?
        public var blockCount: Int?
    }

    public var file: String
    public var ggufVersion: Int
    public var fileSize: Int
    public var architecture: String?
    public var name: String?
    public var parameterCount: Int
    public var fileType: String?
    public var contextLength: Int?
    public var embeddingLength: Int?
    public var blockCount: Int?
    public var headCount: Int?
    public var headCountKV: Int?
    public var tokenizer: TokenizerInfo?
    /// The chat-template family llama.cpp would pick (`chatml` with a warning when unknown).
    public var chatTemplate: String?
    public var chatTemplateWarning: String?
    public var projector: ProjectorInfo?
    public var tensorCount: Int
    public var metadataCount: Int
    public var typeUsage: [TypeUsage]

    public init(file: GGUFFile) throws(GGUFError) {
        self.file = file.path
        ggufVersion = Int(file.version)
        fileSize = file.fileSize
        architecture = try file.optionalString("general.architecture")
        name = try file.optionalString("general.name")
        parameterCount = file.tensors.reduce(0) { $0 + $1.elementCount }
        fileType = try file.optionalInt("general.file_type").map(ModelFileType.name)
        tensorCount = file.tensors.count
        metadataCount = file.metadata.count

        var usage: [GGMLType: (tensors: Int, bytes: Int)] = [:]
        for tensor in file.tensors {
            usage[tensor.type, default: (0, 0)].tensors += 1
            usage[tensor.type, default: (0, 0)].bytes += tensor.byteCount
        }
        typeUsage = usage.sorted { $0.value.bytes > $1.value.bytes || ($0.value.bytes == $1.value.bytes && $0.key.rawValue < $1.key.rawValue) }
            .map { TypeUsage(type: $0.key.name, tensors: $0.value.tensors, bytes: $0.value.bytes) }

        if let architecture, architecture != "clip" {
            contextLength = try file.optionalInt("\(architecture).context_length")
            embeddingLength = try file.optionalInt("\(architecture).embedding_length")
            blockCount = try file.optionalInt("\(architecture).block_count")
            headCount = try file.optionalInt("\(architecture).attention.head_count")
            headCountKV = try file.optionalInt("\(architecture).attention.head_count_kv") ?? headCount
        }

        if let kind = try file.optionalString("tokenizer.ggml.model") {
            tokenizer = TokenizerInfo(
                kind: kind,
                preTokenizer: try file.optionalString("tokenizer.ggml.pre"),
                vocabularySize: try file.optionalArray("tokenizer.ggml.tokens")?.count ?? 0,
                mergeCount: try file.optionalArray("tokenizer.ggml.merges")?.count,
                bosTokenID: try file.optionalInt("tokenizer.ggml.bos_token_id"),
                eosTokenID: try file.optionalInt("tokenizer.ggml.eos_token_id"))
            let detection = ChatTemplateFamily.detect(template: try file.optionalString("tokenizer.chat_template"))
            chatTemplate = detection.family.name
            chatTemplateWarning = detection.warning
        }

        if architecture == "clip" {
            projector = ProjectorInfo(
                projectorType: try file.optionalString("clip.projector_type") ?? "mlp",
                imageSize: try file.optionalInt("clip.vision.image_size"),
                patchSize: try file.optionalInt("clip.vision.patch_size"),
                embeddingLength: try file.optionalInt("clip.vision.embedding_length"),
                blockCount: try file.optionalInt("clip.vision.block_count"))
        } else if architecture == "mllama", file.value(forKey: "mllama.vision.image_size") != nil {
            // An mllama vision tower: a projector file, or Ollama's one-file model.
            let local = try file.optionalInt("mllama.vision.block_count")
            let global = try file.optionalInt("mllama.vision.global.block_count")
            projector = ProjectorInfo(
                projectorType: "mllama",
                imageSize: try file.optionalInt("mllama.vision.image_size"),
                patchSize: try file.optionalInt("mllama.vision.patch_size"),
                embeddingLength: try file.optionalInt("mllama.vision.embedding_length"),
                blockCount: local.map { $0 + (global ?? 0) })
        }
    }
}
