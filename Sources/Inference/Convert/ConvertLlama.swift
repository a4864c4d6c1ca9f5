/// `LlamaForCausalLM` (Llama 2 and 3.x, SmolLM, …) → a `llama` GGUF: Q/K rows permuted for
/// ggml's rope, `rope_freqs.weight` for Llama 3 rope scaling, a byte-level BPE vocabulary.
public enum ConvertLlama: ConvertFamily {
    public static let architectures = ["LlamaForCausalLM"]

    public static func plans(for checkpoint: HFCheckpoint) throws(ConvertError) -> [ConvertPlan] {
        [try TextModelMapping(architecture: "llama", config: checkpoint.config).plan(checkpoint)]
    }
}
