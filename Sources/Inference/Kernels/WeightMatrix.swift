import GGUF

/// A 2-D weight viewed in place in the memory-mapped file: `rows` output features, each a row
/// of `columns` input features stored in `type` (quant blocks run along a row). Never copied.
///
/// `y[r] = Σ_c W[r][c] · x[c]`. The view is valid while the `GGUFFile` it came from is alive;
/// keep that file in the owning weights type.
public struct WeightMatrix: @unchecked Sendable {
    public let name: String
    public let type: GGMLType
    /// Output features.
    public let rows: Int
    /// Input features (the row length).
    public let columns: Int
    /// `rows × rowByteCount` bytes.
    public let data: UnsafeRawBufferPointer
    /// The rows repacked for the outer-product kernels, when the model was loaded with
    /// repacking and the type has such a kernel (see `withRepackedRows()`); `MatMul` then reads these.
    public internal(set) var repacked: RepackedWeights?

    public var rowByteCount: Int { columns / type.blockSize * type.typeSize }

    public init(name: String, type: GGMLType, rows: Int, columns: Int, data: UnsafeRawBufferPointer) {
        precondition(columns % type.blockSize == 0 && data.count == rows * (columns / type.blockSize * type.typeSize),
                     "WeightMatrix \(name): \(data.count) bytes do not hold \(rows)×\(columns) \(type)")
        self.name = name
        self.type = type
        self.rows = rows
        self.columns = columns
        self.data = data
    }

    /// The bytes of row `row`.
    public func rowBytes(_ row: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: data[(row * rowByteCount)..<((row + 1) * rowByteCount)])
    }
}
