import COpenBLAS
import Foundation
import GGUF

/// The merged image embeddings of one image: `values` `[rows · columns × width]`, one row per
/// merged unit (2×2 patches) in row-major order over the merged grid.
public struct Qwen2VLImageEmbeddings: Sendable {
    public var values: [Float]
    /// The merged grid (patches / merge size).
    public var rows: Int
    public var columns: Int
    public var width: Int

    public var tokenCount: Int { rows * columns }
}

/// Qwen2.5-VL's vision tower and merger (`clip.projector_type = qwen2.5vl_merger`), as HF's
/// `Qwen2_5_VisionTransformerPretrainedModel` runs it on one still image:
///
/// 1. patches (`Qwen2VLImageProcessor`) in merge-block order; the Conv3d patch embedding is the
///    two per-frame kernels `v.patch_embd.weight` and `.weight.1` applied to the two (identical)
///    frames, no bias;
/// 2. merged units permuted into windows of `windowSize` px (4×4 units at 112 px), row-major
///    over windows, partial windows at the right and bottom edges;
/// 3. blocks `x += Wo·attn(rms(x)) + bo`, `x += Wdown·(silu(Wgate·rms(x)) ⊙ Wup·rms(x))` (biases
///    everywhere), with 2-D rope on q and k (head pair i < hd/4 by the patch row, the next hd/4 by
///    the column, θ_k = 10000^(−4k/hd), rotate-half layout); block l attends over all patches
///    when (l + 1) % `clip.vision.n_wa_pattern` == 0, else within its window;
/// 4. the merger: `v.post_ln` (RMSNorm) per patch, each unit's 4 patches concatenated,
///    `mm.2 · gelu_erf(mm.0 · u)`, then the window permutation undone.
public final class Qwen2VLVisionEncoder: @unchecked Sendable {
    struct Block {
        var query, key, value, output: WeightMatrix
        var queryBias, keyBias, valueBias, outputBias: [Float]
        var gate, up, down: WeightMatrix
        var gateBias, upBias, downBias: [Float]
        var norm1, norm2: [Float]
    }

    /// The mapped file the weight matrices point into.
    public let file: GGUFFile
    public let processor: Qwen2VLImageProcessor
    public let embeddingLength: Int
    public let headCount: Int
    public let epsilon: Float
    /// Side of an attention window in pixels (HF's `window_size`).
    public let windowSize: Int
    /// Block l is full attention when (l + 1) % pattern == 0; 0: every block is.
    public let fullAttentionPattern: Int
    public let outputWidth: Int
    public let pool: ThreadPool

    /// `[embeddingLength × patchLength]`, columns `[channel][frame][ky][kx]` like HF's patches.
    let patchEmbedding: [Float]
    let blocks: [Block]
    let postNorm: [Float]
    let merger0: WeightMatrix, merger0Bias: [Float]
    let merger2: WeightMatrix, merger2Bias: [Float]
    /// Tests only: every block attends over all patches.
    var treatsAllBlocksAsFullAttention = false
    /// Called with each named activation, rows in window order until `merged` (`inp_windowed`,
    /// `layer_out.N`, `post_ln`, `merged`, then `embeddings` in row-major order); for parity debugging.
    public var observer: (@Sendable (String, [Float]) -> Void)?
    private let lock = NSLock()

    public static let projectorType = "qwen2.5vl_merger"

    /// Whether `file` is a Qwen2.5-VL projector this type runs.
    public static func accepts(_ file: GGUFFile) -> Bool { QwenVisionHeader.accepts(file, type: projectorType) }

    /// `minPixels`/`maxPixels` override the file's `clip.vision.image_min_pixels`/`image_max_pixels`,
    /// which default to llama.cpp's 8 to 4096 merged tokens.
    public init(file: GGUFFile, pool: ThreadPool = ThreadPool(), minPixels: Int? = nil, maxPixels: Int? = nil) throws(VisionError) {
        let path = file.path
        self.file = file
        let header = try QwenVisionHeader(file: file, projectorType: Self.projectorType, minPixels: minPixels, maxPixels: maxPixels)
        let keys = header.keys
        let patchSize = header.patchSize, d = header.embeddingLength, ff = header.feedForwardLength
        let blockCount = header.blockCount, heads = header.headCount, mergeSize = header.mergeSize, eps = header.epsilon
        guard let pattern = try keys.optionalInt("vision.n_wa_pattern") else { throw keys.missing("vision.n_wa_pattern") }
        guard pattern >= 0, pattern <= blockCount else {
            throw keys.invalid("vision.n_wa_pattern", pattern, "it must be in 0...\(blockCount) (block_count)")
        }
        let window = try keys.positive("vision.window_size", default: 112)
        guard window % (patchSize * mergeSize) == 0 else {
            throw keys.invalid("vision.window_size", window, "it must be a multiple of patch_size × merge size (\(patchSize * mergeSize))")
        }
        processor = header.processor
        embeddingLength = d
        headCount = heads
        epsilon = eps
        windowSize = window
        fullAttentionPattern = pattern
        self.pool = pool

        let load = TensorLoader<VisionError>(vision: file)
        let p = patchSize, frames = processor.temporalPatchSize
        // Per frame {p, p, 3, d}: row e holds [channel][ky][kx]; interleave into [channel][frame][ky][kx].
        let kernels = [try load.values("v.patch_embd.weight", dimensions: [p, p, 3, d]),
                       try load.values("v.patch_embd.weight.1", dimensions: [p, p, 3, d])]
        let length = processor.patchLength, area = p * p
        var embedding = [Float](repeating: 0, count: d * length)
        for e in 0..<d {
            for c in 0..<3 {
                for t in 0..<frames {
                    for i in 0..<area { embedding[e * length + (c * frames + t) * area + i] = kernels[t][(e * 3 + c) * area + i] }
                }
            }
        }
        patchEmbedding = embedding
        var blocks: [Block] = []
        for l in 0..<blockCount {
            let b = "v.blk.\(l)."
            blocks.append(Block(
                query: try load.matrix(b + "attn_q.weight", rows: d, columns: d),
                key: try load.matrix(b + "attn_k.weight", rows: d, columns: d),
                value: try load.matrix(b + "attn_v.weight", rows: d, columns: d),
                output: try load.matrix(b + "attn_out.weight", rows: d, columns: d),
                queryBias: try load.vector(b + "attn_q.bias", length: d),
                keyBias: try load.vector(b + "attn_k.bias", length: d),
                valueBias: try load.vector(b + "attn_v.bias", length: d),
                outputBias: try load.vector(b + "attn_out.bias", length: d),
                gate: try load.matrix(b + "ffn_gate.weight", rows: ff, columns: d),
                up: try load.matrix(b + "ffn_up.weight", rows: ff, columns: d),
                down: try load.matrix(b + "ffn_down.weight", rows: d, columns: ff),
                gateBias: try load.vector(b + "ffn_gate.bias", length: ff),
                upBias: try load.vector(b + "ffn_up.bias", length: ff),
                downBias: try load.vector(b + "ffn_down.bias", length: d),
                norm1: try load.vector(b + "ln1.weight", length: d),
                norm2: try load.vector(b + "ln2.weight", length: d)))
        }
        self.blocks = blocks
        postNorm = try load.vector("v.post_ln.weight", length: d)
        let unit = d * mergeSize * mergeSize
        guard let info = file.tensor(named: "mm.0.weight") else { throw VisionError(file: path, kind: .missingTensor("mm.0.weight")) }
        guard info.dimensions.count == 2, info.dimensions[0] == unit, info.dimensions[1] > 0 else {
            throw VisionError(file: path, kind: .wrongShape(tensor: "mm.0.weight", expected: [unit, -1], found: info.dimensions))
        }
        let hidden = info.dimensions[1]
        merger0 = try load.matrix("mm.0.weight", rows: hidden, columns: unit)
        merger0Bias = try load.vector("mm.0.bias", length: hidden)
        guard let info2 = file.tensor(named: "mm.2.weight") else { throw VisionError(file: path, kind: .missingTensor("mm.2.weight")) }
        guard info2.dimensions.count == 2, info2.dimensions[0] == hidden, info2.dimensions[1] > 0 else {
            throw VisionError(file: path, kind: .wrongShape(tensor: "mm.2.weight", expected: [hidden, -1], found: info2.dimensions))
        }
        outputWidth = info2.dimensions[1]
        merger2 = try load.matrix("mm.2.weight", rows: outputWidth, columns: hidden)
        merger2Bias = try load.vector("mm.2.bias", length: outputWidth)
        if let projection = try keys.optionalInt("vision.projection_dim"), projection != outputWidth {
            throw keys.invalid("vision.projection_dim", projection, "tensor 'mm.2.weight' projects to \(outputWidth)")
        }
    }

    /// Preprocesses and encodes `image`.
    public func encode(_ image: RGBImage) throws(VisionError) -> Qwen2VLImageEmbeddings {
        let input = try processor.patches(image)
        return encode(patches: input.values, gridRows: input.gridRows, gridColumns: input.gridColumns)
    }

    /// HF's window permutation of one image's merged units (`window_index`, row-major units
    /// `[rows × columns]`) and the window boundaries in patches (`cu_window_seqlens`).
    static func windows(rows: Int, columns: Int, unitsPerWindow k: Int, unitPatches: Int) -> (index: [Int], bounds: [Int]) {
        var index: [Int] = [], bounds = [0]
        for top in stride(from: 0, to: rows, by: k) {
            for left in stride(from: 0, to: columns, by: k) {
                for r in top..<min(top + k, rows) {
                    for c in left..<min(left + k, columns) { index.append(r * columns + c) }
                }
                bounds.append(index.count * unitPatches)
            }
        }
        return (index, bounds)
    }

    /// Encodes patches in HF's layout (`[gridRows · gridColumns × patchLength]`, merge-block order).
    func encode(patches: [Float], gridRows: Int, gridColumns: Int) -> Qwen2VLImageEmbeddings {
        lock.lock()
        defer { lock.unlock() }
        let m = processor.mergeSize, unitPatches = m * m, d = embeddingLength
        let n = gridRows * gridColumns, length = processor.patchLength
        let rows = gridRows / m, columns = gridColumns / m, units = rows * columns
        precondition(patches.count == n * length && gridRows % m == 0 && gridColumns % m == 0 && n > 0)
        let (window, bounds) = Self.windows(rows: rows, columns: columns,
                                            unitsPerWindow: windowSize / (processor.patchSize * m), unitPatches: unitPatches)

        // Patch embedding, x [n × d] in merge-block order.
        var embedded = [Float](repeating: 0, count: n * d)
        // One OpenBLAS thread, as for every sgemm here: left at its default, the first image of a
        // process split this product over OpenBLAS's own threads and rounded differently from
        // the next, after another product had set one thread.
        openblas_set_num_threads(1)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(d), Int32(length),
                    1, patches, Int32(length), patchEmbedding, Int32(length), 0, &embedded, Int32(d))
        // Window order: unit j of the permuted sequence is unit window[j]; rope angles alike.
        let hd = d / headCount, quarter = hd / 4
        var x = [Float](repeating: 0, count: n * d)
        var cos = [Float](repeating: 0, count: n * hd / 2), sin = cos       // [n × hd/2]
        let inverseFrequencies = (0..<quarter).map { k in 1 / powf(10000, Float(2 * k) / Float(hd / 2)) }
        for (j, unit) in window.enumerated() {
            let blockRow = unit / columns, blockColumn = unit % columns
            for s in 0..<unitPatches {
                let source = unit * unitPatches + s, target = j * unitPatches + s
                for e in 0..<d { x[target * d + e] = embedded[source * d + e] }
                let row = Float(blockRow * m + s / m), column = Float(blockColumn * m + s % m)
                for k in 0..<quarter {
                    let angles = (row * inverseFrequencies[k], column * inverseFrequencies[k])
                    cos[target * hd / 2 + k] = cosf(angles.0)
                    sin[target * hd / 2 + k] = sinf(angles.0)
                    cos[target * hd / 2 + quarter + k] = cosf(angles.1)
                    sin[target * hd / 2 + quarter + k] = sinf(angles.1)
                }
            }
        }

        observer?("inp_windowed", x)
        let everything = [0, n]
        for (l, block) in blocks.enumerated() {
            let full = treatsAllBlocksAsFullAttention || fullAttentionPattern == 0 || (l + 1) % fullAttentionPattern == 0
            run(block, &x, rows: n, cos: cos, sin: sin, windows: full ? everything : bounds)
            observer?("layer_out.\(l)", x)
        }

        // Merger: RMSNorm per patch, [units × 4d] → mm.0 → GELU → mm.2, back to row-major units.
        x.withUnsafeMutableBufferPointer { normalize($0.baseAddress!, into: $0.baseAddress!, weight: postNorm, rows: n) }
        observer?("post_ln", x)
        var hidden = linear(merger0, merger0Bias, x, rows: units)                 // [units × hidden]
        hidden.withUnsafeMutableBufferPointer { hb in
            let h = hb.baseAddress!, width = merger0.rows
            pool.parallelFor(units, granularity: 4) { r in VisionKernels.geluErf(h + r.lowerBound * width, count: r.count * width) }
        }
        let merged = linear(merger2, merger2Bias, hidden, rows: units)            // [units × outputWidth]
        observer?("merged", merged)
        var values = [Float](repeating: 0, count: units * outputWidth)
        for (j, unit) in window.enumerated() {
            for e in 0..<outputWidth { values[unit * outputWidth + e] = merged[j * outputWidth + e] }
        }
        observer?("embeddings", values)
        return Qwen2VLImageEmbeddings(values: values, rows: rows, columns: columns, width: outputWidth)
    }

    /// `W · x + b` for `rows` input rows.
    private func linear(_ weights: WeightMatrix, _ bias: [Float], _ input: [Float], rows: Int) -> [Float] {
        var output = [Float](repeating: 0, count: rows * weights.rows)
        input.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in
                let y = y.baseAddress!
                MatMul.multiply(weights, input: x.baseAddress!, batch: rows, output: y, pool: pool)
                bias.withUnsafeBufferPointer { b in
                    pool.parallelFor(rows, granularity: 8) { range in
                        for r in range { TextKernels.add(b.baseAddress!, into: y + r * weights.rows, count: weights.rows) }
                    }
                }
            }
        }
        return output
    }

    /// RMSNorm of each `d`-wide row of `x` into `y` (which may be `x`), split over the pool.
    private func normalize(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, weight: [Float], rows: Int) {
        let d = embeddingLength
        weight.withUnsafeBufferPointer { wb in
            let w = wb.baseAddress!
            pool.parallelFor(rows, granularity: 8) { range in
                for i in range { TextKernels.rmsNorm(x + i * d, weight: w, epsilon: epsilon, output: y + i * d, count: d) }
            }
        }
    }

    /// `x += y`, split over the pool.
    private func add(_ y: [Float], into x: inout [Float]) {
        let d = embeddingLength
        y.withUnsafeBufferPointer { yb in
            x.withUnsafeMutableBufferPointer { xb in
                let x = xb.baseAddress!, y = yb.baseAddress!
                pool.parallelFor(xb.count / d, granularity: 8) { r in
                    TextKernels.add(y + r.lowerBound * d, into: x + r.lowerBound * d, count: r.count * d)
                }
            }
        }
    }

    /// One block over `x` `[n × d]`; attention within each `[windows[i], windows[i+1])`.
    private func run(_ block: Block, _ x: inout [Float], rows n: Int, cos: [Float], sin: [Float], windows: [Int]) {
        let d = embeddingLength, hd = d / headCount
        var h = [Float](repeating: 0, count: n * d)
        func normalize(_ weight: [Float]) {
            x.withUnsafeBufferPointer { xb in
                h.withUnsafeMutableBufferPointer { self.normalize(xb.baseAddress!, into: $0.baseAddress!, weight: weight, rows: n) }
            }
        }
        normalize(block.norm1)
        var q = linear(block.query, block.queryBias, h, rows: n)
        var k = linear(block.key, block.keyBias, h, rows: n)
        let v = linear(block.value, block.valueBias, h, rows: n)
        func rotate(_ t: inout [Float]) {
            t.withUnsafeMutableBufferPointer { tb in
                cos.withUnsafeBufferPointer { c in
                    sin.withUnsafeBufferPointer { s in
                        let t = tb.baseAddress!, c = c.baseAddress!, s = s.baseAddress!, heads = headCount
                        pool.parallelFor(n, granularity: 8) { range in
                            for i in range {
                                for head in 0..<heads {
                                    TextKernels.rope(t + i * d + head * hd, cos: c + i * hd / 2, sin: s + i * hd / 2,
                                                     pairs: hd / 2, style: .halves)
                                }
                            }
                        }
                    }
                }
            }
        }
        rotate(&q)
        rotate(&k)
        var attention = [Float](repeating: 0, count: n * d)
        q.withUnsafeBufferPointer { qb in
            k.withUnsafeBufferPointer { kb in
                v.withUnsafeBufferPointer { vb in
                    attention.withUnsafeMutableBufferPointer { ob in
                        for w in 0..<(windows.count - 1) where windows[w + 1] > windows[w] {
                            let start = windows[w], count = windows[w + 1] - windows[w], offset = start * d
                            MaskedAttention.attend(qb.baseAddress! + offset, kb.baseAddress! + offset, vb.baseAddress! + offset,
                                                   into: ob.baseAddress! + offset,
                                                   shape: .init(rows: count, keys: count, heads: headCount, kvHeads: headCount,
                                                                headDimension: hd, queryStride: d, keyValueStride: d, outputStride: d),
                                                   mask: .none, pool: pool)
                        }
                    }
                }
            }
        }
        let projected = linear(block.output, block.outputBias, attention, rows: n)
        add(projected, into: &x)

        normalize(block.norm2)
        var gate = linear(block.gate, block.gateBias, h, rows: n)
        let up = linear(block.up, block.upBias, h, rows: n)
        gate.withUnsafeMutableBufferPointer { gb in
            up.withUnsafeBufferPointer { ub in
                let g = gb.baseAddress!, u = ub.baseAddress!, ff = block.gate.rows
                pool.parallelFor(n, granularity: 8) { r in
                    TextKernels.siluMultiply(g + r.lowerBound * ff, up: u + r.lowerBound * ff, count: r.count * ff)
                }
            }
        }
        let down = linear(block.down, block.downBias, gate, rows: n)
        add(down, into: &x)
    }
}
