import COpenBLAS
import Foundation

/// The attention half of a block: `x += Wo · attention(rope(Wq·n), rope(Wk·n), Wv·n)` with
/// `n = rmsnorm(x) · attn_norm`, keys and values going through the paged cache.
extension TransformerTextModel {
    func attentionBlock(_ l: Int, _ context: BatchContext, _ trace: ActivationTrace) {
        // The cache holds self-attention layers only (cross-attention layers keep theirs with the image).
        let cacheLayer = configuration.cacheLayers[l]!
        let c = configuration, s = runState, layer = weights.layers[l]
        let n = context.rows, d = c.embeddingLength, hd = c.headDimension
        let qWidth = c.queryWidth, kvWidth = c.keyValueWidth, pairs = c.ropeDimensionCount / 2
        let x = s.hidden.pointer, normed = s.normed.pointer
        let q = s.query.pointer, k = s.key.pointer, v = s.value.pointer

        for i in 0..<n {
            TextKernels.rmsNorm(x + i * d, weight: layer.attentionNorm, epsilon: c.rmsNormEpsilon,
                                output: normed + i * d, count: d)
        }
        trace.emit("attn_norm", l, normed, rows: n, columns: d)

        // Qcur [n × qWidth], Kcur and Vcur [n × kvWidth].
        MatMul.multiply(layer.query, input: normed, batch: n, output: q, pool: pool)
        MatMul.multiply(layer.key, input: normed, batch: n, output: k, pool: pool)
        MatMul.multiply(layer.value, input: normed, batch: n, output: v, pool: pool)
        let plan = c.layerAttention[l], ropeOffset = plan.ropeSet * n * pairs
        for i in 0..<n {
            if let bias = layer.queryBias { TextKernels.add(bias, into: q + i * qWidth, count: qWidth) }
            if let bias = layer.keyBias { TextKernels.add(bias, into: k + i * kvWidth, count: kvWidth) }
            if let bias = layer.valueBias { TextKernels.add(bias, into: v + i * kvWidth, count: kvWidth) }
            if let norm = layer.queryNorm {
                for head in 0..<c.headCount {
                    let row = q + i * qWidth + head * hd
                    TextKernels.rmsNorm(row, weight: norm, epsilon: c.rmsNormEpsilon, output: row, count: hd)
                }
            }
            if let norm = layer.keyNorm {
                for head in 0..<c.keyValueHeadCount {
                    let row = k + i * kvWidth + head * hd
                    TextKernels.rmsNorm(row, weight: norm, epsilon: c.rmsNormEpsilon, output: row, count: hd)
                }
            }
            let cos = s.ropeCos.pointer + ropeOffset + i * pairs, sin = s.ropeSin.pointer + ropeOffset + i * pairs
            for head in 0..<c.headCount {
                TextKernels.rope(q + i * qWidth + head * hd, cos: cos, sin: sin, pairs: pairs, style: c.ropeStyle)
            }
            for head in 0..<c.keyValueHeadCount {
                TextKernels.rope(k + i * kvWidth + head * hd, cos: cos, sin: sin, pairs: pairs, style: c.ropeStyle)
            }
        }
        trace.emit("Qcur", l, q, rows: n, columns: qWidth)
        trace.emit("Kcur", l, k, rows: n, columns: kvWidth)
        trace.emit("Vcur", l, v, rows: n, columns: kvWidth)

        // Write this layer's keys and values into the reserved cache slots.
        for (i, slot) in context.slots.enumerated() {
            (cache.keys(layer: cacheLayer, block: slot.block) + slot.offset * kvWidth).update(from: k + i * kvWidth, count: kvWidth)
            (cache.values(layer: cacheLayer, block: slot.block) + slot.offset * kvWidth).update(from: v + i * kvWidth, count: kvWidth)
        }

        attend(layer: cacheLayer, context, window: plan.slidingWindow)
        trace.emit("kqv_out", l, s.attention.pointer, rows: n, columns: qWidth)

        MatMul.multiply(layer.attentionOutput, input: s.attention.pointer, batch: n, output: s.projected.pointer, pool: pool)
        trace.emit("attn_out", l, s.projected.pointer, rows: n, columns: d)
        if let norm = layer.postAttentionNorm {
            for i in 0..<n {
                TextKernels.rmsNorm(s.projected.pointer + i * d, weight: norm, epsilon: c.rmsNormEpsilon,
                                    output: s.projected.pointer + i * d, count: d)
            }
            trace.emit("attn_post_norm", l, s.projected.pointer, rows: n, columns: d)
        }
        TextKernels.add(s.projected.pointer, into: x, count: n * d)
        trace.emit("ffn_inp", l, x, rows: n, columns: d)
    }

    /// Attention of every item over its own sequence's cache, positions
    /// `context.keyStart(i, window) ..< context.keyEnds[i]` (causal: up to its own position;
    /// a sliding window starts `window − 1` before it; an image row that attends both ways
    /// sees to the end of its image), one task per (item, kv head) on the pool. The
    /// `groupSize` query heads that share a kv head are handled together, so each cached key
    /// and value row is read from memory once per item rather than once per query head.
    /// `l` is the cache layer.
    private func attend(layer l: Int, _ context: BatchContext, window: Int?) {
        // Runs of at least `blasBatchThreshold` consecutive positions of one sequence (a
        // prompt) take matrix products; everything else (decode steps) goes item by item.
        var itemwise: [Int] = []
        var start = 0
        while start < context.rows {
            var end = start + 1
            while end < context.rows, context.positions[end] == context.positions[end - 1] + 1,
                  context.tables[end] == context.tables[start] { end += 1 }
            if end - start >= MatMul.blasBatchThreshold {
                attendRun(layer: l, context, rows: start..<end, window: window)
            } else {
                itemwise.append(contentsOf: start..<end)
            }
            start = end
        }
        if !itemwise.isEmpty { attendItems(layer: l, context, items: itemwise, window: window) }
    }

    /// Attention of a run of consecutive positions of one sequence through sgemm: per query
    /// head and chunk of rows, scores = Q·Kᵀ over the keys the chunk can see, a causal softmax
    /// per row, then output = P·V. The keys and values of each kv head are first gathered out
    /// of the paged cache into contiguous `[length × hd]` matrices.
    private func attendRun(layer l: Int, _ context: BatchContext, rows: Range<Int>, window: Int?) {
        let c = configuration, s = runState
        let hd = c.headDimension, qWidth = c.queryWidth, kvWidth = c.keyValueWidth
        let kvHeads = c.keyValueHeadCount, group = c.groupSize, blockSize = cache.blockSize
        let scale = c.attentionScale
        let q = s.query.pointer, out = s.attention.pointer, cache = self.cache
        let table = context.tables[rows.lowerBound]
        let length = context.keyEnds[rows].max()!
        let chunkRows = 64
        let chunks = (rows.count + chunkRows - 1) / chunkRows

        // keys, values: [kvHeads × length × hd] each.
        let keys = UnsafeMutablePointer<Float>.allocate(capacity: kvHeads * length * hd)
        let values = UnsafeMutablePointer<Float>.allocate(capacity: kvHeads * length * hd)
        defer { keys.deallocate(); values.deallocate() }
        pool.run(kvHeads) { kvHead in
            let k = keys + kvHead * length * hd, v = values + kvHead * length * hd
            for position in 0..<length {
                let block = table[position / blockSize], offset = (position % blockSize) * kvWidth + kvHead * hd
                (k + position * hd).update(from: cache.keys(layer: l, block: block) + offset, count: hd)
                (v + position * hd).update(from: cache.values(layer: l, block: block) + offset, count: hd)
            }
        }

        // One single-threaded sgemm pair per task; the pool provides the parallelism.
        openblas_set_num_threads(1)
        pool.run(kvHeads * group * chunks) { task in
            let chunk = task % chunks, head = task / chunks, kvHead = head / group
            let first = rows.lowerBound + chunk * chunkRows
            let count = min(chunkRows, rows.upperBound - first)
            // Keys visible to any row of the chunk.
            let visible = context.keyEnds[first..<(first + count)].max()!
            let scores = UnsafeMutablePointer<Float>.allocate(capacity: count * visible)   // [count × visible]
            defer { scores.deallocate() }
            let queries = q + first * qWidth + head * hd
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(count), Int32(visible), Int32(hd),
                        scale, queries, Int32(qWidth), keys + kvHead * length * hd, Int32(hd),
                        0, scores, Int32(visible))
            for r in 0..<count {
                let row = scores + r * visible
                let start = context.keyStart(first + r, window: window), end = context.keyEnds[first + r]
                TextKernels.softmax(row + start, count: end - start)
                if start > 0 { row.update(repeating: 0, count: start) }
                if end < visible { (row + end).update(repeating: 0, count: visible - end) }
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(count), Int32(hd), Int32(visible),
                        1, scores, Int32(visible), values + kvHead * length * hd, Int32(hd),
                        0, out + first * qWidth + head * hd, Int32(qWidth))
        }
    }

    /// Attention of single items (decode steps), one task per (item, kv head).
    private func attendItems(layer l: Int, _ context: BatchContext, items: [Int], window: Int?) {
        let c = configuration, s = runState
        let hd = c.headDimension, qWidth = c.queryWidth, kvWidth = c.keyValueWidth
        let kvHeads = c.keyValueHeadCount, group = c.groupSize, blockSize = cache.blockSize
        let scale = c.attentionScale
        let q = s.query.pointer, out = s.attention.pointer
        let longest = items.map { context.keyEnds[$0] }.max() ?? 1
        let cache = self.cache

        pool.parallelFor(items.count * kvHeads) { tasks in
            // scores [group × longest]
            let scores = UnsafeMutablePointer<Float>.allocate(capacity: group * longest)
            defer { scores.deallocate() }
            for task in tasks {
                let i = items[task / kvHeads], kvHead = task % kvHeads
                let first = context.keyStart(i, window: window), length = context.keyEnds[i], table = context.tables[i]
                let firstHead = kvHead * group
                let queries = q + i * qWidth + firstHead * hd          // [group × hd]
                // Positions first..<length, block by block; scores[g][p − first].
                func forEachKey(_ body: (_ index: Int, _ block: Int, _ offset: Int) -> Void) {
                    var p = first
                    while p < length {
                        let block = table[p / blockSize], offset = p % blockSize
                        let run = min(blockSize - offset, length - p)
                        for o in 0..<run { body(p + o - first, block, offset + o) }
                        p += run
                    }
                }
                forEachKey { index, block, offset in
                    let key = cache.keys(layer: l, block: block) + kvHead * hd + offset * kvWidth
                    for g in 0..<group {
                        scores[g * longest + index] = MatMul.dot(queries + g * hd, key, hd) * scale
                    }
                }
                for g in 0..<group { TextKernels.softmax(scores + g * longest, count: length - first) }
                let o = out + i * qWidth + firstHead * hd               // [group × hd]
                o.update(repeating: 0, count: group * hd)
                forEachKey { index, block, offset in
                    let value = cache.values(layer: l, block: block) + kvHead * hd + offset * kvWidth
                    for g in 0..<group {
                        TextKernels.accumulate(scores[g * longest + index], value, into: o + g * hd, count: hd)
                    }
                }
            }
        }
    }
}

extension TextKernels {
    /// `y += a · x` over `n` elements.
    @inline(__always)
    static func accumulate(_ a: Float, _ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count n: Int) {
        var i = 0
        let va = Vector(repeating: a)
        while i + width <= n {
            store(load(y, i) + va * load(x, i), y, i)
            i += width
        }
        while i < n {
            y[i] += a * x[i]
            i += 1
        }
    }
}
