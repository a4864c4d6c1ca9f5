/// How the plan reads tensor names: llama.cpp's `tensor_get_category` and
/// `tensor_allows_quantization` (src/llama-quant.cpp), by substring, as llama.cpp matches them.
extension QuantizationPlan {
    /// The broad role of a tensor, for the mix rules.
    enum Category: Equatable {
        case output, tokenEmbedding
        case attentionQKV, attentionKVB, attentionV, attentionK, attentionQ, attentionOutput
        case ffnUp, ffnGate, ffnDown
        case other

        var isAttentionVLike: Bool { self == .attentionV || self == .attentionQKV || self == .attentionKVB }
    }

    /// The category of a tensor name. mllama's cross-attention projections
    /// (`cross_attn_{q,k,v,o}_proj.weight`, or `cross_attn_{q,k,v,o}.weight`) count as the
    /// self-attention ones: K and V as `attn_k`/`attn_v` (V in the attention-V layer count),
    /// Q as `attn_q`, O as `attn_output`.
    static func category(of name: String) -> Category {
        if name == "output.weight" { return .output }
        if name == "token_embd.weight" || name == "per_layer_token_embd.weight" { return .tokenEmbedding }
        let rules: [(String, Category)] = [
            ("cross_attn_v_proj.weight", .attentionV), ("cross_attn_k_proj.weight", .attentionK),
            ("cross_attn_q_proj.weight", .attentionQ), ("cross_attn_o_proj.weight", .attentionOutput),
            ("attn_qkv.weight", .attentionQKV), ("attn_kv_b.weight", .attentionKVB),
            ("attn_v.weight", .attentionV), ("attn_k.weight", .attentionK), ("attn_q.weight", .attentionQ),
            ("attn_output.weight", .attentionOutput), ("cross_attn_o.weight", .attentionOutput),
            ("ffn_up", .ffnUp), ("ffn_gate", .ffnGate), ("ffn_down", .ffnDown),
        ]
        return rules.first { name.contains($0.0) }?.1 ?? .other
    }

    /// Vision encoder and projector tensors of a combined mllama file, which keep their type.
    static func isVision(_ name: String) -> Bool {
        name.hasPrefix("v.") || name.hasPrefix("mm.")
    }

    /// Whether llama.cpp would give the tensor a new type at all (`tensor_allows_quantization`
    /// with default parameters).
    static func allowsQuantization(_ tensor: Tensor) -> Bool {
        // ggml_n_dims: trailing dimensions of 1 do not count.
        let dimensions = tensor.dimensions.count - (tensor.dimensions.dropFirst().reversed().prefix { $0 == 1 }.count)
        guard dimensions >= 2 else { return false }
        let name = tensor.name
        guard name.hasSuffix("weight"), name != "position_embd.weight", name != "token_types.weight" else { return false }
        return !keptSubstrings.contains { name.contains($0) }
    }

    /// Name fragments of weights llama.cpp never quantizes (norms, routers, small or
    /// position-like tensors; the glm5-next list is left out, as Ponder reads no such model).
    private static let keptSubstrings: [String] = [
        "_norm.weight", "ffn_gate_inp.weight", "ffn_gate_tid2eid.weight", "altup", "laurel",
        "per_layer_model_proj", "ssm_conv1d", "shortconv.conv.weight",
        "indexer.k_proj.weight", "indexer.q_proj.weight",
        "time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight", "time_mix_w2.weight",
        "time_mix_v0.weight", "time_mix_v1.weight", "time_mix_v2.weight", "time_mix_a0.weight",
        "time_mix_a1.weight", "time_mix_a2.weight", "time_mix_g1.weight", "time_mix_g2.weight",
        "time_mix_decay_w1.weight", "time_mix_decay_w2.weight", "time_mix_lerp_fused.weight",
        "attn_rel_b.weight", ".position_embd", "sam.pos_embd", "sam.neck.", "sam.net_", ".rel_pos",
        ".patch_embd", ".patch_merger", "a.rvq.codebook", "mm.a.code_embd",
    ]

    /// The `N` of a `blk.N.` prefix (what `sscanf(name, "blk.%d.")` reads), or −1.
    static func layerNumber(_ name: String) -> Int {
        guard name.hasPrefix("blk.") else { return -1 }
        let digits = name.dropFirst(4)
        var sign = 1
        var rest = Substring(digits)
        if rest.first == "-" || rest.first == "+" {
            sign = rest.first == "-" ? -1 : 1
            rest = rest.dropFirst()
        }
        let number = rest.prefix { $0.isASCII && $0.isNumber }
        guard let value = Int(number) else { return -1 }
        return sign * value
    }
}
