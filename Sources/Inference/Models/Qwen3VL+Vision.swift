import COpenBLAS
import Foundation
import GGUF

/// The merged image embeddings of one image and its deepstack features: `values` and each
/// `deepstack[k]` are `[rows · columns × width]`, one row per merged unit (2×2 patches) in
/// row-major order over the merged grid.
public struct Qwen3VLImageEmbeddings: Sendable {
    public var values: [Float]
    /// Entry k is added to the image's rows after text layer k.
    public var deepstack: [[Float]]
    /// The merged grid (patches / merge size).
    public var rows: Int
    public var columns: Int
    public var width: Int

    public var tokenCount: Int { rows * columns }
}

/// Qwen3-VL's vision tower and mergers (`clip.projector_type = qwen3vl_merger`), as HF's
/// `Qwen3VLVisionModel` runs it on one still image:
///
/// 1. patches (`Qwen2VLImageProcessor`, factor 32) in merge-block order; the Conv3d patch
///    embedding is the per-frame kernels `v.patch_embd.weight` and `.weight.1` on the two
///    (identical) frames, plus `v.patch_embd.bias`;
/// 2. the learned `side × side` position table `v.position_embd.weight`, resampled bilinearly
///    with aligned corners to the patch grid, added to each patch;
/// 3. blocks `x += Wo·attn(ln1(x)) + bo`, `x += Wdown·act(Wup·ln2(x) + bup) + bdown` (LayerNorms
///    with biases, fused `attn_qkv`, act GELU-tanh by `clip.use_gelu`), full attention with the
///    2-D rope of Qwen2.5-VL (head pair i < hd/4 by the patch row, the next hd/4 by the column,
///    θ_k = 10000^(−4k/hd), rotate-half layout);
/// 4. after each block flagged in `clip.vision.is_deepstack_layers`, a deepstack merger: the
///    unit's 4 patches concatenated, LayerNorm over them, `fc2 · gelu_erf(fc1 · u)`;
/// 5. the main merger: `v.post_ln` (LayerNorm) per patch, concatenated, `mm.2 · gelu_erf(mm.0 · u)`.
///
/// Patches in merge-block order make the merged units row-major, so nothing is permuted back.
public final class Qwen3VLVisionEncoder: @unchecked Sendable {
    struct Block {
        var qkv, output, up, down: WeightMatrix
        var qkvBias, outputBias, upBias, downBias: [Float]
        var norm1, norm1Bias, norm2, norm2Bias: [Float]
    }

    /// LayerNorm over `normWidth`-wide rows (a patch or a whole unit), then `fc2 · gelu_erf(fc1 · u)`.
    struct Merger {
        var norm, normBias: [Float]
        var normWidth: Int
        var fc1, fc2: WeightMatrix
        var fc1Bias, fc2Bias: [Float]
    }

    /// The mapped file the weight matrices point into.
    public let file: GGUFFile
    public let processor: Qwen2VLImageProcessor
    public let embeddingLength: Int
    public let headCount: Int
    public let epsilon: Float
    public let activation: VisionActivation
    /// Vision blocks whose outputs feed the deepstack mergers, ascending (HF's `deepstack_visual_indexes`).
    public let deepstackLayers: [Int]
    /// Side of the learned position grid (`√num_position_embeddings`).
    public let positionSide: Int
    public let outputWidth: Int
    public let pool: ThreadPool

    /// The 2-D rope base; llama.cpp and HF's configs use 10000 and the file has no key for it.
    static let ropeBase: Float = 10000

    /// `[embeddingLength × patchLength]`, columns `[channel][frame][ky][kx]` like HF's patches.
    let patchEmbedding: [Float]
    let patchBias: [Float]
    /// `[positionSide² × embeddingLength]`, row-major over the grid.
    let positionTable: [Float]
    let blocks: [Block]
    let merger: Merger
    /// One per entry of `deepstackLayers`.
    let deepstackMergers: [Merger]
    /// Called with each named activation, rows in merge-block order (`inp_pos_emb`,
    /// `layer_out.N`, `deepstack.N`, `embeddings`); for parity debugging.
    public var observer: (@Sendable (String, [Float]) -> Void)?
    private let lock = NSLock()

    public static let projectorType = "qwen3vl_merger"

    /// Whether `file` is a Qwen3-VL projector this type runs.
    public static func accepts(_ file: GGUFFile) -> Bool { QwenVisionHeader.accepts(file, types: [projectorType]) }

    /// `minPixels`/`maxPixels` override the file's `clip.vision.image_min_pixels`/`image_max_pixels`,
    /// which default to llama.cpp's 8 to 4096 merged tokens.
    public init(file: GGUFFile, pool: ThreadPool = ThreadPool(), minPixels: Int? = nil, maxPixels: Int? = nil) throws(VisionError) {
        let path = file.path
        self.file = file
        let header = try QwenVisionHeader(file: file, projectorTypes: [Self.projectorType], minPixels: minPixels, maxPixels: maxPixels)
        let keys = header.keys
        let patchSize = header.patchSize, d = header.embeddingLength, ff = try header.feedForwardLength()
        let blockCount = header.blockCount, heads = header.headCount, mergeSize = header.mergeSize, eps = header.epsilon
        let gelu = try keys.optionalBool("use_gelu") ?? false, silu = try keys.optionalBool("use_silu") ?? false
        guard !(gelu && silu) else { throw keys.invalid("use_silu", true, "clip.use_gelu is set too; only one activation can be") }
        activation = gelu ? .gelu : silu ? .silu : .geluQuick
        processor = header.processor
        embeddingLength = d
        headCount = heads
        epsilon = eps
        self.pool = pool

        // Deepstack blocks: the per-block flags, else the blocks that have deepstack tensors (as llama.cpp finds them).
        let flagsKey = "vision.is_deepstack_layers"
        switch file.value(forKey: keys.key(flagsKey)) {
        case nil: deepstackLayers = (0..<blockCount).filter { file.tensor(named: "v.deepstack.\($0).fc1.weight") != nil }
        case .array(.bool(let flags))?:
            guard flags.count == blockCount else { throw keys.invalid(flagsKey, flags, "it needs one flag per block (\(blockCount))") }
            deepstackLayers = flags.indices.filter { flags[$0] }
        case let value?: throw keys.invalid(flagsKey, value.typeDescription, "it must be an array of bool")
        }

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
        patchBias = try load.vector("v.patch_embd.bias", length: d)
        let positionName = "v.position_embd.weight"
        guard let positions = file.tensor(named: positionName) else { throw VisionError(file: path, kind: .missingTensor(positionName)) }
        let side = positions.dimensions.count == 2 ? Int(Double(positions.dimensions[1]).squareRoot().rounded()) : 0
        guard positions.dimensions.count == 2, positions.dimensions[0] == d, side > 0, side * side == positions.dimensions[1] else {
            throw VisionError(file: path, kind: .wrongShape(tensor: positionName, expected: [d, -1], found: positions.dimensions))
        }
        positionSide = side
        positionTable = try load.values(positionName, dimensions: [d, side * side])

        var blocks: [Block] = []
        for l in 0..<blockCount {
            let b = "v.blk.\(l)."
            blocks.append(Block(
                qkv: try load.matrix(b + "attn_qkv.weight", rows: 3 * d, columns: d),
                output: try load.matrix(b + "attn_out.weight", rows: d, columns: d),
                up: try load.matrix(b + "ffn_up.weight", rows: ff, columns: d),
                down: try load.matrix(b + "ffn_down.weight", rows: d, columns: ff),
                qkvBias: try load.vector(b + "attn_qkv.bias", length: 3 * d),
                outputBias: try load.vector(b + "attn_out.bias", length: d),
                upBias: try load.vector(b + "ffn_up.bias", length: ff),
                downBias: try load.vector(b + "ffn_down.bias", length: d),
                norm1: try load.vector(b + "ln1.weight", length: d), norm1Bias: try load.vector(b + "ln1.bias", length: d),
                norm2: try load.vector(b + "ln2.weight", length: d), norm2Bias: try load.vector(b + "ln2.bias", length: d)))
        }
        self.blocks = blocks

        let unit = d * mergeSize * mergeSize
        /// A merger with its fc1 width read from the file, and its fc2 width too unless given.
        func loadMerger(norm: String, normWidth: Int, fc1: String, fc2: String, width: Int? = nil) throws(VisionError) -> Merger {
            func outputs(_ name: String, inputs: Int, expected: Int? = nil) throws(VisionError) -> Int {
                guard let info = file.tensor(named: name) else { throw VisionError(file: path, kind: .missingTensor(name)) }
                guard info.dimensions.count == 2, info.dimensions[0] == inputs, info.dimensions[1] > 0,
                      expected == nil || info.dimensions[1] == expected else {
                    throw VisionError(file: path, kind: .wrongShape(tensor: name, expected: [inputs, expected ?? -1], found: info.dimensions))
                }
                return info.dimensions[1]
            }
            let hidden = try outputs(fc1 + ".weight", inputs: unit)
            let width = try outputs(fc2 + ".weight", inputs: hidden, expected: width)
            return Merger(norm: try load.vector(norm + ".weight", length: normWidth),
                          normBias: try load.vector(norm + ".bias", length: normWidth), normWidth: normWidth,
                          fc1: try load.matrix(fc1 + ".weight", rows: hidden, columns: unit),
                          fc2: try load.matrix(fc2 + ".weight", rows: width, columns: hidden),
                          fc1Bias: try load.vector(fc1 + ".bias", length: hidden),
                          fc2Bias: try load.vector(fc2 + ".bias", length: width))
        }
        merger = try loadMerger(norm: "v.post_ln", normWidth: d, fc1: "mm.0", fc2: "mm.2")
        outputWidth = merger.fc2.rows
        var deepstack: [Merger] = []
        for l in deepstackLayers {
            let prefix = "v.deepstack.\(l)."
            deepstack.append(try loadMerger(norm: prefix + "norm", normWidth: unit, fc1: prefix + "fc1", fc2: prefix + "fc2",
                                            width: outputWidth))
        }
        deepstackMergers = deepstack
        if let projection = try keys.optionalInt("vision.projection_dim"), projection != outputWidth {
            throw keys.invalid("vision.projection_dim", projection, "tensor 'mm.2.weight' projects to \(outputWidth)")
        }
    }

    /// Preprocesses and encodes `image`.
    public func encode(_ image: RGBImage) throws(VisionError) -> Qwen3VLImageEmbeddings {
        let input = try processor.patches(image)
        return encode(patches: input.values, gridRows: input.gridRows, gridColumns: input.gridColumns)
    }

    /// The position table resampled to a `rows × columns` patch grid as HF's
    /// `get_vision_interpolation_indices_and_weights` (bilinear, aligned corners) does it in f32:
    /// `[rows · columns × width]`, row-major over the grid.
    static func interpolatedPositions(_ table: [Float], side: Int, width d: Int, rows: Int, columns: Int) -> [Float] {
        precondition(table.count == side * side * d && rows > 0 && columns > 0)
        /// The two taps on an axis of `size` target positions and their weights.
        func taps(_ index: Int, _ size: Int) -> [(Int, Float)] {
            let source = Float(index) * Float(side - 1) / Float(max(size - 1, 1)), floor = source.rounded(.down)
            return (0..<2).map { o in (min(Int(floor) + o, side - 1), max(0, 1 - abs(source - floor - Float(o)))) }
        }
        var values = [Float](repeating: 0, count: rows * columns * d)
        for r in 0..<rows {
            let vertical = taps(r, rows)
            for c in 0..<columns {
                let horizontal = taps(c, columns), target = (r * columns + c) * d
                for (y, wy) in vertical {
                    for (x, wx) in horizontal {
                        let weight = wy * wx, source = (y * side + x) * d
                        for e in 0..<d { values[target + e] += table[source + e] * weight }
                    }
                }
            }
        }
        return values
    }

    /// Encodes patches in HF's layout (`[gridRows · gridColumns × patchLength]`, merge-block order).
    func encode(patches: [Float], gridRows: Int, gridColumns: Int) -> Qwen3VLImageEmbeddings {
        lock.lock()
        defer { lock.unlock() }
        let m = processor.mergeSize, d = embeddingLength
        let n = gridRows * gridColumns, length = processor.patchLength
        let rows = gridRows / m, columns = gridColumns / m, units = rows * columns
        precondition(patches.count == n * length && gridRows % m == 0 && gridColumns % m == 0 && n > 0)

        // Patch embedding, x [n × d] in merge-block order, plus its bias and the resampled positions.
        var x = [Float](repeating: 0, count: n * d)
        // One OpenBLAS thread, as for every sgemm here: left at its default, the first image of a
        // process split this product over OpenBLAS's own threads and rounded differently from
        // the next, after another product had set one thread.
        openblas_set_num_threads(1)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(d), Int32(length),
                    1, patches, Int32(length), patchEmbedding, Int32(length), 0, &x, Int32(d))
        let positions = Self.interpolatedPositions(positionTable, side: positionSide, width: d, rows: gridRows, columns: gridColumns)
        let hd = d / headCount, quarter = hd / 4
        var cos = [Float](repeating: 0, count: n * hd / 2), sin = cos       // [n × hd/2]
        let inverseFrequencies = (0..<quarter).map { k in 1 / powf(Self.ropeBase, Float(2 * k) / Float(hd / 2)) }
        for i in 0..<n {
            let unit = i / (m * m), s = i % (m * m)
            let row = (unit / columns) * m + s / m, column = (unit % columns) * m + s % m
            for e in 0..<d { x[i * d + e] += patchBias[e] + positions[(row * gridColumns + column) * d + e] }
            for k in 0..<quarter {
                let angles = (Float(row) * inverseFrequencies[k], Float(column) * inverseFrequencies[k])
                cos[i * hd / 2 + k] = cosf(angles.0)
                sin[i * hd / 2 + k] = sinf(angles.0)
                cos[i * hd / 2 + quarter + k] = cosf(angles.1)
                sin[i * hd / 2 + quarter + k] = sinf(angles.1)
            }
        }
        observer?("inp_pos_emb", x)

        var deepstack: [[Float]] = []
        for (l, block) in blocks.enumerated() {
            run(block, &x, rows: n, cos: cos, sin: sin)
            observer?("layer_out.\(l)", x)
            if let k = deepstackLayers.firstIndex(of: l) {
                deepstack.append(project(deepstackMergers[k], x, units: units))
                observer?("deepstack.\(l)", deepstack[k])
            }
        }
        let values = project(merger, x, units: units)                             // [units × outputWidth]
        observer?("embeddings", values)
        return Qwen3VLImageEmbeddings(values: values, deepstack: deepstack, rows: rows, columns: columns, width: outputWidth)
    }

    /// A merger over `x` `[n × d]` (units of consecutive patches): `[units × fc2.rows]`.
    private func project(_ merger: Merger, _ x: [Float], units: Int) -> [Float] {
        let normalized = layerNorm(x, merger.norm, merger.normBias, width: merger.normWidth)
        var hidden = linear(merger.fc1, merger.fc1Bias, normalized, rows: units)    // [units × hidden]
        hidden.withUnsafeMutableBufferPointer { hb in
            let h = hb.baseAddress!, width = merger.fc1.rows
            pool.parallelFor(units, granularity: 4) { r in VisionKernels.geluErf(h + r.lowerBound * width, count: r.count * width) }
        }
        return linear(merger.fc2, merger.fc2Bias, hidden, rows: units)
    }

    /// `W · x + b` for `rows` input rows.
    private func linear(_ weights: WeightMatrix, _ bias: [Float], _ input: [Float], rows: Int) -> [Float] {
        VisionRows.linear(weights, bias, input, rows: rows, pool: pool)
    }

    /// LayerNorm of each `width`-wide row of `x`.
    private func layerNorm(_ x: [Float], _ weight: [Float], _ bias: [Float], width: Int) -> [Float] {
        VisionRows.layerNorm(x, weight: weight, bias: bias, width: width, epsilon: epsilon, pool: pool)
    }

    /// `x += y`, split over the pool.
    private func add(_ y: [Float], into x: inout [Float]) {
        VisionRows.add(y, into: &x, width: embeddingLength, pool: pool)
    }

    /// One block over `x` `[n × d]`, every patch attending to every patch.
    private func run(_ block: Block, _ x: inout [Float], rows n: Int, cos: [Float], sin: [Float]) {
        let d = embeddingLength, hd = d / headCount, heads = headCount
        var qkv = linear(block.qkv, block.qkvBias, layerNorm(x, block.norm1, block.norm1Bias, width: d), rows: n)  // [n × (q, k, v)]
        qkv.withUnsafeMutableBufferPointer { tb in
            cos.withUnsafeBufferPointer { c in
                sin.withUnsafeBufferPointer { s in
                    let t = tb.baseAddress!, c = c.baseAddress!, s = s.baseAddress!
                    pool.parallelFor(n, granularity: 8) { range in
                        for i in range {
                            for head in 0..<(2 * heads) {   // q's heads, then k's
                                TextKernels.rope(t + i * 3 * d + head * hd, cos: c + i * hd / 2, sin: s + i * hd / 2,
                                                 pairs: hd / 2, style: .halves)
                            }
                        }
                    }
                }
            }
        }
        var attention = [Float](repeating: 0, count: n * d)
        qkv.withUnsafeBufferPointer { tb in
            attention.withUnsafeMutableBufferPointer { ob in
                let t = tb.baseAddress!
                MaskedAttention.attend(t, t + d, t + 2 * d, into: ob.baseAddress!,
                                       shape: .init(rows: n, keys: n, heads: heads, kvHeads: heads, headDimension: hd,
                                                    queryStride: 3 * d, keyValueStride: 3 * d, outputStride: d),
                                       mask: .none, pool: pool)
            }
        }
        add(linear(block.output, block.outputBias, attention, rows: n), into: &x)

        var up = linear(block.up, block.upBias, layerNorm(x, block.norm2, block.norm2Bias, width: d), rows: n)
        up.withUnsafeMutableBufferPointer { ub in
            let u = ub.baseAddress!, ff = block.up.rows, activation = activation
            pool.parallelFor(n, granularity: 8) { r in VisionKernels.activate(activation, u + r.lowerBound * ff, count: r.count * ff) }
        }
        add(linear(block.down, block.downBias, up, rows: n), into: &x)
    }
}
