import GGUF

/// The seam between conversion and encoding. Conversion hands rows of `Float` to
/// `TensorEncoding.encode`; which GGML type each tensor gets is `TensorEncoding.type(for:…)`.
/// A quantizer plugs in by adding its types to `supportedTypes`, a case to `encode`, its
/// `general.file_type` to `fileType`, and (for mixes such as Q4_K_M) its per-tensor choices
/// to `type(for:…)`.
public enum TensorEncoding {
    /// The output types `ponder convert --type` accepts, in the order the help lists them.
    public static let supportedTypes: [GGMLType] = [.f32, .f16, .bf16]

    /// The requested output type named `name` (case-insensitive), or an error listing the
    /// supported ones.
    public static func requestedType(named name: String) throws(ConvertError) -> GGMLType {
        guard let type = GGMLType(name: name), supportedTypes.contains(type) else {
            throw ConvertError(file: name, kind: .unsupportedOutputType(name, supported: supportedTypes.map(\.name)))
        }
        return type
    }

    /// `general.file_type` (llama.cpp's `LlamaFileType`) for a file written at `type`.
    public static func fileType(for type: GGMLType) -> UInt32 {
        switch type {
        case .f32: return 0
        case .f16: return 1
        case .bf16: return 32
        default: return 0
        }
    }

    /// How a tensor's type is chosen, when the family overrides llama.cpp's default.
    public enum Rule: Sendable, Equatable {
        /// llama.cpp's default (below).
        case standard
        /// Always F32 (e.g. SigLIP embeddings in idefics3 projector files).
        case alwaysF32
        /// F16 when F16 was requested, else F32 (llama.cpp's rule for `v.patch_embd.weight`).
        case f16OrF32
    }

    /// The GGML type of tensor `name` with GGUF dimensions `dimensions` when `requested` was
    /// asked for: as llama.cpp's `prepare_tensors`, 1-D tensors, norms, tensors whose name
    /// does not end in `.weight`, and position embeddings stay F32.
    public static func type(for name: String, dimensions: [Int], requested: GGMLType, rule: Rule = .standard) -> GGMLType {
        switch rule {
        case .alwaysF32: return .f32
        case .f16OrF32: return requested == .f16 ? .f16 : .f32
        case .standard: break
        }
        if dimensions.count <= 1 || name.hasSuffix("_norm.weight") || !name.hasSuffix(".weight") { return .f32 }
        if name == "position_embd.weight" || name == "v.position_embd.weight" { return .f32 }
        // A quantizer falls back when rows do not fill its blocks (llama.cpp falls back to F16).
        if dimensions[0] % requested.blockSize != 0 { return .f16 }
        return requested
    }

    /// Encodes `rows` rows of `rowLength` values each, row-major, as `type` into `destination`,
    /// which holds exactly their encoded bytes.
    public static func encode(_ values: UnsafeBufferPointer<Float>, rowLength: Int, as type: GGMLType,
                              into destination: UnsafeMutableRawBufferPointer) {
        guard let source = values.baseAddress, let target = destination.baseAddress else { return }
        let count = values.count
        switch type {
        case .f32:
            precondition(destination.count == count * 4)
            target.copyMemory(from: source, byteCount: count * 4)
        case .f16:
            precondition(destination.count == count * 2)
            HalfFloat.convertToF16(source, to: target.assumingMemoryBound(to: UInt16.self), count: count)
        case .bf16:
            precondition(destination.count == count * 2)
            HalfFloat.convertToBF16(source, to: target.assumingMemoryBound(to: UInt16.self), count: count)
        default:
            // Quantized types (convert --type Q4_K_M …): the plan's fallbacks guarantee whole blocks.
            do {
                try type.quantize(rows: values, rowLength: rowLength, into: destination, pool: pool)
            } catch {
                preconditionFailure("\(error)")
            }
        }
    }

    /// The threads quantization uses.
    static let pool = ThreadPool()

    /// Bytes that `count` values take as `type`.
    static func byteCount(of count: Int, as type: GGMLType) -> Int {
        count / type.blockSize * type.typeSize
    }
}
