import GGUF

/// Looks tensors up in a GGUF file, checks shape and type, and names the tensor in every
/// error, which `fail` turns into the caller's error type (text model, vision encoder, …).
struct TensorLoader<Failure: Error> {
    enum Problem {
        case missing(String)
        case wrongShape(String, expected: [Int], found: [Int])
        case unsupportedType(String, type: String)
    }

    let file: GGUFFile
    let fail: (Problem) -> Failure
    /// Whether `matrix` repacks the weights it returns for the outer-product kernels
    /// (`WeightMatrix.withRepackedRows`), where their type has such a kernel on this CPU.
    var repacks = false

    /// The tensor `name` with GGUF dimensions `dimensions` (innermost first).
    func tensor(_ name: String, dimensions: [Int]) throws(Failure) -> GGUFTensorInfo {
        guard let tensor = file.tensor(named: name) else { throw fail(.missing(name)) }
        guard tensor.dimensions == dimensions else {
            throw fail(.wrongShape(name, expected: dimensions, found: tensor.dimensions))
        }
        guard tensor.type.canDequantize else { throw fail(.unsupportedType(name, type: tensor.type.name)) }
        return tensor
    }

    /// A 2-D weight of `rows` output features of `columns` inputs (GGUF dims `{columns, rows}`).
    func matrix(_ name: String, rows: Int, columns: Int) throws(Failure) -> WeightMatrix {
        let info = try tensor(name, dimensions: [columns, rows])
        let matrix = WeightMatrix(name: name, type: info.type, rows: rows, columns: columns, data: file.data(for: info))
        return repacks ? matrix.withRepackedRows() : matrix
    }

    /// A tensor of any shape with `count` elements in all, dequantized to f32.
    func values(_ name: String, dimensions: [Int]) throws(Failure) -> [Float] {
        let info = try tensor(name, dimensions: dimensions)
        do {
            return try info.type.dequantize(file.data(for: info), elementCount: dimensions.reduce(1, *))
        } catch {
            throw fail(.unsupportedType(name, type: info.type.name))
        }
    }

    func vector(_ name: String, length: Int) throws(Failure) -> [Float] {
        try values(name, dimensions: [length])
    }

    func optionalVector(_ name: String, length: Int) throws(Failure) -> [Float]? {
        guard file.tensor(named: name) != nil else { return nil }
        return try vector(name, length: length)
    }

    func optionalMatrix(_ name: String, rows: Int, columns: Int) throws(Failure) -> WeightMatrix? {
        guard file.tensor(named: name) != nil else { return nil }
        return try matrix(name, rows: rows, columns: columns)
    }
}
