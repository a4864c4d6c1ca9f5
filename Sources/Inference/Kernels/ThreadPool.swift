import Dispatch

/// Runs `tasks` closures in parallel over a fixed number of threads and waits for all of them.
///
/// Kernels split their work into one task per thread (or a few more) and call `run`; the cost
/// per call must stay small because decode calls it hundreds of times per token.
public final class ThreadPool: Sendable {
    public let threadCount: Int

    public init(threadCount: Int) {
        self.threadCount = max(1, threadCount)
    }

    /// Calls `body(task)` for every `task` in `0..<tasks`, in parallel, and returns when all
    /// are done. With one thread (or one task) it runs inline.
    public func run(_ tasks: Int, _ body: (Int) -> Void) {
        guard tasks > 0 else { return }
        if tasks == 1 || threadCount == 1 {
            for task in 0..<tasks { body(task) }
            return
        }
        // Kernels hand raw buffers to their tasks; the caller guarantees tasks touch disjoint
        // memory and `run` does not return before they finish, so the closure may be shared.
        withoutActuallyEscaping(body) { body in
            let shared = unsafeBitCast(body, to: (@Sendable (Int) -> Void).self)
            DispatchQueue.concurrentPerform(iterations: tasks, execute: shared)
        }
    }

    /// Splits `0..<count` into about `threadCount` contiguous chunks, each a multiple of
    /// `granularity` (except the last), and runs `body` on each in parallel.
    public func parallelFor(_ count: Int, granularity: Int = 1, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let units = (count + granularity - 1) / granularity
        let chunks = min(threadCount, units)
        let unitsPerChunk = (units + chunks - 1) / chunks
        run(chunks) { chunk in
            let start = chunk * unitsPerChunk * granularity
            let end = min(count, (chunk + 1) * unitsPerChunk * granularity)
            if start < end { body(start..<end) }
        }
    }
}
