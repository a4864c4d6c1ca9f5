/// Called with each named activation of a forward pass, for dumping and diffing against
/// llama.cpp's tensors of the same name (`attn_norm`, `Qcur`, `Kcur`, `Vcur`, `kqv_out`,
/// `attn_out`, `ffn_inp`, `ffn_norm`, `ffn_out`, `l_out`, `result_norm`, `result_output`).
/// `values` holds `rows` rows, valid only during the call; `layer` is nil outside the blocks.
public typealias ActivationObserver = @Sendable (_ name: String, _ layer: Int?, _ values: UnsafeBufferPointer<Float>,
                                                 _ rows: Int) -> Void

/// A growable scratch buffer of floats (contents are not preserved when it grows).
struct ScratchBuffer {
    private(set) var pointer: UnsafeMutablePointer<Float>
    private(set) var capacity: Int

    init() {
        capacity = 16
        pointer = .allocate(capacity: capacity)
    }

    mutating func reserve(_ count: Int) {
        guard count > capacity else { return }
        pointer.deallocate()
        capacity = max(count, capacity * 2)
        pointer = .allocate(capacity: capacity)
    }

    func free() { pointer.deallocate() }
}

/// The per-forward scratch of a text model, kept between calls so a decode step allocates
/// nothing. Buffers grow to the largest batch seen. Named after llama.cpp's activations.
final class TextModelRunState {
    let configuration: TextModelConfiguration
    /// Rows the buffers currently hold.
    private(set) var rowCapacity = 0
    private(set) var logitRowCapacity = 0

    /// `[n × embeddingLength]` the residual stream (`inp_embd`, then `l_out` of each layer).
    var hidden = ScratchBuffer()
    /// `[n × embeddingLength]` `attn_norm` / `ffn_norm`.
    var normed = ScratchBuffer()
    /// `[n × queryWidth]` `Qcur` (after bias and rope).
    var query = ScratchBuffer()
    /// `[n × keyValueWidth]` `Kcur` (after bias and rope) and `Vcur`.
    var key = ScratchBuffer()
    var value = ScratchBuffer()
    /// `[n × queryWidth]` `kqv_out`: attention output of every head.
    var attention = ScratchBuffer()
    /// `[n × embeddingLength]` `attn_out` / `ffn_out`: a block's contribution to the residual.
    var projected = ScratchBuffer()
    /// `[n × feedForwardLength]` `ffn_gate` (then silu(gate)·up) and `ffn_up`.
    var gate = ScratchBuffer()
    var up = ScratchBuffer()
    /// `[ropeSets × n × ropeDimensionCount/2]` cos and sin of each item's rope angles.
    var ropeCos = ScratchBuffer()
    var ropeSin = ScratchBuffer()
    /// `[m × embeddingLength]` `result_norm` of the items that want logits.
    var resultNorm = ScratchBuffer()
    /// `[m × vocabularySize]` `result_output`.
    var logits = ScratchBuffer()

    init(configuration: TextModelConfiguration) {
        self.configuration = configuration
    }

    deinit {
        for buffer in [hidden, normed, query, key, value, attention, projected, gate, up, ropeCos, ropeSin,
                       resultNorm, logits] {
            buffer.free()
        }
    }

    /// Makes room for a batch of `rows` items of which `logitRows` want logits.
    func reserve(rows: Int, logitRows: Int) {
        let c = configuration
        if rows > rowCapacity {
            hidden.reserve(rows * c.embeddingLength)
            normed.reserve(rows * c.embeddingLength)
            query.reserve(rows * c.queryWidth)
            key.reserve(rows * c.keyValueWidth)
            value.reserve(rows * c.keyValueWidth)
            attention.reserve(rows * c.queryWidth)
            projected.reserve(rows * c.embeddingLength)
            gate.reserve(rows * c.feedForwardLength)
            up.reserve(rows * c.feedForwardLength)
            ropeCos.reserve(rows * c.ropeDimensionCount / 2 * (1 + c.extraRopeSets.count))
            ropeSin.reserve(rows * c.ropeDimensionCount / 2 * (1 + c.extraRopeSets.count))
            rowCapacity = rows
        }
        if logitRows > logitRowCapacity {
            resultNorm.reserve(logitRows * c.embeddingLength)
            logits.reserve(logitRows * c.vocabularySize)
            logitRowCapacity = logitRows
        }
    }
}
