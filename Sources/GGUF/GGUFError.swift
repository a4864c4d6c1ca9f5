/// The one error type of the `GGUF` module.
///
/// Every error names the file it concerns and, where it comes from parsing, the byte offset at
/// which the problem was found. `description` is one sentence suitable for a user.
public struct GGUFError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case cannotOpen(reason: String)
        case emptyFile
        case badMagic(found: [UInt8])
        case unsupportedVersion(UInt32)
        case truncated(what: String, needed: UInt64, available: UInt64)
        case countTooLarge(what: String, count: UInt64, available: UInt64)
        case stringTooLong(length: UInt64, available: UInt64)
        case invalidValueType(UInt32)
        case nestingTooDeep(limit: Int)
        case duplicateKey(String)
        case invalidAlignment(String)
        case tensorNameTooLong(String)
        case tooManyDimensions(tensor: String, count: UInt32)
        case invalidDimensions(tensor: String, dimensions: [UInt64])
        case unknownTensorType(tensor: String, type: UInt32)
        case rowNotMultipleOfBlock(tensor: String, rowLength: UInt64, blockSize: Int, type: String)
        case misalignedTensor(tensor: String, offset: UInt64, alignment: Int)
        case tensorOutOfBounds(tensor: String, end: UInt64, fileSize: UInt64)
        case duplicateTensor(String)
        case missingKey(String)
        case typeMismatch(key: String, expected: String, found: String)
        case valueOutOfRange(key: String, value: String)
        case missingTensor(String)
        case writeFailed(reason: String)
    }

    /// The file (path or name) the error concerns.
    public var file: String
    /// Byte offset in the file where the problem was detected, when it comes from parsing.
    public var offset: UInt64?
    public var kind: Kind

    public init(file: String, offset: UInt64? = nil, kind: Kind) {
        self.file = file
        self.offset = offset
        self.kind = kind
    }

    public var description: String {
        var text = "\(file): \(message)"
        if let offset { text += " (at byte \(offset))" }
        return text
    }

    /// The problem, without the file and offset.
    public var message: String {
        switch kind {
        case .cannotOpen(let reason):
            return "cannot open the file: \(reason)"
        case .emptyFile:
            return "the file is empty, not a GGUF model"
        case .badMagic(let found):
            let shown = found.map { byte in
                (0x20..<0x7F).contains(byte) ? String(UnicodeScalar(byte)) : "\\x" + hex(byte)
            }.joined()
            return "not a GGUF file: it starts with \"\(shown)\" instead of \"GGUF\""
        case .unsupportedVersion(let version):
            if version.byteSwapped == 2 || version.byteSwapped == 3 {
                return "GGUF version \(version) is not supported (the file looks big-endian; only little-endian files are read)"
            }
            return "GGUF version \(version) is not supported (versions 2 and 3 are)"
        case .truncated(let what, let needed, let available):
            return "the file is truncated: \(what) needs \(needed) bytes but only \(available) remain"
        case .countTooLarge(let what, let count, let available):
            return "\(what) is \(count), more than the \(available) bytes that remain in the file can hold"
        case .stringTooLong(let length, let available):
            return "a string of \(length) bytes is longer than the \(available) bytes that remain in the file"
        case .invalidValueType(let type):
            return "metadata value type \(type) is unknown (valid types are 0 to 12)"
        case .nestingTooDeep(let limit):
            return "metadata arrays are nested more than \(limit) levels deep"
        case .duplicateKey(let key):
            return "metadata key '\(key)' appears twice"
        case .invalidAlignment(let value):
            return "general.alignment is \(value); it must be a non-zero power of two"
        case .tensorNameTooLong(let name):
            return "tensor name '\(name.prefix(80))…' is \(name.utf8.count) bytes, longer than the 63 that ggml allows"
        case .tooManyDimensions(let tensor, let count):
            return "tensor '\(tensor)' has \(count) dimensions; at most 4 are allowed"
        case .invalidDimensions(let tensor, let dimensions):
            return "tensor '\(tensor)' has invalid dimensions \(dimensions) (negative or too large)"
        case .unknownTensorType(let tensor, let type):
            return "tensor '\(tensor)' has unknown ggml type \(type)"
        case .rowNotMultipleOfBlock(let tensor, let rowLength, let blockSize, let type):
            return "tensor '\(tensor)' has rows of \(rowLength) elements, not a multiple of the \(type) block size \(blockSize)"
        case .misalignedTensor(let tensor, let offset, let alignment):
            return "tensor '\(tensor)' data offset \(offset) is not a multiple of the alignment \(alignment)"
        case .tensorOutOfBounds(let tensor, let end, let fileSize):
            return "tensor '\(tensor)' data ends at byte \(end), past the end of the \(fileSize)-byte file"
        case .duplicateTensor(let name):
            return "tensor '\(name)' appears twice"
        case .missingKey(let key):
            return "metadata key '\(key)' is missing"
        case .typeMismatch(let key, let expected, let found):
            return "metadata key '\(key)' is \(found), expected \(expected)"
        case .valueOutOfRange(let key, let value):
            return "metadata key '\(key)' has value \(value), which is out of range"
        case .missingTensor(let name):
            return "tensor '\(name)' is missing"
        case .writeFailed(let reason):
            return "cannot write the file: \(reason)"
        }
    }
}

private func hex(_ byte: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 15)]])
}
