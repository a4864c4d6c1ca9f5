import GGUF

/// What a family turns a checkpoint into: one GGUF file (the text model, or a projector) with
/// its metadata and, for each GGUF tensor, where its values come from.
public struct ConvertPlan: @unchecked Sendable {
    public enum Role: String, Sendable {
        /// `FILE.gguf`.
        case text
        /// `mmproj-FILE.gguf`, next to it.
        case projector
    }

    public var role: Role
    public var metadata: [(key: String, value: GGUFValue)]
    public var tensors: [ConvertTensor]

    public init(role: Role, metadata: [(key: String, value: GGUFValue)] = [], tensors: [ConvertTensor] = []) {
        self.role = role
        self.metadata = metadata
        self.tensors = tensors
    }

    public mutating func set(_ key: String, _ value: GGUFValue) {
        if let index = metadata.firstIndex(where: { $0.key == key }) {
            metadata[index].value = value
        } else {
            metadata.append((key, value))
        }
    }

    /// The value under `key`, when set.
    public func value(_ key: String) -> GGUFValue? { metadata.first { $0.key == key }?.value }
}

/// One tensor of a GGUF file to write.
public struct ConvertTensor: Sendable {
    public enum Source: Sendable {
        /// A checkpoint tensor, row by row, its rows reordered by `transform`.
        case checkpoint(name: String, transform: RowTransform)
        /// Values computed by the converter (e.g. `rope_freqs.weight`).
        case values([Float])
    }

    /// GGUF name.
    public var name: String
    /// GGUF dimensions, innermost (the row) first.
    public var dimensions: [Int]
    public var source: Source
    public var rule: TensorEncoding.Rule

    public init(name: String, dimensions: [Int], source: Source, rule: TensorEncoding.Rule = .standard) {
        self.name = name
        self.dimensions = dimensions
        self.source = source
        self.rule = rule
    }

    public var rowLength: Int { dimensions.first ?? 1 }
    public var rowCount: Int { dimensions.dropFirst().reduce(1, *) }
    public var elementCount: Int { dimensions.reduce(1, *) }
}

/// How output rows map to checkpoint rows.
public enum RowTransform: Sendable, Equatable {
    case identity
    /// llama.cpp's `LlamaModel.permute` for Q and K (rows of `heads` heads): within each head,
    /// the rows of the first half and the second half are interleaved, so that rope's
    /// adjacent-pair rotation in ggml sees the pairs HF's rotate-half pairs.
    case ropePermutation(heads: Int)

    /// The checkpoint row that output row `row` of `rowCount` rows comes from.
    @inline(__always)
    func sourceRow(_ row: Int, rowCount: Int) -> Int {
        switch self {
        case .identity:
            return row
        case .ropePermutation(let heads):
            // Output (h, i, j) of shape (heads, half, 2) comes from input (h, j, i) of (heads, 2, half).
            let perHead = rowCount / heads, half = perHead / 2
            let head = row / perHead, within = row % perHead
            let i = within / 2, j = within % 2
            return head * perHead + j * half + i
        }
    }
}

extension ConvertTensor {
    /// A checkpoint tensor whose GGUF dimensions are its PyTorch shape reversed, after
    /// checking that shape against `expected` (PyTorch order).
    static func mapped(_ gguf: String, from hf: String, expected: [Int], in checkpoint: HFCheckpoint,
                       transform: RowTransform = .identity, rule: TensorEncoding.Rule = .standard) throws(ConvertError) -> ConvertTensor {
        guard let shape = checkpoint.weights.shape(of: hf) else {
            throw ConvertError(file: checkpoint.folder, kind: .missingTensor(hf))
        }
        guard shape == expected else {
            throw ConvertError(file: checkpoint.weights.filePath(of: hf), kind: .wrongShape(tensor: hf, expected: expected, found: shape))
        }
        if case .ropePermutation(let heads) = transform, expected[0] % (2 * heads) != 0 {
            throw ConvertError(file: checkpoint.folder, kind: .wrongShape(tensor: hf, expected: expected, found: shape))
        }
        return ConvertTensor(name: gguf, dimensions: shape.reversed(), source: .checkpoint(name: hf, transform: transform), rule: rule)
    }
}

extension SafetensorsCheckpoint {
    /// The path of the file holding `name`, or the folder.
    func filePath(of name: String) -> String {
        (try? tensor(name).file.path) ?? folder
    }
}
