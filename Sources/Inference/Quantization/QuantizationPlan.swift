import GGUF

/// Which type each tensor of a model gets under a `QuantizationTarget`: llama.cpp's
/// `llama_tensor_get_type` (src/llama-quant.cpp, as vendored by llama-cpp-python 0.3.36) for
/// the targets Ponder offers, with no importance matrix, no overrides and `pure = false`.
///
/// - Only 2-D (or 3-D) tensors whose name ends in `weight` change type; 1-D tensors, norms
///   (`_norm.weight`), position embeddings, patch embeddings and the other names llama.cpp
///   keeps are left as they are.
/// - F16, BF16, F32: every such weight becomes that type, with no mix rules.
/// - `output.weight` (or `token_embd.weight` when the output is tied to it) becomes Q6_K,
///   unless the target type is Q8_0 or its rows are not whole blocks (then Q8_0).
/// - Q4_K_M and Q5_K_M give Q6_K to the attention-V weights and `ffn_down` weights of the
///   layers `useMoreBits` picks: the first and last eighth of them, and every third one between.
///   A fused `attn_qkv` counts as attention-V.
/// - A row length that is not a multiple of the type's block falls back: Q4_K → Q5_0,
///   Q5_K → Q5_1, Q6_K → Q8_0, and to F16 when even 32-element blocks do not fit.
///
/// Ponder's additions for mllama files, which llama.cpp cannot quantize: vision encoder and
/// projector tensors (`v.*`, `mm.*`) keep their type and are left out of the layer counts;
/// the cross-attention projections `cross_attn_{k,v}_proj` count as `attn_k`/`attn_v` (V
/// takes its place in the attention-V layer count, as in Ollama's mllama Q4_K_M files),
/// `cross_attn_q_proj` as `attn_q` and `cross_attn_o_proj` as `attn_output`; the names
/// without `_proj` work the same way.
public enum QuantizationPlan {
    /// A tensor as the plan sees it.
    public struct Tensor: Sendable, Equatable {
        public var name: String
        /// GGUF order: `dimensions[0]` is the row length.
        public var dimensions: [Int]
        public var type: GGMLType

        public init(name: String, dimensions: [Int], type: GGMLType) {
            self.name = name
            self.dimensions = dimensions
            self.type = type
        }
    }

    /// What the rules need to know about the model and a tensor's place in it.
    public struct Context: Sendable, Equatable {
        /// `general.architecture`.
        public var architecture: String = "llama"
        /// `{arch}.block_count`: the layer count the `ffn_down` rule divides.
        public var layerCount: Int = 0
        /// How many attention-V-like weights the model has (`attn_v`, `attn_qkv`, `attn_kv_b`).
        public var attentionVCount: Int = 0
        /// The index of this tensor among them (only read for such tensors).
        public var attentionVIndex: Int = 0
        /// The index of this tensor among the `ffn_down` weights.
        public var ffnDownIndex: Int = 0
        /// The model has no `output.weight`, so `token_embd.weight` also serves as the output.
        public var tiedEmbeddings: Bool = false
        /// llama.cpp's `LLM_TYPE_70B` (80-layer llama with grouped KV heads, or 80-layer qwen2),
        /// which gives attention-V Q5_K instead of Q4_K.
        public var isSeventyB: Bool = false

        public init(architecture: String = "llama", layerCount: Int = 0, attentionVCount: Int = 0,
                    attentionVIndex: Int = 0, ffnDownIndex: Int = 0, tiedEmbeddings: Bool = false,
                    isSeventyB: Bool = false) {
            self.architecture = architecture
            self.layerCount = layerCount
            self.attentionVCount = attentionVCount
            self.attentionVIndex = attentionVIndex
            self.ffnDownIndex = ffnDownIndex
            self.tiedEmbeddings = tiedEmbeddings
            self.isSeventyB = isSeventyB
        }
    }

    /// The types of all `tensors` (in their order) under `target`; the layer indices follow
    /// llama.cpp's tensor order (by `blk.N.` number, then by name).
    public static func types(for tensors: [Tensor], target: QuantizationTarget,
                             architecture: String, layerCount: Int, isSeventyB: Bool = false) -> [GGMLType] {
        let order = tensors.indices.sorted { a, b in
            let (la, lb) = (layerNumber(tensors[a].name), layerNumber(tensors[b].name))
            return la != lb ? la < lb : tensors[a].name.utf8.lexicographicallyPrecedes(tensors[b].name.utf8)
        }
        var context = Context(architecture: architecture, layerCount: layerCount,
                              tiedEmbeddings: !tensors.contains { $0.name == "output.weight" }, isSeventyB: isSeventyB)
        context.attentionVCount = tensors.filter { !isVision($0.name) && category(of: $0.name).isAttentionVLike }.count
        var result = tensors.map(\.type)
        for index in order {
            let tensor = tensors[index]
            result[index] = type(for: tensor, target: target, context: context)
            // llama.cpp counts only the tensors that reach its mix rules.
            guard target.isQuantized, !isVision(tensor.name), allowsQuantization(tensor) else { continue }
            let kind = category(of: tensor.name)
            if kind.isAttentionVLike { context.attentionVIndex += 1 }
            if kind == .ffnDown { context.ffnDownIndex += 1 }
        }
        return result
    }

    /// The type of one tensor, given its place in the model.
    public static func type(for tensor: Tensor, target: QuantizationTarget, context: Context) -> GGMLType {
        guard !isVision(tensor.name), allowsQuantization(tensor) else { return tensor.type }
        guard target.isQuantized else { return target.defaultType }
        let chosen = mixType(for: tensor, target: target, context: context)
        return fallback(chosen, rowLength: tensor.dimensions.first ?? 1)
    }

    /// `use_more_bits`: the first and last eighth of the layers, and every third in between.
    public static func useMoreBits(_ layer: Int, _ layers: Int) -> Bool {
        layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2
    }

    // MARK: Rules

    private static func mixType(for tensor: Tensor, target: QuantizationTarget, context: Context) -> GGMLType {
        let kind = category(of: tensor.name)
        let type = target.defaultType
        let mixed = target == .q4_K_M || target == .q5_K_M
        let falcon = context.architecture == "falcon"
        if kind == .output || (kind == .tokenEmbedding && context.tiedEmbeddings) {
            let rowLength = tensor.dimensions.first ?? 1
            if falcon || rowLength % type.blockSize != 0 { return .q8_0 }
            return type == .q8_0 ? .q8_0 : .q6_K
        }
        switch kind {
        case .attentionV, .attentionQKV, .attentionKVB:
            // llama.cpp's separate attn_qkv rule sits after this branch in an else-if chain and
            // is never reached, so a fused QKV weight follows the attention-V rule.
            var chosen = type
            if mixed && useMoreBits(context.attentionVIndex, context.attentionVCount) { chosen = .q6_K }
            if context.isSeventyB && (chosen == .q3_K || chosen == .q4_K) { chosen = .q5_K }
            return chosen
        case .ffnDown:
            let (layer, layers) = (context.ffnDownIndex, context.layerCount)
            if target == .q4_K_M && falcon {
                return layer < layers / 16 ? .q6_K : useMoreBits(layer, layers) ? .q5_K : .q4_K
            }
            return mixed && useMoreBits(layer, layers) ? .q6_K : type
        default:
            return type
        }
    }

    /// `tensor_type_fallback`: a type whose blocks fit the row length.
    static func fallback(_ type: GGMLType, rowLength: Int) -> GGMLType {
        guard rowLength % type.blockSize != 0 else { return type }
        let replacement: GGMLType
        switch type {
        case .q4_K: replacement = .q5_0
        case .q5_K: replacement = .q5_1
        case .q6_K: replacement = .q8_0
        case .q2_K, .q3_K: replacement = .q4_0
        default: replacement = type
        }
        return rowLength % replacement.blockSize == 0 ? replacement : .f16
    }
}
