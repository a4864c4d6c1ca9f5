/// The description of one tensor in a GGUF file: name, shape, element type and where its data is.
public struct GGUFTensorInfo: Sendable, Equatable {
    public let name: String
    /// ggml order: `dimensions[0]` varies fastest (the row length).
    public let dimensions: [Int]
    public let type: GGMLType
    /// Offset of the data relative to the start of the data section, as stored in the file.
    public let relativeOffset: UInt64
    /// Offset of the data from the start of the file.
    public let fileOffset: Int
    public let elementCount: Int
    public let byteCount: Int

    public init(name: String, dimensions: [Int], type: GGMLType, relativeOffset: UInt64, fileOffset: Int,
                elementCount: Int, byteCount: Int) {
        self.name = name
        self.dimensions = dimensions
        self.type = type
        self.relativeOffset = relativeOffset
        self.fileOffset = fileOffset
        self.elementCount = elementCount
        self.byteCount = byteCount
    }

    /// Elements per row (`dimensions[0]`; 1 for a tensor with no dimensions).
    public var rowLength: Int { dimensions.first ?? 1 }
    /// Number of rows: the product of every dimension but the first.
    public var rowCount: Int { dimensions.dropFirst().reduce(1, *) }
    /// Bytes per row.
    public var rowByteCount: Int { rowLength / type.blockSize * type.typeSize }
}
