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

/// The vision tower and merger of Qwen2.5-VL (`clip.projector_type = qwen2.5vl_merger`) and of
/// Qwen2-VL (`qwen2vl_merger`), as HF's `Qwen2_5_VisionTransformerPretrainedModel` and
/// `Qwen2VisionTransformerPretrainedModel` run them on one still image:
///
/// 1. patches (`Qwen2VLImageProcessor`) in merge-block order; the Conv3d patch embedding is the
///    two per-frame kernels `v.patch_embd.weight` and `.weight.1` applied to the two (identical)
///    frames, no bias;
/// 2. Qwen2.5-VL: merged units permuted into windows of `windowSize` px (4×4 units at 112 px),
///    row-major over windows, partial windows at the right and bottom edges (Qwen2-VL: none);
/// 3. blocks with 2-D rope on q and k (head pair i < hd/4 by the patch row, the next hd/4 by the
///    column, θ_k = 10000^(−4k/hd), rotate-half layout) and biases everywhere:
///    - Qwen2.5-VL: `x += Wo·attn(rms(x)) + bo`, `x += Wdown·(silu(Wgate·rms(x)) ⊙ Wup·rms(x))`;
///      block l attends over all patches when (l + 1) % `clip.vision.n_wa_pattern` == 0, else
///      within its window;
///    - Qwen2-VL: `x += Wo·attn(ln1(x)) + bo`, `x += Wdown·act(Wup·ln2(x))` with LayerNorms
///      (weight and bias), act quick GELU `x·σ(1.702x)` (`clip.use_gelu`/`use_silu` pick GELU-tanh
///      or SiLU, as in llama.cpp), every block over all patches;
/// 4. the merger: `v.post_ln` per patch (RMSNorm; Qwen2-VL: LayerNorm with bias), each unit's 4
///    patches concatenated, `mm.2 · gelu_erf(mm.0 · u)`, then the window permutation undone.
public final class Qwen2VLVisionEncoder: @unchecked Sendable {
    /// Which tower a projector file holds, by its `clip.projector_type`.
    public enum Variant: String, Sendable, CaseIterable {
        /// Qwen2-VL: LayerNorms, `fc2 · act(fc1 · x)`, no windows.
        case qwen2VL = "qwen2vl_merger"
        /// Qwen2.5-VL: RMSNorms, SwiGLU, window attention.
        case qwen25VL = "qwen2.5vl_merger"
    }

    struct Block {
        var query, key, value, output: WeightMatrix
        var queryBias, keyBias, valueBias, outputBias: [Float]
        /// Qwen2.5-VL's SwiGLU gate; nil for Qwen2-VL's plain MLP.
        var gate: WeightMatrix?
        var gateBias: [Float]?
        var up, down: WeightMatrix
        var upBias, downBias: [Float]
        var norm1, norm2: [Float]
        /// Qwen2-VL's LayerNorm biases; nil for Qwen2.5-VL's RMSNorms.
        var norm1Bias, norm2Bias: [Float]?
    }

    /// The mapped file the weight matrices point into.
    public let file: GGUFFile
    public let variant: Variant
    public let processor: Qwen2VLImageProcessor
    public let embeddingLength: Int
    /// The MLP width (Qwen2-VL: read from `ffn_up`, not from `clip.vision.feed_forward_length`).
    public let feedForwardLength: Int
    public let headCount: Int
    public let epsilon: Float
    /// Qwen2-VL's block activation; Qwen2.5-VL's SwiGLU is always SiLU.
    public let activation: VisionActivation
    /// Side of an attention window in pixels (HF's `window_size`); nil: no windows (Qwen2-VL).
    public let windowSize: Int?
    /// Block l is full attention when (l + 1) % pattern == 0; 0: every block is.
    public let fullAttentionPattern: Int
    /// Whether the file stores `ffn_up` and `ffn_down` under each other's names (llama.cpp's
    /// legacy `qwen2_vl_surgery.py`), told by their shapes as clip.cpp tells it.
    public let storesSwappedFeedForward: Bool
    public let outputWidth: Int
    public let pool: ThreadPool

    /// `[embeddingLength × patchLength]`, columns `[channel][frame][ky][kx]` like HF's patches.
    let patchEmbedding: [Float]
    let blocks: [Block]
    let postNorm: [Float]
    /// Qwen2-VL's merger LayerNorm bias; nil for Qwen2.5-VL's RMSNorm.
    let postNormBias: [Float]?
    let merger0: WeightMatrix, merger0Bias: [Float]
    let merger2: WeightMatrix, merger2Bias: [Float]
    /// Tests only: every block attends over all patches.
    var treatsAllBlocksAsFullAttention = false
    /// Called with each named activation, rows in window order until `merged` (`inp_windowed`,
    /// `layer_out.N`, `post_ln`, `merged`, then `embeddings` in row-major order); for parity debugging.
    public var observer: (@Sendable (String, [Float]) -> Void)?
    private let lock = NSLock()

    /// The projector types this encoder runs.
    public static let projectorTypes = Variant.allCases.map(\.rawValue)

    /// Whether `file` is a Qwen2-VL or Qwen2.5-VL projector this type runs.
    public static func accepts(_ file: GGUFFile) -> Bool { QwenVisionHeader.accepts(file, types: projectorTypes) }

    /// `minPixels`/`maxPixels` override the file's `clip.vision.image_min_pixels`/`image_max_pixels`,
    /// which default to llama.cpp's 8 to 4096 merged tokens.
    public init(file: GGUFFile, pool: ThreadPool = ThreadPool(), minPixels: Int? = nil, maxPixels: Int? = nil) throws(VisionError) {
        let path = file.path
        self.file = file
        let header = try QwenVisionHeader(file: file, projectorTypes: Self.projectorTypes, minPixels: minPixels, maxPixels: maxPixels)
        let keys = header.keys
        guard let variant = Variant(rawValue: header.projectorType) else {
            throw VisionError(file: path, kind: .unsupportedProjector(header.projectorType))
        }
        let patchSize = header.patchSize, d = header.embeddingLength
        let blockCount = header.blockCount, heads = header.headCount, mergeSize = header.mergeSize, eps = header.epsilon
        let load = TensorLoader<VisionError>(vision: file)
        let ff: Int, swapped: Bool
        switch variant {
        case .qwen25VL:
            ff = try header.feedForwardLength()
            swapped = false
            guard let pattern = try keys.optionalInt("vision.n_wa_pattern") else { throw keys.missing("vision.n_wa_pattern") }
            guard pattern >= 0, pattern <= blockCount else {
                throw keys.invalid("vision.n_wa_pattern", pattern, "it must be in 0...\(blockCount) (block_count)")
            }
            let window = try keys.positive("vision.window_size", default: 112)
            guard window % (patchSize * mergeSize) == 0 else {
                throw keys.invalid("vision.window_size", window, "it must be a multiple of patch_size × merge size (\(patchSize * mergeSize))")
            }
            windowSize = window
            fullAttentionPattern = pattern
            activation = .silu
        case .qwen2VL:
            (ff, swapped) = try Self.feedForwardShape(file, embeddingLength: d)
            windowSize = nil
            fullAttentionPattern = 0
            let gelu = try keys.optionalBool("use_gelu") ?? false, silu = try keys.optionalBool("use_silu") ?? false
            guard !(gelu && silu) else { throw keys.invalid("use_silu", true, "clip.use_gelu is set too; only one activation can be") }
            activation = gelu ? .gelu : silu ? .silu : .geluQuick
        }
        self.variant = variant
        processor = header.processor
        embeddingLength = d
        feedForwardLength = ff
        storesSwappedFeedForward = swapped
        headCount = heads
        epsilon = eps
        self.pool = pool

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
        let layerNorms = variant == .qwen2VL
        var blocks: [Block] = []
        for l in 0..<blockCount {
            let b = "v.blk.\(l).", up = b + (swapped ? "ffn_down" : "ffn_up"), down = b + (swapped ? "ffn_up" : "ffn_down")
            blocks.append(Block(
                query: try load.matrix(b + "attn_q.weight", rows: d, columns: d),
                key: try load.matrix(b + "attn_k.weight", rows: d, columns: d),
                value: try load.matrix(b + "attn_v.weight", rows: d, columns: d),
                output: try load.matrix(b + "attn_out.weight", rows: d, columns: d),
                queryBias: try load.vector(b + "attn_q.bias", length: d),
                keyBias: try load.vector(b + "attn_k.bias", length: d),
                valueBias: try load.vector(b + "attn_v.bias", length: d),
                outputBias: try load.vector(b + "attn_out.bias", length: d),
                gate: try layerNorms ? nil : load.matrix(b + "ffn_gate.weight", rows: ff, columns: d),
                gateBias: try layerNorms ? nil : load.vector(b + "ffn_gate.bias", length: ff),
                up: try load.matrix(up + ".weight", rows: ff, columns: d),
                down: try load.matrix(down + ".weight", rows: d, columns: ff),
                upBias: try load.vector(up + ".bias", length: ff),
                downBias: try load.vector(down + ".bias", length: d),
                norm1: try load.vector(b + "ln1.weight", length: d),
                norm2: try load.vector(b + "ln2.weight", length: d),
                norm1Bias: try layerNorms ? load.vector(b + "ln1.bias", length: d) : nil,
                norm2Bias: try layerNorms ? load.vector(b + "ln2.bias", length: d) : nil))
        }
        self.blocks = blocks
        postNorm = try load.vector("v.post_ln.weight", length: d)
        postNormBias = try layerNorms ? load.vector("v.post_ln.bias", length: d) : nil
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

    /// The MLP width of a Qwen2-VL file and whether `ffn_up`/`ffn_down` are stored swapped,
    /// from block 0's tensors: `ffn_up` is `{d, ff}`; the legacy surgery script's `ffn_down` is
    /// (clip.cpp swaps when `ffn_down`'s first dimension is `d`; with ff = d the names are kept).
    static func feedForwardShape(_ file: GGUFFile, embeddingLength d: Int) throws(VisionError) -> (width: Int, swapped: Bool) {
        let downName = "v.blk.0.ffn_down.weight", upName = "v.blk.0.ffn_up.weight"
        guard let down = file.tensor(named: downName) else { throw VisionError(file: file.path, kind: .missingTensor(downName)) }
        let swapped = down.dimensions.count == 2 && down.dimensions[0] == d && down.dimensions[1] != d
        let name = swapped ? downName : upName
        guard let up = swapped ? down : file.tensor(named: upName) else { throw VisionError(file: file.path, kind: .missingTensor(upName)) }
        guard up.dimensions.count == 2, up.dimensions[0] == d, up.dimensions[1] > 0 else {
            throw VisionError(file: file.path, kind: .wrongShape(tensor: name, expected: [d, -1], found: up.dimensions))
        }
        return (up.dimensions[1], swapped)
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
        let (window, bounds) = windowSize.map {
            Self.windows(rows: rows, columns: columns, unitsPerWindow: $0 / (processor.patchSize * m), unitPatches: unitPatches)
        } ?? (Array(0..<units), [0, n])

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

        // Merger: RMSNorm (LayerNorm) per patch, [units × 4d] → mm.0 → GELU → mm.2, back to row-major units.
        x.withUnsafeMutableBufferPointer { normalize($0.baseAddress!, into: $0.baseAddress!, weight: postNorm, bias: postNormBias, rows: n) }
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
}
