import GGUF

/// Ollama's one-file Qwen2.5-VL (its `convert/convert_qwen25vl.go` and the llama-server
/// compatibility layer that replaced its own engine): `general.architecture = qwen25vl`, the
/// text model under `qwen25vl.` keys with llama.cpp's tensor names and the rope sections as
/// `qwen25vl.rope.mrope_section` (three counts), and the vision tower in the same file, with
/// `qwen25vl.vision.*` keys and llama.cpp's block names except:
///
/// | Ollama | llama.cpp `mmproj` |
/// |---|---|
/// | `v.patch_embd_0.weight`, `v.patch_embd_1.weight` | `v.patch_embd.weight`, `v.patch_embd.weight.1` |
/// | `v.merger.ln_q.weight` | `v.post_ln.weight` |
/// | `v.merger.mlp.0.*`, `v.merger.mlp.2.*` | `mm.0.*`, `mm.2.*` |
/// | `qwen25vl.vision.fullatt_block_indexes` | `clip.vision.n_wa_pattern` (the first index + 1) |
///
/// Ollama writes no image mean and std (its engine used CLIP's, as the HF processor does) and no
/// feed-forward width (read here from `ffn_up`). Some published files carry an empty
/// `fullatt_block_indexes`; Qwen2.5-VL's is [7, 15, 23, 31] in every size, so that is assumed.
/// `clipView` presents the file as llama.cpp's projector, so the same encoder reads both.
enum QwenOllamaLayout {
    static let architecture = "qwen25vl"
    static let clipMean: [Float] = [0.48145466, 0.4578275, 0.40821073]
    static let clipStd: [Float] = [0.26862954, 0.26130258, 0.27577711]
    static let defaultFullAttentionBlocks = [7, 15, 23, 31]

    static func holdsVision(_ file: GGUFFile) -> Bool {
        file.architecture == architecture && file.tensor(named: "v.patch_embd_0.weight") != nil
    }

    /// llama.cpp's name of an Ollama vision tensor; nil for the text model's tensors.
    static func clipName(_ name: String) -> String? {
        switch name {
        case "v.patch_embd_0.weight": return "v.patch_embd.weight"
        case "v.patch_embd_1.weight": return "v.patch_embd.weight.1"
        default: break
        }
        if name.hasPrefix("v.merger.ln_q.") { return "v.post_ln." + name.dropFirst("v.merger.ln_q.".count) }
        if name.hasPrefix("v.merger.mlp.") { return "mm." + name.dropFirst("v.merger.mlp.".count) }
        return name.hasPrefix("v.") ? name : nil
    }

    /// The file as a `clip` projector file (`qwen2.5vl_merger`), or nil when it is not Ollama's
    /// one-file Qwen2.5-VL.
    static func clipView(_ file: GGUFFile) -> GGUFFile? {
        guard holdsVision(file) else { return nil }
        let prefix = architecture + ".vision."
        var metadata: [(key: String, value: GGUFValue)] = [
            ("general.architecture", .string("clip")), ("clip.projector_type", .string("qwen2.5vl_merger")),
            ("clip.has_vision_encoder", .bool(true)), ("clip.use_silu", .bool(true)),
            ("clip.vision.image_mean", .array(.float32(clipMean))), ("clip.vision.image_std", .array(.float32(clipStd))),
        ]
        for key in ["patch_size", "embedding_length", "block_count", "attention.head_count", "attention.layer_norm_epsilon",
                    "spatial_merge_size", "window_size", "image_min_pixels", "image_max_pixels"] {
            if let value = file.value(forKey: prefix + key) { metadata.append(("clip.vision." + key, value)) }
        }
        if let up = file.tensor(named: "v.blk.0.ffn_up.weight"), up.dimensions.count == 2 {
            metadata.append(("clip.vision.feed_forward_length", .uint32(UInt32(clamping: up.dimensions[1]))))
        }
        var full = ((try? file.optionalIntArray(prefix + "fullatt_block_indexes")) ?? nil) ?? []
        if full.isEmpty { full = defaultFullAttentionBlocks }
        metadata.append(("clip.vision.n_wa_pattern", .uint32(UInt32(clamping: max(0, full[0] + 1)))))
        return file.view(metadata: metadata, renaming: clipName)
    }
}
