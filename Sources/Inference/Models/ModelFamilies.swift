// The family registry: what each `general.architecture` (and projector type) is, and which
// file under `Models/` holds it. A new family is a case here, its configuration keys and layer
// plan in its own file (`Qwen2VL.swift`), and its vision side in `+Vision` files.
//
// | general.architecture | text | vision | files |
// |---|---|---|---|
// | `llama` | `TransformerTextModel`, adjacent-pair rope | `clip` projector file (`mlp`, `idefics3`) | `Llama.swift` |
// | `qwen2` | the same block, NEOX rope, q/k/v biases | — | `Qwen2.swift` |
// | `mllama` | the same block plus cross-attention layers | `MllamaVisionEncoder`, in an `mllama` projector or the model file | `Mllama*.swift` |
// | `gemma3` | the same block with q/k norms, post-norms, GeGLU, sliding-window layers | `clip` projector `gemma3` | `Gemma3*.swift` |
// | `qwen2vl` | qwen2's block with M-RoPE (3-D positions) | `qwen2vl_merger` (Qwen2-VL: LayerNorm, quick-GELU MLP, no windows) and `qwen2.5vl_merger` (Qwen2.5-VL: RMSNorm, SwiGLU, windows) projectors, one encoder | `Qwen2VL*.swift` |
// | `qwen25vl` (Ollama) | `qwen2vl`, rope sections in `rope.mrope_section` | in the model file | `Qwen2VL+Ollama.swift` |
// | `qwen3vl` | q/k norms, interleaved M-RoPE, deepstack | `qwen3vl_merger` projector | `Qwen2VL.swift`, `Qwen3VL+Vision.swift` |
// | `clip` | — | `VisionTransformer` with a projector of `Vision/Projectors/` | `Vision/` |

/// The text architectures the engine runs. They share one block; the differences live in the
/// family files under `Models/` (`Llama.swift`, `Qwen2.swift`, `Mllama.swift`).
public enum TextArchitecture: String, Sendable, CaseIterable {
    case llama
    case qwen2
    /// Llama 3.2 Vision: llama blocks with gated cross-attention layers over the image.
    case mllama
    /// Gemma 3: q/k norms, post-norms, GeGLU, sliding-window and global layers.
    case gemma3
    /// Qwen2-VL and Qwen2.5-VL text (the same architecture): qwen2 with multimodal (3-D) rope.
    case qwen2vl
    /// Qwen3-VL text: q/k norms, interleaved multimodal rope, deepstack features.
    case qwen3vl
}

extension TextArchitecture {
    /// The family of a file's `general.architecture`: its own name, or another program's name
    /// for it (Ollama's one-file Qwen2.5-VL is `qwen25vl`, read under that key prefix).
    public init?(fileArchitecture name: String) {
        if name == QwenOllamaLayout.architecture { self = .qwen2vl; return }
        self.init(rawValue: name)
    }
}

/// What one layer of the text stack is (the per-layer plan).
public enum TextLayerKind: Sendable, Equatable {
    /// Causal self-attention through the KV cache, then the SwiGLU MLP.
    case selfAttention
    /// Attention from the text to the projected vision states of the sequence's image, with
    /// per-head RMSNorm on q and k and tanh-gated residuals (mllama).
    case crossAttention
}

/// How rope pairs the dimensions of a head.
public enum RopeStyle: Sendable, Equatable {
    /// (x[2i], x[2i+1]): ggml's "normal" rope, used by `llama` (the converter permuted Q/K).
    case adjacentPairs
    /// (x[i], x[i + n_rot/2]): ggml's NEOX rope, used by `qwen2`.
    case halves
}
