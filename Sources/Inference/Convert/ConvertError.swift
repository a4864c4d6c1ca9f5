import GGUF

/// The error of `ponder convert`: reading a Hugging Face checkpoint (safetensors, JSON files,
/// tokenizer) and writing GGUF. `description` is one sentence naming the file and the tensor
/// or key at fault.
public struct ConvertError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case cannotOpen(reason: String)
        case missingFile
        /// A safetensors file whose header or data layout is wrong; `tensor` when one is at fault.
        case corruptSafetensors(tensor: String?, reason: String)
        case unsupportedDataType(tensor: String, dataType: String)
        case invalidJSON(reason: String)
        case missingKey(String)
        case invalidValue(key: String, value: String, reason: String)
        case unsupportedArchitecture(String?, supported: [String])
        case missingTensor(String)
        case duplicateTensor(String)
        case wrongShape(tensor: String, expected: [Int], found: [Int])
        case unsupportedOutputType(String, supported: [String])
        case unsupportedTokenizer(reason: String)
        case write(GGUFError)
    }

    /// The file (or folder) the error concerns.
    public var file: String
    public var kind: Kind

    public init(file: String, kind: Kind) {
        self.file = file
        self.kind = kind
    }

    public var description: String {
        if case .write(let error) = kind { return error.description }
        return "\(file): \(message)"
    }

    public var message: String {
        switch kind {
        case .cannotOpen(let reason):
            return "cannot open the file: \(reason)"
        case .missingFile:
            return "the file is missing"
        case .corruptSafetensors(let tensor, let reason):
            if let tensor { return "not a valid safetensors file: tensor '\(tensor)' \(reason)" }
            return "not a valid safetensors file: \(reason)"
        case .unsupportedDataType(let tensor, let dataType):
            return "tensor '\(tensor)' has data type \(dataType), which cannot be converted (supported: BF16, F16, F32)"
        case .invalidJSON(let reason):
            return "not valid JSON: \(reason)"
        case .missingKey(let key):
            return "key '\(key)' is missing"
        case .invalidValue(let key, let value, let reason):
            return "key '\(key)' has value \(value), but \(reason)"
        case .unsupportedArchitecture(let name, let supported):
            let list = supported.joined(separator: ", ")
            guard let name else { return "'architectures' is missing, so the model family is unknown (supported: \(list))" }
            return "architecture '\(name)' cannot be converted (supported: \(list))"
        case .missingTensor(let name):
            return "tensor '\(name)' is missing from the checkpoint"
        case .duplicateTensor(let name):
            return "tensor '\(name)' appears in more than one safetensors file"
        case .wrongShape(let tensor, let expected, let found):
            return "tensor '\(tensor)' has shape \(found), but the configuration calls for \(expected)"
        case .unsupportedOutputType(let name, let supported):
            return "output type '\(name)' is not supported (supported: \(supported.joined(separator: ", ")))"
        case .unsupportedTokenizer(let reason):
            return "the tokenizer cannot be converted: \(reason)"
        case .write(let error):
            return error.message
        }
    }
}
