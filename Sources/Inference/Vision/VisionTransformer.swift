import COpenBLAS
import Foundation
import GGUF

/// Turns an image into embeddings in the text model's space: the seam between images and
/// the language model (fake implementations serve tests).
public protocol VisionEncoder: AnyObject, Sendable {
    var configuration: VisionConfiguration { get }
    /// Width of each embedding (the text model's embedding length).
    var embeddingWidth: Int { get }
    /// Preprocesses `image` into tiles and encodes each.
    func encode(_ image: RGBImage) -> ImageEmbeddings
}

/// The embeddings of one image, tile by tile, in the order the projector type places them
/// in the prompt.
public struct ImageEmbeddings: Sendable {
    public struct Tile: Sendable {
        public let kind: ImageTile.Kind
        /// `[tokenCount × width]`.
        public let values: [Float]
    }

    public let width: Int
    public let tiles: [Tile]
    /// Grid of the tiles that are not the overview (1 × 1 for a single image).
    public let rows: Int, columns: Int

    public var tokenCount: Int { tiles.reduce(0) { $0 + $1.values.count } / max(1, width) }
    /// All tiles' embeddings, one after another: `[tokenCount × width]`.
    public var flattened: [Float] { tiles.flatMap(\.values) }
}

/// Opens and loads the vision projector (`mmproj`) at `path`.
public func loadVisionEncoder(path: String, threads: Int = ThreadPool.coreCount) throws(VisionError) -> VisionTransformer {
    let file: GGUFFile
    do {
        file = try GGUFFile(path: path)
    } catch {
        throw VisionError(kind: .file(error))
    }
    return try VisionTransformer(file: file, pool: ThreadPool(threadCount: threads))
}

/// A ViT (CLIP or SigLIP) with its projector, run on the CPU: patch embedding as a matrix
/// product, pre-norm blocks with full (non-causal) attention, matrices through `MatMul`
/// (OpenBLAS sgemm for the batched products), all cores through the pool.
public final class VisionTransformer: VisionEncoder, @unchecked Sendable {
    public let configuration: VisionConfiguration
    public let weights: VisionWeights
    public let pool: ThreadPool
    private let lock = NSLock()

    public init(file: GGUFFile, pool: ThreadPool = ThreadPool()) throws(VisionError) {
        configuration = try VisionConfiguration(file: file)
        weights = try VisionWeights(file: file, configuration: configuration)
        self.pool = pool
    }

    public var embeddingWidth: Int { weights.projector.outputWidth }

    public func encode(_ image: RGBImage) -> ImageEmbeddings {
        let tiles = ImagePreprocessor(configuration: configuration).tiles(of: image)
        var encoded: [ImageEmbeddings.Tile] = []
        for tile in tiles {
            encoded.append(ImageEmbeddings.Tile(kind: tile.kind, values: encode(tile: tile.pixels)))
        }
        let grid = tiles.compactMap { tile -> (Int, Int)? in
            if case .grid(let row, let column) = tile.kind { return (row, column) }
            return nil
        }
        return ImageEmbeddings(width: embeddingWidth, tiles: encoded,
                               rows: (grid.map(\.0).max() ?? 0) + 1, columns: (grid.map(\.1).max() ?? 0) + 1)
    }

    /// Encodes one preprocessed tile, planar f32 `[3 × imageSize × imageSize]`, into
    /// `[tokenCount × embeddingWidth]`.
    public func encode(tile pixels: [Float]) -> [Float] {
        lock.lock()
        defer { lock.unlock() }
        let c = configuration, w = weights
        let d = c.embeddingLength, p = c.patchSize, side = c.patchesPerSide, size = c.imageSize
        let patches = c.patchCount
        let hasClass = w.classEmbedding != nil
        let n = patches + (hasClass ? 1 : 0)
        precondition(pixels.count == 3 * size * size, "a tile must be 3 × \(size) × \(size) floats")

        // Patches as rows of [channel][ky][kx], then the patch embedding.
        let k = 3 * p * p
        var columns = [Float](repeating: 0, count: patches * k)
        pixels.withUnsafeBufferPointer { source in
            columns.withUnsafeMutableBufferPointer {
                VisionKernels.patchRows(source.baseAddress!, size: size, patch: p, into: $0.baseAddress!)
            }
        }
        var x = [Float](repeating: 0, count: n * d)
        x.withUnsafeMutableBufferPointer { xb in
            let x = xb.baseAddress!
            let first = hasClass ? 1 : 0
            columns.withUnsafeBufferPointer {
                MatMul.multiply(w.patchEmbedding, input: $0.baseAddress!, batch: patches, output: x + first * d, pool: pool)
            }
            if let bias = w.patchBias {
                for i in first..<n { TextKernels.add(bias, into: x + i * d, count: d) }
            }
            // As trained (HF): the class token first, at position 0.
            if let classEmbedding = w.classEmbedding { x.update(from: classEmbedding, count: d) }
            TextKernels.add(w.positionEmbedding, into: x, count: n * d)
            if let norm = w.preNorm {
                for i in 0..<n { VisionKernels.layerNorm(x + i * d, weight: norm.weight, bias: norm.bias,
                                                         epsilon: c.layerNormEpsilon, output: x + i * d, count: d) }
            }
        }

        var saved: [Int: [Float]] = [:]
        let run = c.layersToRun
        let scratch = VisionScratch()
        for layer in 0..<run {
            if c.featureLayers.contains(layer) { saved[layer] = x }
            weights.blocks[layer].run(&x, rows: n, headCount: c.headCount, epsilon: c.layerNormEpsilon,
                                      activation: c.activation, mask: .none, pool: pool, scratch: scratch)
        }
        if c.featureLayers.isEmpty, w.projector.appliesPostNorm, let norm = w.postNorm {
            x.withUnsafeMutableBufferPointer { xb in
                for i in 0..<n { VisionKernels.layerNorm(xb.baseAddress! + i * d, weight: norm.weight, bias: norm.bias,
                                                         epsilon: c.layerNormEpsilon, output: xb.baseAddress! + i * d, count: d) }
            }
        }
        if c.featureLayers.contains(run) { saved[run] = x }

        // Features per patch: the chosen hidden states side by side, the class token dropped.
        let layers = c.featureLayers.isEmpty ? [run] : c.featureLayers
        if c.featureLayers.isEmpty { saved[run] = x }
        let width = d * layers.count
        var features = [Float](repeating: 0, count: patches * width)
        for (j, layer) in layers.enumerated() {
            let states = saved[layer]!
            for patch in 0..<patches {
                let source = (patch + (hasClass ? 1 : 0)) * d
                for e in 0..<d { features[patch * width + j * d + e] = states[source + e] }
            }
        }
        return w.projector.project(features, patchesPerSide: side, width: width, pool: pool)
    }
}
