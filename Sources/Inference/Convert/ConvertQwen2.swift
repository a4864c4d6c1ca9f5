/// `Qwen2ForCausalLM` → a `qwen2` GGUF: q/k/v biases, NEOX rope (no row permutation), often a
/// tied output (no `lm_head.weight`, so no `output.weight`).
public enum ConvertQwen2: ConvertFamily {
    public static let architectures = ["Qwen2ForCausalLM"]

    public static func plans(for checkpoint: HFCheckpoint) throws(ConvertError) -> [ConvertPlan] {
        let mapping = TextModelMapping(architecture: "qwen2", config: checkpoint.config,
                                       permutesQueryKey: false, isLlamaModel: false)
        return [try mapping.plan(checkpoint)]
    }
}
