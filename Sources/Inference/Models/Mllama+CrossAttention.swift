import Foundation

/// One image attached to a sequence: the keys and values of every cross-attention layer,
/// computed once from the image's vision states when its image token was fed. Forks share it.
final class AttachedImage: @unchecked Sendable {
    /// Position of the image token in the sequence.
    let position: Int
    let image: PromptImage
    /// Per cross-attention layer (in layer order): `[tokenCount × keyValueWidth]` keys (after
    /// k_norm) and values of every token the encoder produced, padding tiles included. Rows
    /// with the image in view read the first `usedTokens` (the real tiles); rows with no image
    /// in view read them all, unmasked (HF's mask of such a row is all zeros).
    let keys: [[Float]]
    let values: [[Float]]
    let usedTokens: Int
    let tokenCount: Int

    init(position: Int, image: PromptImage, keys: [[Float]], values: [[Float]], usedTokens: Int, tokenCount: Int) {
        self.position = position
        self.image = image
        self.keys = keys
        self.values = values
        self.usedTokens = usedTokens
        self.tokenCount = tokenCount
    }

    /// The same keys and values attached at another position.
    func moved(to position: Int) -> AttachedImage {
        AttachedImage(position: position, image: image, keys: keys, values: values, usedTokens: usedTokens, tokenCount: tokenCount)
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
        var keys: [[Float]] = [], values: [[Float]] = []
        states.values.withUnsafeBufferPointer { input in
            for l in c.crossAttentionLayers {
                let layer = weights.layers[l], cross = layer.cross!
                var k = [Float](repeating: 0, count: all * kvWidth), v = k
                k.withUnsafeMutableBufferPointer { kb in
                    MatMul.multiply(layer.key, input: input.baseAddress!, batch: all, output: kb.baseAddress!, pool: pool)
                    cross.keyNorm.withUnsafeBufferPointer { w in
                        for row in 0..<all {
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
                keys.append(k)
                values.append(v)
            }
        }
        return AttachedImage(position: position, image: image, keys: keys, values: values, usedTokens: used, tokenCount: all)
    }

    /// A cross-attention layer over the batch. Rows of sequences without images pass through
    /// unchanged (HF skips the layer when there is no image).
    func crossAttentionBlock(_ l: Int, _ context: BatchContext, images rowImages: [[AttachedImage]],
                             _ trace: ActivationTrace) {
        let c = configuration, s = runState, layer = weights.layers[l], cross = layer.cross!
        let crossIndex = c.crossAttentionLayers.firstIndex(of: l)!
        let n = context.rows, d = c.embeddingLength, hd = c.headDimension, ff = c.feedForwardLength
        let qWidth = c.queryWidth, kvWidth = c.keyValueWidth
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
            } else {
                // In view: the real tiles of the visible images. None in view: every token of
                // every image, unmasked, as HF's zeroed mask row does.
                let sources = visible.isEmpty ? sequenceImages : visible
                if !visible.isEmpty { for i in start..<end { inView[i] = true } }
                let count: (AttachedImage) -> Int = { visible.isEmpty ? $0.tokenCount : $0.usedTokens }
                let keys = sources.count == 1 ? sources[0].keys[crossIndex]
                    : sources.flatMap { $0.keys[crossIndex][0..<(count($0) * kvWidth)] }
                let values = sources.count == 1 ? sources[0].values[crossIndex]
                    : sources.flatMap { $0.values[crossIndex][0..<(count($0) * kvWidth)] }
                let keyCount = sources.reduce(0) { $0 + count($1) }
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
