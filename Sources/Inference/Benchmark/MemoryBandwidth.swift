/// Read bandwidth of this machine, measured the way decode uses memory: every thread of the
/// pool streams through its share of a buffer much larger than the caches.
///
/// On shared hosts bandwidth swings by ~2× over minutes, so benchmarks measure it right
/// before and after each run instead of quoting a constant.
public final class MemoryBandwidth: @unchecked Sendable {
    private let buffer: UnsafeMutableBufferPointer<Float>   // [byteCount / 4]

    /// Allocates and touches `byteCount` bytes (default 1 GiB).
    public init(byteCount: Int = 1 << 30) {
        buffer = .allocate(capacity: byteCount / 4)
        buffer.initialize(repeating: 1)
    }

    deinit { buffer.deallocate() }

    /// GB/s (10⁹ bytes per second) of a streaming read over the whole buffer, best of `repeats`.
    public func measure(pool: ThreadPool, repeats: Int = 3) -> Double {
        let count = buffer.count
        let base = buffer.baseAddress!
        let clock = ContinuousClock()
        var best = 0.0
        for _ in 0..<repeats {
            let partials = UnsafeMutableBufferPointer<Float>.allocate(capacity: pool.threadCount * 16)
            defer { partials.deallocate() }
            let start = clock.now
            pool.parallelFor(count, granularity: 4096) { range in
                var a = SIMD16<Float>(), b = SIMD16<Float>()
                var i = range.lowerBound
                let raw = UnsafeRawPointer(base)
                while i + 32 <= range.upperBound {
                    a += raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
                    b += raw.loadUnaligned(fromByteOffset: (i + 16) * 4, as: SIMD16<Float>.self)
                    i += 32
                }
                // Keep the sum observable so the loop is not optimised away.
                partials[(range.lowerBound / max(1, (count + pool.threadCount - 1) / pool.threadCount)) % pool.threadCount * 16] = (a + b).sum()
            }
            let elapsed = clock.now - start
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
            best = max(best, Double(count * 4) / seconds / 1e9)
        }
        return best
    }
}
