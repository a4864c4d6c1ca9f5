import CKernels
import Dispatch
import GGUF

/// Throughput of the matmul kernels on Llama-3.2-1B-shaped weights, next to the machine's read
/// bandwidth, for `ponder bench` and kernel work. Not a test: figures depend on the machine and
/// on what else runs on it, so compare ratios (GB/s of weights ÷ GB/s of a plain streaming read)
/// measured in one process.
///
/// Decode matmuls are memory-bound: their figure is weight bytes streamed per second (each call
/// uses another copy of the weights, so nothing is served from cache). Prompt matmuls are
/// compute-bound: their figure is GFLOP/s (2·rows·columns·batch per call).
public enum KernelBenchmark {
    public struct Measurement: Sendable, CustomStringConvertible {
        public enum Kind: String, Sendable { case bandwidth, decode, prompt }
        public let kind: Kind
        public let type: GGMLType?
        public let rows: Int
        public let columns: Int
        public let batch: Int
        public let threads: Int
        /// The path decode matmuls were asked to take (`.automatic` picks the SIMD kernels).
        public var path: MatMul.Path = .automatic
        /// Seconds per matmul call (per pass over the buffer for `bandwidth`).
        public let seconds: Double
        /// Weight (or buffer) bytes read per second, in GB/s (10⁹).
        public let gigabytesPerSecond: Double
        /// For prompt matmuls.
        public let gigaflopsPerSecond: Double
        /// `gigabytesPerSecond` over the read bandwidth measured with the same thread count.
        public var bandwidthRatio: Double?

        public var description: String {
            switch kind {
            case .bandwidth:
                return "bandwidth  threads \(threads): \(format(gigabytesPerSecond)) GB/s"
            case .decode:
                let ratio = bandwidthRatio.map { " = \(format($0 * 100))% of bandwidth" } ?? ""
                let path = path == .automatic ? "" : " (\(path) path)"
                return "decode \(type!) \(rows)×\(columns) batch \(batch) threads \(threads)\(path): "
                    + "\(format(seconds * 1e6)) µs, \(format(gigabytesPerSecond)) GB/s\(ratio), "
                    + "\(format(Double(batch) / seconds)) rows/s"
            case .prompt:
                return "prompt \(type!) \(rows)×\(columns) batch \(batch) threads \(threads): "
                    + "\(format(seconds * 1e3)) ms, \(format(gigaflopsPerSecond)) GFLOP/s"
            }
        }
    }

    /// Llama-3.2-1B projection shapes (rows × columns): attention, feed-forward up/gate, down.
    public static let llamaShapes: [(rows: Int, columns: Int)] = [(2048, 2048), (8192, 2048), (2048, 8192)]

    /// Runs the whole grid and reports each measurement as it completes. Each decode
    /// measurement is taken once per path in `decodePaths` (`.reference` gives the portable
    /// dequantize-and-dot figure to compare the kernels with).
    public static func run(types: [GGMLType] = [.q8_0, .q4_K], shapes: [(rows: Int, columns: Int)] = llamaShapes,
                           decodeBatches: [Int] = [1, 4], threadCounts: [Int] = [1, 2], promptBatch: Int = 512,
                           decodePaths: [MatMul.Path] = [.automatic],
                           report: (Measurement) -> Void = { print($0) }) -> [Measurement] {
        var results: [Measurement] = []
        func emit(_ m: Measurement) {
            results.append(m)
            report(m)
        }
        for threads in threadCounts {
            let pool = ThreadPool(threadCount: threads)
            let before = readBandwidth(pool: pool)
            emit(before)
            var decode: [Measurement] = []
            for type in types {
                for shape in shapes {
                    let weights = RotatingWeights(type: type, rows: shape.rows, columns: shape.columns)
                    for batch in decodeBatches {
                        for path in decodePaths {
                            decode.append(measureDecode(weights, batch: batch, pool: pool, path: path))
                        }
                    }
                }
            }
            let after = readBandwidth(pool: pool)
            emit(after)
            // Ratios against the mean of the readings taken before and after.
            let bandwidth = (before.gigabytesPerSecond + after.gigabytesPerSecond) / 2
            for var m in decode {
                m.bandwidthRatio = m.gigabytesPerSecond / bandwidth
                emit(m)
            }
            if promptBatch > 0 {
                for type in types {
                    for shape in shapes {
                        let weights = RotatingWeights(type: type, rows: shape.rows, columns: shape.columns, copies: 1)
                        emit(measurePrompt(weights, batch: promptBatch, pool: pool))
                    }
                }
            }
        }
        return results
    }

    /// Read bandwidth: a vectorized sum over a 1 GiB buffer split over the pool; best of `repeats`.
    public static func readBandwidth(pool: ThreadPool, bytes: Int = 1 << 30, repeats: Int = 3) -> Measurement {
        let count = bytes / 4
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
        defer { buffer.deallocate() }
        buffer.initialize(repeating: 1)
        let chunks = pool.threadCount * 8
        let perChunk = (count + chunks - 1) / chunks
        var best = Double.infinity
        var sink: Float = 0
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            let partial = UnsafeMutablePointer<Float>.allocate(capacity: chunks)
            pool.run(chunks) { chunk in
                let lower = chunk * perChunk, upper = min(count, lower + perChunk)
                partial[chunk] = lower < upper ? ck_stream_sum(buffer.baseAddress! + lower, Int64(upper - lower)) : 0
            }
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            for i in 0..<chunks { sink += partial[i] }
            partial.deallocate()
        }
        precondition(sink > 0)
        return Measurement(kind: .bandwidth, type: nil, rows: 0, columns: 0, batch: 0, threads: pool.threadCount,
                           seconds: best, gigabytesPerSecond: Double(bytes) / best / 1e9, gigaflopsPerSecond: 0)
    }

    static func measureDecode(_ weights: RotatingWeights, batch: Int, pool: ThreadPool,
                              path: MatMul.Path = .automatic) -> Measurement {
        let input = randomFloats(batch * weights.columns, seed: 1)
        let output = UnsafeMutablePointer<Float>.allocate(capacity: batch * weights.rows)
        defer { output.deallocate() }
        // One pass to fault in and warm up, then enough passes for about 0.3 s.
        for matrix in weights.matrices {
            MatMul.multiply(matrix, input: input, batch: batch, output: output, pool: pool, path: path)
        }
        var calls = 0
        let start = DispatchTime.now().uptimeNanoseconds
        var elapsed = 0.0
        while elapsed < 0.3 || calls < weights.matrices.count {
            for matrix in weights.matrices {
                MatMul.multiply(matrix, input: input, batch: batch, output: output, pool: pool, path: path)
            }
            calls += weights.matrices.count
            elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        input.deallocate()
        let seconds = elapsed / Double(calls)
        var measurement = Measurement(kind: .decode, type: weights.type, rows: weights.rows, columns: weights.columns,
                                      batch: batch, threads: pool.threadCount, seconds: seconds,
                                      gigabytesPerSecond: Double(weights.matrixBytes) / seconds / 1e9,
                                      gigaflopsPerSecond: 2 * Double(weights.rows * weights.columns * batch) / seconds / 1e9)
        measurement.path = path
        return measurement
    }

    static func measurePrompt(_ weights: RotatingWeights, batch: Int, pool: ThreadPool) -> Measurement {
        let input = randomFloats(batch * weights.columns, seed: 2)
        let output = UnsafeMutablePointer<Float>.allocate(capacity: batch * weights.rows)
        defer { output.deallocate(); input.deallocate() }
        let matrix = weights.matrices[0]
        MatMul.multiply(matrix, input: input, batch: batch, output: output, pool: pool)
        var best = Double.infinity
        for _ in 0..<3 {
            let start = DispatchTime.now().uptimeNanoseconds
            MatMul.multiply(matrix, input: input, batch: batch, output: output, pool: pool)
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return Measurement(kind: .prompt, type: weights.type, rows: weights.rows, columns: weights.columns,
                           batch: batch, threads: pool.threadCount, seconds: best,
                           gigabytesPerSecond: Double(weights.matrixBytes) / best / 1e9,
                           gigaflopsPerSecond: 2 * Double(weights.rows * weights.columns * batch) / best / 1e9)
    }

    static func randomFloats(_ count: Int, seed: UInt64) -> UnsafeMutablePointer<Float> {
        var state = seed
        let p = UnsafeMutablePointer<Float>.allocate(capacity: count)
        for i in 0..<count {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            p[i] = Float(Int32(truncatingIfNeeded: state >> 33)) / Float(1 << 30)  // about ±1
        }
        return p
    }
}

/// Copies of one random weight matrix, enough of them (≥ 256 MiB in all) that cycling through
/// them reads from memory rather than cache.
final class RotatingWeights {
    let type: GGMLType
    let rows: Int
    let columns: Int
    let matrixBytes: Int
    private let storage: UnsafeMutableRawBufferPointer
    let matrices: [WeightMatrix]

    init(type: GGMLType, rows: Int, columns: Int, copies: Int? = nil) {
        self.type = type
        self.rows = rows
        self.columns = columns
        matrixBytes = rows * (columns / type.blockSize * type.typeSize)
        let count = copies ?? max(2, (256 << 20) / matrixBytes + 1)
        storage = UnsafeMutableRawBufferPointer.allocate(byteCount: count * matrixBytes, alignment: 64)
        // Random bytes are valid quants; f16 fields are set to small finite scales below.
        var state: UInt64 = 0x243F_6A88_85A3_08D3
        let words = matrixBytes / 8
        let first = storage.baseAddress!
        for i in 0..<words {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            first.storeBytes(of: state ^ (state >> 29), toByteOffset: 8 * i, as: UInt64.self)
        }
        let scale = HalfFloat.f16Bits(from: 0.01)
        let halves: [Int]
        switch type {
        case .q4_0, .q5_0, .q8_0, .iq4_nl, .iq4_xs: halves = [0]
        case .q4_1, .q5_1, .q4_K, .q5_K: halves = [0, 2]
        case .q2_K: halves = [80, 82]
        case .q3_K: halves = [108]
        case .q6_K: halves = [208]
        default: halves = []
        }
        if type == .f32 {
            for i in 0..<(matrixBytes / 4) { first.storeBytes(of: Float(i % 7) * 0.01, toByteOffset: 4 * i, as: Float.self) }
        } else if type == .f16 || type == .bf16 {
            for i in 0..<(matrixBytes / 2) { first.storeBytes(of: scale, toByteOffset: 2 * i, as: UInt16.self) }
        } else {
            for block in 0..<(matrixBytes / type.typeSize) {
                for offset in halves {
                    first.storeBytes(of: scale, toByteOffset: block * type.typeSize + offset, as: UInt16.self)
                }
            }
        }
        for copy in 1..<max(1, count) {
            (first + copy * matrixBytes).copyMemory(from: first, byteCount: matrixBytes)
        }
        let raw = UnsafeRawBufferPointer(storage), matrixBytes = matrixBytes, type = type
        matrices = (0..<count).map { copy in
            WeightMatrix(name: "bench\(copy)", type: type, rows: rows, columns: columns,
                         data: UnsafeRawBufferPointer(rebasing: raw[(copy * matrixBytes)..<((copy + 1) * matrixBytes)]))
        }
    }

    deinit { storage.deallocate() }
}

private func format(_ x: Double) -> String {
    let scaled = (x * 10).rounded() / 10
    return String(scaled)
}
