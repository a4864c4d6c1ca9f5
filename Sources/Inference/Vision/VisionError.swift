import GGUF

/// The error of vision-projector loading, image preprocessing and encoding. `description` is
/// one sentence naming the file, key or tensor at fault.
public struct VisionError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case file(GGUFError)
        case notAProjector(architecture: String?)
        case noVisionEncoder
        case unsupportedProjector(String?)
        case missingKey(String)
        case invalidValue(key: String, value: String, reason: String)
        case missingTensor(String)
        case wrongShape(tensor: String, expected: [Int], found: [Int])
        case unsupportedTensorType(tensor: String, type: String)
        case textModelMismatch(projectorWidth: Int, textWidth: Int)
    }

    public var file: String?
    public var kind: Kind

    public init(file: String? = nil, kind: Kind) {
        self.file = file
        self.kind = kind
    }

    public var description: String {
        if case .file(let error) = kind { return error.description }
        let text = file.map { "\($0): \(message)" } ?? message
        return text.hasSuffix(".") ? text : text + "."
    }

    public var message: String {
        switch kind {
        case .file(let error):
            return error.message
        case .notAProjector(let architecture):
            return "this is not a vision projector (mmproj) file: general.architecture is "
                + (architecture.map { "'\($0)'" } ?? "missing") + ", expected 'clip'"
        case .noVisionEncoder:
            return "the projector file has no vision encoder (clip.has_vision_encoder is false)"
        case .unsupportedProjector(let type):
            guard let type else { return "metadata key 'clip.projector_type' is missing" }
            let supported = ProjectorType.allCases.map(\.rawValue) + Qwen2VLVisionEncoder.projectorTypes + [Qwen3VLVisionEncoder.projectorType]
            return "projector type '\(type)' is not supported (supported: \(supported.joined(separator: ", ")))"
        case .missingKey(let key):
            return "metadata key '\(key)' is missing"
        case .invalidValue(let key, let value, let reason):
            return "metadata key '\(key)' has value \(value), but \(reason)"
        case .missingTensor(let name):
            return "tensor '\(name)' is missing"
        case .wrongShape(let tensor, let expected, let found):
            return "tensor '\(tensor)' has shape \(found), expected \(expected)"
        case .unsupportedTensorType(let tensor, let type):
            return "tensor '\(tensor)' has type \(type), which cannot be dequantized"
        case .textModelMismatch(let projectorWidth, let textWidth):
            return "the projector produces \(projectorWidth)-wide embeddings but the text model's embedding length is \(textWidth); the two files do not belong together"
        }
    }
}
