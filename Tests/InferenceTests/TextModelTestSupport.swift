import Foundation
import GGUF
@testable import Inference

/// A tiny random text model, kept both as plain arrays (for the naive reference) and as an
/// F32 GGUF (for the engine).
struct TinyTextModel {
    struct Shape {
        var architecture = "llama"
        var embedding = 32
        var layers = 2
        var heads = 4
        var keyValueHeads = 2
        var feedForward = 48
        var vocabulary = 40
        var context = 128
        var tiedOutput = false
        var ropeFactors = false
        var biases = false
        var ropeBase: Float = 10000
        /// gemma3 only: `attention.sliding_window` (nil: none) and its period.
        var slidingWindow: Int? = nil
        var slidingWindowPattern = 2
    }

    struct Layer {
        var attentionNorm, feedForwardNorm: [Float]
        /// Row-major `[out][in]`.
        var wq, wk, wv, wo, gate, up, down: [[Float]]
        var bq, bk, bv: [Float]?
        /// gemma3: per-head q/k norms `[hd]`, post-norms `[embd]`.
        var qNorm, kNorm, postAttentionNorm, postFeedForwardNorm: [Float]?
    }

    let shape: Shape
    var tokenEmbedding: [[Float]]  // [vocab][embd]
    var outputNorm: [Float]
    var output: [[Float]]?          // nil: tied
    var ropeFactors: [Float]?
    var layers: [Layer]

    init(_ shape: Shape, seed: UInt64 = 1) {
        self.shape = shape
        var random = SplitMix(seed: seed)
        func matrix(_ rows: Int, _ columns: Int, _ scale: Float) -> [[Float]] {
            (0..<rows).map { _ in (0..<columns).map { _ in random.uniform() * scale } }
        }
        func vector(_ count: Int, around center: Float, _ spread: Float) -> [Float] {
            (0..<count).map { _ in center + random.uniform() * spread }
        }
        let d = shape.embedding, hd = d / shape.heads, kv = shape.keyValueHeads * hd
        tokenEmbedding = matrix(shape.vocabulary, d, 1)
        outputNorm = vector(d, around: 1, 0.2)
        output = shape.tiedOutput ? nil : matrix(shape.vocabulary, d, 0.5)
        ropeFactors = shape.ropeFactors ? vector(hd / 2, around: 2, 1.5) : nil
        layers = (0..<shape.layers).map { _ in
            Layer(attentionNorm: vector(d, around: 1, 0.2), feedForwardNorm: vector(d, around: 1, 0.2),
                  wq: matrix(d, d, 0.4), wk: matrix(kv, d, 0.4), wv: matrix(kv, d, 0.4), wo: matrix(d, d, 0.3),
                  gate: matrix(shape.feedForward, d, 0.3), up: matrix(shape.feedForward, d, 0.3),
                  down: matrix(d, shape.feedForward, 0.3),
                  bq: shape.biases ? vector(d, around: 0, 0.3) : nil,
                  bk: shape.biases ? vector(kv, around: 0, 0.3) : nil,
                  bv: shape.biases ? vector(kv, around: 0, 0.3) : nil,
                  qNorm: shape.architecture == "gemma3" ? vector(hd, around: 1, 0.3) : nil,
                  kNorm: shape.architecture == "gemma3" ? vector(hd, around: 1, 0.3) : nil,
                  postAttentionNorm: shape.architecture == "gemma3" ? vector(d, around: 1, 0.3) : nil,
                  postFeedForwardNorm: shape.architecture == "gemma3" ? vector(d, around: 1, 0.3) : nil)
        }
    }

    var headDimension: Int { shape.embedding / shape.heads }

    /// The GGUF writer holding this model; `skip` leaves tensors out, `replace` swaps some.
    func writer(skip: Set<String> = [], replace: [String: (dimensions: [Int], values: [Float])] = [:]) -> GGUFWriter {
        var writer = GGUFWriter()
        let a = shape.architecture
        writer.set("general.architecture", a)
        writer.set("\(a).context_length", UInt32(shape.context))
        writer.set("\(a).embedding_length", UInt32(shape.embedding))
        writer.set("\(a).block_count", UInt32(shape.layers))
        writer.set("\(a).feed_forward_length", UInt32(shape.feedForward))
        writer.set("\(a).attention.head_count", UInt32(shape.heads))
        writer.set("\(a).attention.head_count_kv", UInt32(shape.keyValueHeads))
        writer.set("\(a).attention.layer_norm_rms_epsilon", Float(1e-5))
        writer.set("\(a).rope.freq_base", shape.ropeBase)
        if let window = shape.slidingWindow {
            writer.set("\(a).attention.sliding_window", UInt32(window))
            writer.set("\(a).attention.sliding_window_pattern", UInt32(shape.slidingWindowPattern))
        }
        func add(_ name: String, _ dimensions: [Int], _ values: [Float]) {
            guard !skip.contains(name) else { return }
            let (dims, data) = replace[name] ?? (dimensions, values)
            try! writer.addTensor(name: name, dimensions: dims, values: data)
        }
        func add(_ name: String, _ rows: [[Float]]) {
            add(name, [rows[0].count, rows.count], rows.flatMap { $0 })
        }
        add("token_embd.weight", tokenEmbedding)
        add("output_norm.weight", [shape.embedding], outputNorm)
        if let output { add("output.weight", output) }
        if let ropeFactors { add("rope_freqs.weight", [ropeFactors.count], ropeFactors) }
        for (index, layer) in layers.enumerated() {
            let p = "blk.\(index)."
            add(p + "attn_norm.weight", [shape.embedding], layer.attentionNorm)
            add(p + "attn_q.weight", layer.wq)
            add(p + "attn_k.weight", layer.wk)
            add(p + "attn_v.weight", layer.wv)
            add(p + "attn_output.weight", layer.wo)
            if let b = layer.bq { add(p + "attn_q.bias", [b.count], b) }
            if let b = layer.bk { add(p + "attn_k.bias", [b.count], b) }
            if let b = layer.bv { add(p + "attn_v.bias", [b.count], b) }
            add(p + "ffn_norm.weight", [shape.embedding], layer.feedForwardNorm)
            add(p + "ffn_gate.weight", layer.gate)
            add(p + "ffn_up.weight", layer.up)
            add(p + "ffn_down.weight", layer.down)
            if let v = layer.qNorm { add(p + "attn_q_norm.weight", [v.count], v) }
            if let v = layer.kNorm { add(p + "attn_k_norm.weight", [v.count], v) }
            if let v = layer.postAttentionNorm { add(p + "post_attention_norm.weight", [v.count], v) }
            if let v = layer.postFeedForwardNorm { add(p + "post_ffw_norm.weight", [v.count], v) }
        }
        return writer
    }

    func file(name: String = "tiny.gguf") -> GGUFFile {
        try! GGUFFile(bytes: writer().serialized(), name: name)
    }

    func load(threads: Int = 2, contextLength: Int? = nil, cacheCapacity: Int? = nil) throws -> TransformerTextModel {
        try loadTextModel(file: file(), options: TextModelOptions(
            contextLength: contextLength, cacheCapacity: cacheCapacity, threadCount: threads))
    }
}

/// A deterministic generator for test weights.
struct SplitMix {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [-1, 1).
    mutating func uniform() -> Float { Float(next() >> 40) / Float(1 << 23) - 1 }
}

/// max |a − b| / max |b|.
func relativeError(_ a: some Collection<Float>, _ b: some Collection<Float>) -> Float {
    precondition(a.count == b.count)
    let peak = b.map(abs).max() ?? 1
    return zip(a, b).map { abs($0 - $1) }.max().map { $0 / max(peak, 1e-30) } ?? 0
}
