import GGUF

/// Why quantizing rows or a model file failed. `description` is one sentence naming the file,
/// tensor, type or value at fault.
public struct QuantizationError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable {
        /// Ponder has no encoder for this type.
        case unsupportedType(GGMLType)
        /// Rows of this length are not a whole number of the type's blocks.
        case rowLengthNotMultipleOfBlock(rowLength: Int, type: GGMLType)
        /// The destination holds a different number of bytes than the rows need.
        case byteCountMismatch(type: GGMLType, expected: Int, actual: Int)
        /// `--type` named no quantization Ponder offers.
        case unknownTarget(String)
        /// Input and output are the same file.
        case sameFile
        /// The input file could not be read, or the output written.
        case file(GGUFError)
        /// A tensor of the input could not be dequantized to f32.
        case dequantization(DequantizationError)
    }

    public var kind: Kind
    /// The file being read or written, when known.
    public var file: String?
    /// The tensor being converted, when known.
    public var tensor: String?

    public init(kind: Kind, file: String? = nil, tensor: String? = nil) {
        self.kind = kind
        self.file = file
        self.tensor = tensor
    }

    public var description: String {
        let subject = [tensor.map { "tensor '\($0)'" }, file.map { "of \($0)" }].compactMap { $0 }.joined(separator: " ")
        let prefix = subject.isEmpty ? "" : subject + ": "
        switch kind {
        case .unsupportedType(let type):
            return "\(prefix)Ponder cannot quantize to \(type.name)"
        case .rowLengthNotMultipleOfBlock(let length, let type):
            return "\(prefix)rows of \(length) elements are not a whole number of \(type.blockSize)-element \(type.name) blocks"
        case .byteCountMismatch(let type, let expected, let actual):
            return "\(prefix)\(type.name) rows take \(expected) bytes but the destination holds \(actual)"
        case .unknownTarget(let name):
            let valid = QuantizationTarget.allCases.map(\.name).joined(separator: ", ")
            return "unknown quantization type '\(name)'; valid types are \(valid)"
        case .sameFile:
            return "the output \(file ?? "file") is the input file; choose another output path"
        case .file(let error):
            return tensor.map { "tensor '\($0)': \(error)" } ?? "\(error)"
        case .dequantization(let error):
            return "\(prefix)\(error)"
        }
    }
}
