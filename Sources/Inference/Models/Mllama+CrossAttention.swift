import Foundation

/// One image attached to a sequence: the keys and values of every cross-attention layer,
/// computed once from the image's vision states when its image token was fed. Forks share it.
final class AttachedImage: @unchecked Sendable {
    /// Position of the image token in the sequence.
    let position: Int
    let image: PromptImage
    /// Per cross-attention layer (in layer order): `[usedTokens × keyValueWidth]` keys (after
    /// k_norm) and values of the image's real tiles.
    let keys: [[Float]]
    let values: [[Float]]
    /// Per cross-attention layer: `[keyValueWidth]` the mean value over every token the encoder
    /// produced (padding tiles included): what a row with no image in view attends to.
    let meanValues: [[Float]]
    let usedTokens: Int

    init(position: Int, image: PromptImage, keys: [[Float]], values: [[Float]], meanValues: [[Float]], usedTokens: Int) {
        self.position = position
        self.image = image
        self.keys = keys
        self.values = values
        self.meanValues = meanValues
        self.usedTokens = usedTokens
    }
}

extension TransformerTextModel {
    /// The images of `sequence` that a row at `position` attends to, as HF's processor masks
    /// them: image i is in view from its token up to the next image's token, and a run of
    /// consecutive image tokens stays in view together until the image after the run.
    static func imagesInView(_ images: [AttachedImage], at position: Int) -> [AttachedImage] {
        var end = Int.max
        var visible: [AttachedImage] = []
        for (i, image) in images.enumerated().reversed() {
            if i + 1 < images.count, images[i + 1].position != image.position + 1 { end = images[i + 1].position }
            if image.position <= position && position < end { visible.append(image) }
        }
        return visible.reversed()
    }

    /// Computes the cross-attention keys and values of `image` for every cross-attention layer.
    func attach(_ image: PromptImage, states: CrossAttentionStates, at position: Int) -> AttachedImage {
        let c = configuration, kvWidth = c.keyValueWidth, hd = c.headDimension
        let all = states.tokenCount, used = states.usedTokenCount
        var keys: [[Float]] = [], values: [[Float]] = [], means: [[Float]] = []
        states.values.withUnsafeBufferPointer { input in
            for l in c.crossAttentionLayers {
                let layer = weights.layers[l], cross = layer.cross!
                var k = [Float](repeating: 0, count: all * kvWidth), v = k
                k.withUnsafeMutableBufferPointer { kb in
                    MatMul.multiply(layer.key, input: input.baseAddress!, batch: all, output: kb.baseAddress!, pool: pool)
                    cross.keyNorm.withUnsafeBufferPointer { w in
                        for row in 0..<used {
                            for head in 0..<c.keyValueHeadCount {
                                let x = kb.baseAddress! + row * kvWidth + head * hd
                                TextKernels.rmsNorm(x, weight: w.baseAddress!, epsilon: c.rmsNormEpsilon, output: x, count: hd)
                            }
                        }
                    }
                }
                v.withUnsafeMutableBufferPointer { vb in
                    MatMul.multiply(layer.value, input: input.baseAddress!, batch: all, output: vb.baseAddress!, pool: pool)
                }
                var mean = [Double](repeating: 0, count: kvWidth)
                for row in 0..<all { for e in 0..<kvWidth { mean[e] += Double(v[row * kvWidth + e]) } }
                means.append(mean.map { Float($0 / Double(all)) })
                keys.append(Array(k[0..<(used * kvWidth)]))
                values.append(Array(v[0..<(used * kvWidth)]))
            }
        }
        return AttachedImage(position: position, image: image, keys: keys, values: values, meanValues: means,
                             usedTokens: used)
    }

    /// A cross-attention layer over the batch. Rows of sequences without images pass through
    /// unchanged (HF skips the layer when there is no image).
    func crossAttentionBlock(_ l: Int, _ context: BatchContext, images rowImages: [[AttachedImage]],
                             _ trace: ActivationTrace) {
        let c = configuration, s = runState, layer = weights.layers[l], cross = layer.cross!
        let crossIndex = c.crossAttentionLayers.firstIndex(of: l)!
        let n = context.rows, d = c.embeddingLength, hd = c.headDimension, ff = c.feedForwardLength
        let qWidth = c.queryWidth, kvWidth = c.keyValueWidth, group = c.groupSize
        let x = s.hidden.pointer, normed = s.normed.pointer, q = s.query.pointer, out = s.attention.pointer
        let active = (0..<n).filter { !rowImages[$0].isEmpty }
        guard !active.isEmpty else { return }

        for i in 0..<n {
            TextKernels.rmsNorm(x + i * d, weight: layer.attentionNorm, epsilon: c.rmsNormEpsilon,
                                output: normed + i * d, count: d)
        }
        trace.emit("attn_norm", l, normed, rows: n, columns: d)
        MatMul.multiply(layer.query, input: normed, batch: n, output: q, pool: pool)
        cross.queryNorm.withUnsafeBufferPointer { w in
            for i in 0..<n {
                for head in 0..<c.headCount {
                    let row = q + i * qWidth + head * hd
                    TextKernels.rmsNorm(row, weight: w.baseAddress!, epsilon: c.rmsNormEpsilon, output: row, count: hd)
                }
            }
        }
        trace.emit("Qcur", l, q, rows: n, columns: qWidth)

        // Rows in runs of the same sequence and the same images in view.
        var inView: [Bool] = Array(repeating: false, count: n)
        var start = 0
        while start < n {
            let sequenceImages = rowImages[start]
            let visible = Self.imagesInView(sequenceImages, at: context.positions[start])
            var end = start + 1
            while end < n, context.sequences[end] == context.sequences[start], rowImages[end].count == sequenceImages.count,
                  Self.imagesInView(rowImages[end], at: context.positions[end]).map(ObjectIdentifier.init)
                      == visible.map(ObjectIdentifier.init) { end += 1 }
            if sequenceImages.isEmpty {
                (out + start * qWidth).update(repeating: 0, count: (end - start) * qWidth)
            } else if visible.isEmpty {
                // Every key masked: HF's softmax over an all-zero row averages every value.
                var mean = [Float](repeating: 0, count: kvWidth)
                for image in sequenceImages { TextKernels.add(image.meanValues[crossIndex], into: &mean) }
                for e in 0..<kvWidth { mean[e] /= Float(sequenceImages.count) }
                for i in start..<end {
                    for head in 0..<c.headCount {
                        let kvHead = head / group
                        for e in 0..<hd { out[i * qWidth + head * hd + e] = mean[kvHead * hd + e] }
                    }
                }
            } else {
                for i in start..<end { inView[i] = true }
                let keys = visible.count == 1 ? visible[0].keys[crossIndex] : visible.flatMap { $0.keys[crossIndex] }
                let values = visible.count == 1 ? visible[0].values[crossIndex] : visible.flatMap { $0.values[crossIndex] }
                let keyCount = visible.reduce(0) { $0 + $1.usedTokens }
                keys.withUnsafeBufferPointer { k in
                    values.withUnsafeBufferPointer { v in
                        MaskedAttention.attend(
                            q + start * qWidth, k.baseAddress!, v.baseAddress!, into: out + start * qWidth,
                            shape: .init(rows: end - start, keys: keyCount, heads: c.headCount, kvHeads: c.keyValueHeadCount,
                                         headDimension: hd, queryStride: qWidth, keyValueStride: kvWidth, outputStride: qWidth),
                            mask: .none, pool: pool)
                    }
                }
            }
            start = end
        }
        trace.emit("kqv_out", l, out, rows: n, columns: qWidth)
        MatMul.multiply(layer.attentionOutput, input: out, batch: n, output: s.projected.pointer, pool: pool)
        trace.emit("attn_out", l, s.projected.pointer, rows: n, columns: d)
        for i in active {
            TextKernels.accumulate(cross.attentionGate, s.projected.pointer + i * d, into: x + i * d, count: d)
        }

        // The MLP, added only where an image is in view.
        let h = normed
        for i in 0..<n {
            TextKernels.rmsNorm(x + i * d, weight: layer.feedForwardNorm, epsilon: c.rmsNormEpsilon,
                                output: h + i * d, count: d)
        }
        MatMul.multiply(layer.gate, input: h, batch: n, output: s.gate.pointer, pool: pool)
        MatMul.multiply(layer.up, input: h, batch: n, output: s.up.pointer, pool: pool)
        TextKernels.siluMultiply(s.gate.pointer, up: s.up.pointer, count: n * ff)
        MatMul.multiply(layer.down, input: s.gate.pointer, batch: n, output: s.projected.pointer, pool: pool)
        trace.emit("ffn_out", l, s.projected.pointer, rows: n, columns: d)
        for i in 0..<n where inView[i] {
            TextKernels.accumulate(cross.mlpGate, s.projected.pointer + i * d, into: x + i * d, count: d)
        }
        trace.emit("l_out", l, x, rows: n, columns: d)
    }
}

extension TextKernels {
    /// `y += x` elementwise over arrays of the same length.
    static func add(_ x: [Float], into y: inout [Float]) {
        for i in 0..<min(x.count, y.count) { y[i] += x[i] }
    }
}
