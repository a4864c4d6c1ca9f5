import COpenBLAS

/// Attention of query rows over contiguous keys and values, with grouped heads and a mask:
/// the kernel shared by the vision encoders and the text model's cross-attention. (The text
/// model's self-attention reads its keys from the paged cache with the same scores → masked
/// softmax → weighted values steps.)
///
/// Per head and chunk of rows: `scores = Q·Kᵀ · scale` (sgemm), masked entries set to −∞, a
/// softmax per row, then `output = P·V` (sgemm). One task per (head, chunk) on the pool.
enum MaskedAttention {
    enum Mask: Sendable {
        /// Every query sees every key.
        case none
        /// HF mllama's vision mask: a query that is padding does not see keys that are padding;
        /// every other pair is visible. `[rows]` (queries and keys are the same tokens).
        case paddingPairs([Bool])
    }

    /// The shapes of one call. Head h of a row starts at `h · headDimension`; query head h
    /// reads key/value head `h / (heads / kvHeads)`.
    struct Shape {
        var rows: Int
        var keys: Int
        var heads: Int
        var kvHeads: Int
        var headDimension: Int
        /// Floats between consecutive rows of q and of the output, and of k and v.
        var queryStride: Int
        var keyValueStride: Int
        var outputStride: Int
    }

    static let chunkRows = 64

    /// `output[rows × outputStride]` ← attention of `q` over `k`, `v`.
    static func attend(_ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>, _ v: UnsafePointer<Float>,
                       into output: UnsafeMutablePointer<Float>, shape s: Shape, mask: Mask, pool: ThreadPool) {
        guard s.rows > 0 else { return }
        precondition(s.keys > 0 && s.kvHeads > 0 && s.heads % s.kvHeads == 0)
        let hd = s.headDimension, group = s.heads / s.kvHeads, keys = s.keys
        let scale = 1 / Float(hd).squareRoot()
        let chunks = (s.rows + chunkRows - 1) / chunkRows
        openblas_set_num_threads(1)
        pool.run(s.heads * chunks) { task in
            let head = task / chunks, chunk = task % chunks, kvHead = head / group
            let first = chunk * chunkRows, count = min(chunkRows, s.rows - first)
            let scores = UnsafeMutablePointer<Float>.allocate(capacity: count * keys)   // [count × keys]
            defer { scores.deallocate() }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(count), Int32(keys), Int32(hd),
                        scale, q + first * s.queryStride + head * hd, Int32(s.queryStride),
                        k + kvHead * hd, Int32(s.keyValueStride), 0, scores, Int32(keys))
            for r in 0..<count {
                let row = scores + r * keys
                if case .paddingPairs(let padding) = mask, padding[first + r] {
                    for j in 0..<keys where padding[j] { row[j] = -.infinity }
                }
                TextKernels.softmax(row, count: keys)
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(count), Int32(hd), Int32(keys),
                        1, scores, Int32(keys), v + kvHead * hd, Int32(s.keyValueStride),
                        0, output + first * s.outputStride + head * hd, Int32(s.outputStride))
        }
    }
}
