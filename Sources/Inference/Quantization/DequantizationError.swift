import GGUF

/// Why a tensor could not be dequantized. Every case names the ggml type at fault;
/// `description` is one sentence suitable for a user.
public struct DequantizationError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// Ponder has no dequantization kernel for this type.
        case unsupportedType
        /// The element count (or row length) is not a whole number of blocks.
        case notMultipleOfBlockSize(elementCount: Int, blockSize: Int)
        /// The source holds a different number of bytes than the elements need.
        case byteCountMismatch(expected: Int, actual: Int)
        /// The destination has room for fewer floats than the source decodes to.
        case destinationTooSmall(needed: Int, available: Int)
        /// The requested rows are not all inside the tensor.
        case rowsOutOfRange(rows: Range<Int>, rowCount: Int)
    }

    /// The ggml type being dequantized.
    public var type: GGMLType
    public var kind: Kind

    public init(type: GGMLType, kind: Kind) {
        self.type = type
        self.kind = kind
    }

    public var description: String {
        switch kind {
        case .unsupportedType:
            return "tensors of type \(type.name) cannot be dequantized yet"
        case .notMultipleOfBlockSize(let count, let block):
            return "\(count) elements of type \(type.name) are not a whole number of \(block)-element blocks"
        case .byteCountMismatch(let expected, let actual):
            return "\(type.name) data of \(actual) bytes does not match the \(expected) bytes its elements need"
        case .destinationTooSmall(let needed, let available):
            return "dequantizing \(type.name) needs room for \(needed) floats but the destination holds \(available)"
        case .rowsOutOfRange(let rows, let rowCount):
            return "rows \(rows.lowerBound)..<\(rows.upperBound) are outside the \(rowCount) rows of this \(type.name) tensor"
        }
    }
}
