/// The `Inference` module: tensors and kernels, dequantization, tokenizers, chat templates,
/// and (in later issues) image preprocessing, vision encoders, text models, KV cache, sampling
/// and generation.
public enum Inference {}
