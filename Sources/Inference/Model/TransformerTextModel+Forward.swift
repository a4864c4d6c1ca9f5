import Foundation

/// The forward pass: embeddings → blocks → output norm → lm head, for a whole batch at once.
extension TransformerTextModel {
    /// Runs a validated batch whose cache slots are reserved. Called with the lock held.
    func run(_ batch: Batch, slots: [PagedKVCache.Slot], observer: ActivationObserver?) -> Logits {
        let c = configuration, s = runState
        let n = batch.count, d = c.embeddingLength
        let logitItems = batch.items.indices.filter { batch.items[$0].wantsLogits }
        let m = logitItems.count
        guard n > 0 else {
            return Logits(vocabularySize: c.vocabularySize, values: [], itemIndices: [], sequences: [], positions: [],
                          hiddenStates: batch.returnsHiddenStates ? [] : nil)
        }
        s.reserve(rows: n, logitRows: m)
        let trace = ActivationTrace(observer: observer)

        // inp_embd [n × d]
        let x = s.hidden.pointer
        for (i, item) in batch.items.enumerated() {
            switch item.input {
            case .token(let token):
                weights.embedding(of: token, into: x + i * d)
                if c.embeddingScale != 1 { TextKernels.scale(x + i * d, by: c.embeddingScale, count: d) }
            case .embedding(let row):
                row.withUnsafeBufferPointer { (x + i * d).update(from: $0.baseAddress!, count: d) }
            case .image(let image, let index):
                switch image.content {
                case .embeddings(let values, _):
                    values.withUnsafeBufferPointer { (x + i * d).update(from: $0.baseAddress! + index * d, count: d) }
                case .crossAttention:
                    // The image token: the first row past the output vocabulary.
                    weights.embedding(of: Int32(c.vocabularySize), into: x + i * d)
                }
            }
        }
        trace.emit("inp_embd", nil, x, rows: n, columns: d)

        // Rope angles of each item's position, per rope set: [sets × n × pairs] cos and sin,
        // shared by the layers of a set.
        let pairs = c.ropeDimensionCount / 2
        if let sections = c.ropeSections {
            let rope = c.ropeSet(0)
            for (i, positions) in mropePositions(batch).enumerated() {
                TextKernels.mropeAngles(positions: positions, sections: sections, interleaved: c.interleavedRopeSections,
                                        pairs: pairs, base: rope.base, scale: rope.scale,
                                        cos: s.ropeCos.pointer + i * pairs, sin: s.ropeSin.pointer + i * pairs)
            }
        } else {
            for set in 0...c.extraRopeSets.count {
                let rope = c.ropeSet(set), offset = set * n * pairs
                for (i, item) in batch.items.enumerated() {
                    TextKernels.ropeAngles(position: item.position, pairs: pairs, base: rope.base,
                                           scale: rope.scale, factors: weights.ropeFrequencyFactors,
                                           cos: s.ropeCos.pointer + offset + i * pairs, sin: s.ropeSin.pointer + offset + i * pairs)
                }
            }
        }

        // Block tables after the reservation (copy on write may have replaced a last block).
        var tables: [SequenceID: [Int]] = [:]
        for item in batch.items where tables[item.sequence] == nil {
            tables[item.sequence] = try! cache.blockTable(of: item.sequence)
        }
        let context = BatchContext(rows: n, positions: batch.items.map(\.position),
                                   sequences: batch.items.map(\.sequence),
                                   tables: batch.items.map { tables[$0.sequence]! }, slots: slots,
                                   keyEnds: keyEnds(batch))

        // Cross-attention images: K/V computed once per image, attached to their sequences.
        var rowImages: [[AttachedImage]] = []
        if !c.crossAttentionLayers.isEmpty {
            for item in batch.items {
                guard case .image(let image, _) = item.input, case .crossAttention(let states) = image.content else { continue }
                let attached: AttachedImage
                if let known = recentImages.first(where: { $0.image === image }) {
                    attached = known.attached.moved(to: item.position)
                } else {
                    attached = attach(image, states: states, at: item.position)
                    imageKeyValueComputations += 1
                    recentImages.append((image, attached))
                    if recentImages.count > 2 { recentImages.removeFirst() }
                }
                attachedImages[item.sequence, default: []].append(attached)
            }
            rowImages = batch.items.map { attachedImages[$0.sequence] ?? [] }
        }

        for layer in 0..<c.blockCount {
            switch c.layerKinds[layer] {
            case .selfAttention:
                attentionBlock(layer, context, trace)
                feedForwardBlock(layer, context, trace)
                if layer < c.deepstackLayerCount { addDeepstack(layer, batch) }
            case .crossAttention:
                crossAttentionBlock(layer, context, images: rowImages, trace)
            }
        }

        // result_norm [m × d] of the items that want logits, then result_output [m × vocab].
        let resultNorm = s.resultNorm.pointer, logits = s.logits.pointer
        for (row, item) in logitItems.enumerated() {
            TextKernels.rmsNorm(x + item * d, weight: weights.outputNorm, epsilon: c.rmsNormEpsilon,
                                output: resultNorm + row * d, count: d)
        }
        trace.emit("result_norm", nil, resultNorm, rows: m, columns: d)
        if m > 0 {
            MatMul.multiply(weights.output, input: resultNorm, batch: m, output: logits, pool: pool)
        }
        if let bias = weights.outputBias {
            for row in 0..<m { TextKernels.add(bias, into: logits + row * c.vocabularySize, count: c.vocabularySize) }
        }
        if let cap = c.finalLogitSoftcap {
            for i in 0..<(m * c.vocabularySize) { logits[i] = cap * tanhf(logits[i] / cap) }
        }
        trace.emit("result_output", nil, logits, rows: m, columns: c.vocabularySize)

        return Logits(vocabularySize: c.vocabularySize,
                      values: Array(UnsafeBufferPointer(start: logits, count: m * c.vocabularySize)),
                      itemIndices: logitItems,
                      sequences: logitItems.map { batch.items[$0].sequence },
                      positions: logitItems.map { batch.items[$0].position },
                      hiddenStates: batch.returnsHiddenStates
                          ? Array(UnsafeBufferPointer(start: resultNorm, count: m * d)) : nil)
    }

    /// Adds deepstack feature `k` of each image row's image to its row of the residual stream.
    private func addDeepstack(_ k: Int, _ batch: Batch) {
        let d = configuration.embeddingLength, x = runState.hidden.pointer
        for (i, item) in batch.items.enumerated() {
            guard case .image(let image, let index) = item.input, k < image.deepstack.count else { continue }
            image.deepstack[k].withUnsafeBufferPointer { TextKernels.add($0.baseAddress! + index * d, into: x + i * d, count: d) }
        }
    }

    /// Each item's M-RoPE position (t, h, w), registering the image spans that start in this
    /// batch with their sequences. A text token's three numbers are its cache position less
    /// the lag of the images before it; row r, column c of an image starting at p₀ (its first
    /// row's rope position) is (p₀, p₀ + r, p₀ + c). An image without a grid is one row.
    private func mropePositions(_ batch: Batch) -> [(Int, Int, Int)] {
        batch.items.map { item in
            guard case .image(let image, let index) = item.input else {
                let p = item.position - MRopeSpan.lag(mropeSpans[item.sequence] ?? [], before: item.position)
                return (p, p, p)
            }
            let grid = image.grid ?? PromptImage.Grid(rows: 1, columns: image.spanLength)
            let start = item.position - index
            var spans = mropeSpans[item.sequence] ?? []
            if !spans.contains(where: { $0.start == start }) {
                spans.append(MRopeSpan(start: start, length: image.spanLength, advance: max(grid.rows, grid.columns)))
                mropeSpans[item.sequence] = spans
            }
            let p0 = start - MRopeSpan.lag(spans, before: start)
            return (p0, p0 + index / max(1, grid.columns), p0 + index % max(1, grid.columns))
        }
    }

    /// Where each item's visible keys end (exclusive): after its own position, or, for a row
    /// of an image whose span attends both ways (gemma3), after the span's last position.
    /// A span cut short by the batch stops at the sequence's last item in it (nothing later
    /// is in the cache).
    private func keyEnds(_ batch: Batch) -> [Int] {
        guard configuration.imageSpansAttendBothWays else { return batch.items.map { $0.position + 1 } }
        var last: [SequenceID: Int] = [:]
        for item in batch.items { last[item.sequence] = max(last[item.sequence] ?? 0, item.position) }
        return batch.items.map { item in
            guard case .image(let image, let index) = item.input else { return item.position + 1 }
            return max(item.position + 1, min(item.position - index + image.spanLength, last[item.sequence]! + 1))
        }
    }

    /// `x += Wdown · (act(Wgate·h) ⊙ Wup·h)`, `h = rmsnorm(x) · ffn_norm` (with gemma3's
    /// post-norm of the output before the add).
    private func feedForwardBlock(_ l: Int, _ context: BatchContext, _ trace: ActivationTrace) {
        let c = configuration, s = runState, layer = weights.layers[l]
        let n = context.rows, d = c.embeddingLength, ff = c.feedForwardLength
        let x = s.hidden.pointer, h = s.normed.pointer
        for i in 0..<n {
            TextKernels.rmsNorm(x + i * d, weight: layer.feedForwardNorm, epsilon: c.rmsNormEpsilon,
                                output: h + i * d, count: d)
        }
        trace.emit("ffn_norm", l, h, rows: n, columns: d)
        MatMul.multiply(layer.gate, input: h, batch: n, output: s.gate.pointer, pool: pool)
        MatMul.multiply(layer.up, input: h, batch: n, output: s.up.pointer, pool: pool)
        trace.emit("ffn_gate", l, s.gate.pointer, rows: n, columns: ff)
        trace.emit("ffn_up", l, s.up.pointer, rows: n, columns: ff)
        switch c.feedForwardActivation {
        case .silu: TextKernels.siluMultiply(s.gate.pointer, up: s.up.pointer, count: n * ff)
        case .geluTanh: TextKernels.geluMultiply(s.gate.pointer, up: s.up.pointer, count: n * ff)
        }
        MatMul.multiply(layer.down, input: s.gate.pointer, batch: n, output: s.projected.pointer, pool: pool)
        trace.emit("ffn_out", l, s.projected.pointer, rows: n, columns: d)
        if let norm = layer.postFeedForwardNorm {
            for i in 0..<n {
                TextKernels.rmsNorm(s.projected.pointer + i * d, weight: norm, epsilon: c.rmsNormEpsilon,
                                    output: s.projected.pointer + i * d, count: d)
            }
            trace.emit("ffn_post_norm", l, s.projected.pointer, rows: n, columns: d)
        }
        TextKernels.add(s.projected.pointer, into: x, count: n * d)
        trace.emit("l_out", l, x, rows: n, columns: d)
    }
}

/// What the blocks need to know about the batch besides its activations.
struct BatchContext {
    let rows: Int
    /// `[rows]` each item's position.
    let positions: [Int]
    /// `[rows]` each item's sequence.
    let sequences: [SequenceID]
    /// `[rows]` the block table of each item's sequence.
    let tables: [[Int]]
    /// `[rows]` where each item's key and value are written.
    let slots: [PagedKVCache.Slot]
    /// `[rows]` the end (exclusive) of the positions each item sees: `position + 1`, or past
    /// its image's span where image spans attend both ways.
    let keyEnds: [Int]

    /// The first position row `i` sees in a layer with this sliding window.
    func keyStart(_ i: Int, window: Int?) -> Int {
        guard let window else { return 0 }
        return max(0, positions[i] - window + 1)
    }
}

/// Hands named activations to the observer, if any.
struct ActivationTrace {
    let observer: ActivationObserver?

    @inline(__always)
    func emit(_ name: String, _ layer: Int?, _ values: UnsafeMutablePointer<Float>, rows: Int, columns: Int) {
        guard let observer else { return }
        observer(name, layer, UnsafeBufferPointer(start: values, count: rows * columns), rows)
    }
}
