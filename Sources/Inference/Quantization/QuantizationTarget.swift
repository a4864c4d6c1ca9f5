import GGUF

/// A whole-file quantization `ponder quantize --type` offers, with llama.cpp's `llama_ftype`
/// number (written as `general.file_type`) and the type most 2-D weights get.
public enum QuantizationTarget: String, CaseIterable, Sendable {
    case q8_0 = "Q8_0"
    case q4_0 = "Q4_0"
    case q4_K_M = "Q4_K_M"
    case q5_K_M = "Q5_K_M"
    case q6_K = "Q6_K"
    case f16 = "F16"
    case bf16 = "BF16"
    case f32 = "F32"

    /// The name as llama.cpp prints it, e.g. `Q4_K_M`.
    public var name: String { rawValue }

    /// Looks a target up by name, case-insensitively (`q4_k_m` → `.q4_K_M`).
    public init?(name: String) {
        guard let found = Self.allCases.first(where: { $0.rawValue.lowercased() == name.lowercased() }) else { return nil }
        self = found
    }

    /// `LLAMA_FTYPE_*` (llama.h): the value of `general.file_type` in the output.
    public var fileType: UInt32 {
        switch self {
        case .f32: return 0          // LLAMA_FTYPE_ALL_F32
        case .f16: return 1          // LLAMA_FTYPE_MOSTLY_F16
        case .q4_0: return 2         // LLAMA_FTYPE_MOSTLY_Q4_0
        case .q8_0: return 7         // LLAMA_FTYPE_MOSTLY_Q8_0
        case .q4_K_M: return 15      // LLAMA_FTYPE_MOSTLY_Q4_K_M
        case .q5_K_M: return 17      // LLAMA_FTYPE_MOSTLY_Q5_K_M
        case .q6_K: return 18        // LLAMA_FTYPE_MOSTLY_Q6_K
        case .bf16: return 32        // LLAMA_FTYPE_MOSTLY_BF16
        }
    }

    /// The type of an ordinary 2-D weight (`llama_ftype_get_default_type`).
    public var defaultType: GGMLType {
        switch self {
        case .q8_0: return .q8_0
        case .q4_0: return .q4_0
        case .q4_K_M: return .q4_K
        case .q5_K_M: return .q5_K
        case .q6_K: return .q6_K
        case .f16: return .f16
        case .bf16: return .bf16
        case .f32: return .f32
        }
    }

    /// Whether the default type is a block quantization (llama.cpp's `ggml_is_quantized`):
    /// only then do the per-tensor mix rules and block-size fallbacks apply.
    var isQuantized: Bool { defaultType.blockSize > 1 }
}
