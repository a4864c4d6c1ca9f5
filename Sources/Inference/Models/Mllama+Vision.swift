import Foundation
import GGUF

/// The preprocessed image an mllama vision tower reads: the tiles actually used, planar f32
/// `[usedTiles × 3 × S × S]` in row-major tile order, and the aspect-ratio id of their grid.
public struct MllamaTiles: Sendable {
    public var pixels: [Float]
    public var usedTiles: Int
    /// 1-based index into the supported aspect ratios.
    public var aspectRatioID: Int

    public init(pixels: [Float], usedTiles: Int, aspectRatioID: Int) {
        self.pixels = pixels
        self.usedTiles = usedTiles
        self.aspectRatioID = aspectRatioID
    }
}

/// Llama 3.2 Vision's encoder, as HF runs it:
///
/// 1. every tile up to `maxTiles` (padding tiles are zero pixels): patch embedding, the
///    pre-tile (aspect-ratio) embedding, the class token first, the gated position and tile
///    position embeddings, pre-LN; each tile padded with zero rows to a multiple of 8 tokens;
/// 2. the local encoder over all tiles' tokens together, where a padding token does not attend
///    to padding tokens (every other pair attends), keeping the outputs of the intermediate
///    layers; post-LN; the post-tile embedding; the gated global encoder, same mask;
/// 3. per real token: the final state, then the intermediate states interleaved
///    (feature e of layer k at `e·K + k`), projected by `mm.0` to the text width.
///
/// Returns the states of every tile (padding tiles too: a text row with no image in view
/// averages over all of them).
public final class MllamaVisionEncoder: @unchecked Sendable {
    public let configuration: MllamaVisionConfiguration
    public let weights: MllamaVisionWeights
    public let pool: ThreadPool
    private let lock = NSLock()
    /// Called with each named activation (`inp_pre_ln`, `local_out`, `post_ln`, `global_out`,
    /// `features`, `projected`); for parity debugging.
    public var observer: (@Sendable (String, [Float]) -> Void)?

    public init(file: GGUFFile, pool: ThreadPool = ThreadPool()) throws(VisionError) {
        configuration = try MllamaVisionConfiguration(file: file)
        weights = try MllamaVisionWeights(file: file, configuration: configuration)
        self.pool = pool
    }

    public var preprocessor: MllamaImagePreprocessor {
        MllamaImagePreprocessor(imageSize: configuration.imageSize, maxTiles: configuration.maxTiles,
                                mean: configuration.imageMean, std: configuration.imageStd)
    }

    /// Called after each encoder layer with (layers done, layers in all): an image takes
    /// minutes at the 11B's size on a few cores.
    public typealias Progress = (_ done: Int, _ total: Int) -> Void

    /// Preprocesses and encodes `image`.
    public func encode(_ image: RGBImage, progress: Progress? = nil) -> CrossAttentionStates {
        let input = preprocessor.process(image)
        return encode(MllamaTiles(pixels: input.pixels, usedTiles: input.tileCount, aspectRatioID: input.aspectRatioID),
                      progress: progress)
    }

    public func encode(_ tiles: MllamaTiles, progress: Progress? = nil) -> CrossAttentionStates {
        lock.lock()
        defer { lock.unlock() }
        let c = configuration, w = weights
        let d = c.embeddingLength, p = c.patchSize, size = c.imageSize
        let tileCount = c.maxTiles, n = c.tokensPerTile, np = c.paddedTokensPerTile, patches = n - 1
        let used = min(tiles.usedTiles, tileCount), ratio = tiles.aspectRatioID
        precondition(tiles.pixels.count >= used * 3 * size * size)
        let rows = tileCount * np

        // x [tileCount × np × d]: padding rows stay zero until the encoders.
        var x = [Float](repeating: 0, count: rows * d)
        let preTile = w.row(w.preTileEmbedding, ratio), postTile = w.row(w.postTileEmbedding, ratio)
        let tilePosition = w.row(w.tilePositionEmbedding, ratio)
        let k = 3 * p * p
        var columns = [Float](repeating: 0, count: patches * k)
        x.withUnsafeMutableBufferPointer { xb in
            let x = xb.baseAddress!
            for t in 0..<tileCount {
                let tile = x + t * np * d
                if t < used {
                    tiles.pixels.withUnsafeBufferPointer { source in
                        columns.withUnsafeMutableBufferPointer {
                            VisionKernels.patchRows(source.baseAddress! + t * 3 * size * size, size: size, patch: p, into: $0.baseAddress!)
                        }
                    }
                    columns.withUnsafeBufferPointer {
                        MatMul.multiply(w.patchEmbedding, input: $0.baseAddress!, batch: patches, output: tile + d, pool: pool)
                    }
                }
                for i in 1..<n {
                    for e in 0..<d { tile[i * d + e] += w.preTileGate * preTile[t * d + e] }
                }
                tile.update(from: w.classEmbedding, count: d)
                for i in 0..<n {
                    for e in 0..<d {
                        tile[i * d + e] += w.positionGate * w.positionEmbedding[i * d + e]
                            + w.tilePositionGate * tilePosition[(t * n + i) * d + e]
                    }
                    VisionKernels.layerNorm(tile + i * d, weight: w.preNorm.weight, bias: w.preNorm.bias,
                                            epsilon: 1e-5, output: tile + i * d, count: d)
                }
            }
        }
        observer?("inp_pre_ln", x)
        let padding = (0..<rows).map { $0 / np >= used || $0 % np >= n }

        var saved: [Int: [Float]] = [:]
        let layerCount = w.layers.count + w.globalLayers.count
        let scratch = VisionScratch()
        for (l, layer) in w.layers.enumerated() {
            layer.run(&x, rows: rows, headCount: c.headCount, epsilon: c.layerNormEpsilon, activation: .geluErf,
                      mask: .paddingPairs(padding), pool: pool, scratch: scratch)
            if c.intermediateLayers.contains(l) { saved[l] = x }
            progress?(l + 1, layerCount)
        }
        observer?("local_out", x)
        x.withUnsafeMutableBufferPointer { xb in
            for r in 0..<rows {
                VisionKernels.layerNorm(xb.baseAddress! + r * d, weight: w.postNorm.weight, bias: w.postNorm.bias,
                                        epsilon: 1e-5, output: xb.baseAddress! + r * d, count: d)
                let t = r / np
                for e in 0..<d { xb[r * d + e] += w.postTileGate * postTile[t * d + e] }
            }
        }
        observer?("post_tile", x)
        for (l, layer) in w.globalLayers.enumerated() {
            layer.run(&x, rows: rows, headCount: c.headCount, epsilon: c.layerNormEpsilon, activation: .geluErf,
                      mask: .paddingPairs(padding), pool: pool, scratch: scratch)
            progress?(w.layers.count + l + 1, layerCount)
        }
        observer?("global_out", x)

        // Features of the real tokens of every tile: [tileCount·n × outputLength].
        let layers = c.intermediateLayers, count = layers.count, width = c.outputLength
        var features = [Float](repeating: 0, count: tileCount * n * width)
        for t in 0..<tileCount {
            for i in 0..<n {
                let source = (t * np + i) * d, target = (t * n + i) * width
                for e in 0..<d { features[target + e] = x[source + e] }
                for (j, l) in layers.enumerated() {
                    let states = saved[l]!
                    for e in 0..<d { features[target + d + e * count + j] = states[source + e] }
                }
            }
        }
        observer?("features", features)
        var projected = [Float](repeating: 0, count: tileCount * n * c.projectionLength)
        features.withUnsafeBufferPointer { input in
            projected.withUnsafeMutableBufferPointer { output in
                MatMul.multiply(w.projector, input: input.baseAddress!, batch: tileCount * n, output: output.baseAddress!, pool: pool)
                for r in 0..<(tileCount * n) {
                    TextKernels.add(w.projectorBias, into: output.baseAddress! + r * c.projectionLength, count: c.projectionLength)
                }
            }
        }
        observer?("projected", projected)
        return CrossAttentionStates(values: projected, tileCount: tileCount, usedTiles: used, tokensPerTile: n,
                                    width: c.projectionLength)
    }
}
