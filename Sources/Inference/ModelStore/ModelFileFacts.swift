import GGUF

/// What the store needs to know about one GGUF file, read from its header and metadata only
/// (the file is mapped, its tensor data never touched).
struct ModelFileFacts: Sendable, Equatable {
    var path: String
    var size: Int
    /// `general.architecture`.
    var architecture: String?
    /// `general.file_type` by name (`Q4_K_M`), else the type holding the most tensor bytes.
    var quantization: String?
    /// For a projector: `clip.projector_type` (`mlp` when a clip file lacks it), or the
    /// architecture of a non-clip projector (`mllama`).
    var projectorType: String?
    /// `<architecture>.embedding_length` of a text model.
    var embeddingLength: Int?
    /// `clip.vision.projection_dim`: the width a projector hands the text model, when written.
    var projectionWidth: Int?
    /// Whether a text model's file also holds a vision encoder: tensors named `v.…` or `mm.…`,
    /// or `….vision.…` metadata keys (Ollama's one-file gemma3, mllama, qwen2.5vl).
    var holdsVision: Bool

    /// A clip file: a projector, never a model of its own.
    var isClip: Bool { architecture == "clip" }

    /// Reads the facts of the regular file at `path`. The caller has checked with `stat` that
    /// it is a regular file, so opening it cannot block (a FIFO would).
    static func read(path: String, size: Int) -> Result<ModelFileFacts, StoreProblem> {
        let file: GGUFFile
        do {
            file = try GGUFFile(path: path)
        } catch {
            return .failure(StoreProblem("not a readable GGUF file: \(error.message)"))
        }
        let architecture = file.architecture
        var facts = ModelFileFacts(path: path, size: size, architecture: architecture, quantization: nil,
                                   projectorType: nil, embeddingLength: nil, projectionWidth: nil, holdsVision: false)
        facts.quantization = quantization(of: file)
        if architecture == "clip" {
            facts.projectorType = (try? file.optionalString("clip.projector_type"))
                ?? (try? file.optionalString("clip.vision.projector_type")) ?? "mlp"
            facts.projectionWidth = (try? file.optionalInt("clip.vision.projection_dim")) ?? nil
        } else {
            if let architecture {
                facts.embeddingLength = (try? file.optionalInt("\(architecture).embedding_length")) ?? nil
            }
            facts.holdsVision = holdsVision(file)
            if facts.holdsVision { facts.projectorType = (try? file.optionalString("clip.projector_type")) ?? architecture }
        }
        return .success(facts)
    }

    /// The name of `general.file_type`, or the tensor type that holds the most bytes.
    static func quantization(of file: GGUFFile) -> String? {
        if let value = (try? file.optionalInt("general.file_type")) ?? nil {
            let name = ModelFileType.name(value)
            if !name.hasPrefix("unknown") { return name }
        }
        var bytes: [GGMLType: Int] = [:]
        for tensor in file.tensors { bytes[tensor.type, default: 0] += tensor.byteCount }
        return bytes.max { $0.value < $1.value || ($0.value == $1.value && $0.key.rawValue > $1.key.rawValue) }?.key.name
    }

    /// Whether a non-clip file carries vision tensors or vision metadata besides its text model.
    static func holdsVision(_ file: GGUFFile) -> Bool {
        if ChatVisionEncoder.holdsVision(file) { return true }
        if file.tensors.contains(where: { $0.name.hasPrefix("v.") || $0.name.hasPrefix("mm.") }) { return true }
        return file.metadata.contains { $0.key.contains(".vision.") }
    }
}
