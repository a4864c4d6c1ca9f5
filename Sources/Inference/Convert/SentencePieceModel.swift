import Foundation

/// The pieces of a SentencePiece `tokenizer.model` (a `sentencepiece.ModelProto` protobuf),
/// read with a minimal protobuf decoder: field 1 holds the pieces (`piece` = 1, `score` = 2,
/// `type` = 3), field 3 the normalizer spec (`add_dummy_prefix` = 3). Nothing else is read.
struct SentencePieceModel {
    enum PieceType: Int {
        case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    struct Piece {
        var text: String
        var score: Float
        var type: PieceType
    }

    private(set) var pieces: [Piece] = []
    /// `normalizer_spec.add_dummy_prefix` (true unless the model says otherwise).
    private(set) var addsDummyPrefix = true

    init(path: String) throws(ConvertError) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConvertError(file: path, kind: .missingFile)
        }
        func fail(_ reason: String) -> ConvertError {
            ConvertError(file: path, kind: .unsupportedTokenizer(reason: "not a SentencePiece model: \(reason)"))
        }
        let bytes = [UInt8](data)
        var reader = ProtobufReader(bytes: bytes[...])
        while !reader.isAtEnd {
            guard let (field, value) = reader.next() else { throw fail("the protobuf is malformed") }
            switch (field, value) {
            case (1, .bytes(let message)):
                var inner = ProtobufReader(bytes: message)
                var piece = Piece(text: "", score: 0, type: .normal)
                while !inner.isAtEnd {
                    guard let (key, item) = inner.next() else { throw fail("piece \(pieces.count) is malformed") }
                    switch (key, item) {
                    case (1, .bytes(let text)): piece.text = String(decoding: text, as: UTF8.self)
                    case (2, .fixed32(let bits)): piece.score = Float(bitPattern: bits)
                    case (3, .varint(let raw)):
                        guard let type = PieceType(rawValue: Int(truncatingIfNeeded: raw)) else {
                            throw fail("piece \(pieces.count) has unknown type \(raw)")
                        }
                        piece.type = type
                    default: break
                    }
                }
                pieces.append(piece)
            case (3, .bytes(let message)):
                var inner = ProtobufReader(bytes: message)
                while !inner.isAtEnd {
                    guard let (key, item) = inner.next() else { throw fail("the normalizer spec is malformed") }
                    if key == 3, case .varint(let flag) = item { addsDummyPrefix = flag != 0 }
                }
            default:
                break
            }
        }
        guard !pieces.isEmpty else { throw fail("it holds no pieces") }
    }
}

/// Protobuf wire-format fields, one at a time.
struct ProtobufReader {
    enum Value {
        case varint(UInt64)
        case fixed64(UInt64)
        case bytes(ArraySlice<UInt8>)
        case fixed32(UInt32)
    }

    var bytes: ArraySlice<UInt8>

    var isAtEnd: Bool { bytes.isEmpty }

    /// The next field number and value, or nil when the bytes are malformed.
    mutating func next() -> (Int, Value)? {
        guard let key = varint(), key >> 3 > 0, key >> 3 <= UInt64(Int32.max) else { return nil }
        let field = Int(key >> 3)
        switch key & 7 {
        case 0:
            return varint().map { (field, .varint($0)) }
        case 1:
            guard bytes.count >= 8 else { return nil }
            let value = bytes.prefix(8).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            bytes = bytes.dropFirst(8)
            return (field, .fixed64(value))
        case 2:
            guard let length = varint(), length <= UInt64(bytes.count) else { return nil }
            let value = bytes.prefix(Int(length))
            bytes = bytes.dropFirst(Int(length))
            return (field, .bytes(value))
        case 5:
            guard bytes.count >= 4 else { return nil }
            let value = bytes.prefix(4).reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            bytes = bytes.dropFirst(4)
            return (field, .fixed32(value))
        default:
            return nil
        }
    }

    private mutating func varint() -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while let byte = bytes.first, shift < 64 {
            bytes = bytes.dropFirst()
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
        return nil
    }
}
