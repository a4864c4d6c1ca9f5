import CKernels

/// Runs `tasks` closures in parallel over a fixed number of threads and waits for all of them.
///
/// The calling thread takes part; the other `threadCount − 1` threads are persistent workers
/// that spin for about a millisecond after each job and then sleep, so back-to-back calls (decode
/// makes a few hundred per token) cost a few atomic operations each. Tasks are handed out
/// dynamically, so a worker that the OS preempts delays a job by at most one task.
///
/// `run` is not reentrant across threads: a call from inside a task, or from a second thread
/// while a job is running, runs its tasks inline on the calling thread (correct, just serial).
public final class ThreadPool: @unchecked Sendable {
    public let threadCount: Int
    private let pool: OpaquePointer

    /// Online CPU cores of this machine.
    public static var coreCount: Int { Int(ck_cpu_count()) }

    public init(threadCount: Int = ThreadPool.coreCount) {
        self.threadCount = max(1, threadCount)
        pool = ck_pool_create(Int32(clamping: self.threadCount))
    }

    deinit { ck_pool_destroy(pool) }

    /// Calls `body(task)` for every `task` in `0..<tasks`, in parallel, and returns when all
    /// are done. With one thread (or one task) it runs inline.
    public func run(_ tasks: Int, _ body: (Int) -> Void) {
        run(tasks) { task, _ in body(task) }
    }

    /// Calls `body(task, worker)` for every `task` in `0..<tasks`; `worker` is in
    /// `0..<threadCount` and no two tasks run on the same worker at once, so it can index
    /// per-thread scratch buffers.
    public func run(_ tasks: Int, _ body: (_ task: Int, _ worker: Int) -> Void) {
        guard tasks > 0 else { return }
        if tasks == 1 || threadCount == 1 {
            for task in 0..<tasks { body(task, 0) }
            return
        }
        // Tasks touch disjoint memory and `ck_pool_run` does not return before they finish,
        // so the closure may be shared with the workers for the duration of the call.
        withoutActuallyEscaping(body) { body in
            var closure = body
            withUnsafeMutablePointer(to: &closure) { pointer in
                ck_pool_run(pool, Int64(tasks), { context, task, worker in
                    let body = context!.assumingMemoryBound(to: ((Int, Int) -> Void).self).pointee
                    body(Int(task), Int(worker))
                }, pointer)
            }
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
