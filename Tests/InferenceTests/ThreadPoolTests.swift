import Dispatch
import Testing
@testable import Inference

@Suite("ThreadPool")
struct ThreadPoolTests {
    @Test("every task runs exactly once, over many calls in a row", arguments: [1, 2, 3, 8])
    func exactlyOnce(threads: Int) {
        let pool = ThreadPool(threadCount: threads)
        let maxTasks = 40
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: maxTasks)
        defer { counts.deallocate() }
        for call in 0..<5000 {
            let tasks = call % maxTasks + 1
            counts.initialize(repeating: 0, count: maxTasks)
            pool.run(tasks) { task in counts[task] += 1 }
            for task in 0..<maxTasks where counts[task] != (task < tasks ? 1 : 0) {
                Issue.record("call \(call): task \(task) ran \(counts[task]) times")
                return
            }
        }
    }

    @Test("worker indices are in range and never run two tasks at once")
    func workers() {
        let pool = ThreadPool(threadCount: 4)
        let busy = UnsafeMutablePointer<Int>.allocate(capacity: 4)
        let violations = UnsafeMutablePointer<Int>.allocate(capacity: 4)
        defer { busy.deallocate(); violations.deallocate() }
        busy.initialize(repeating: 0, count: 4)
        violations.initialize(repeating: 0, count: 4)
        for _ in 0..<200 {
            pool.run(64) { task, worker in
                precondition((0..<4).contains(worker))
                if busy[worker] != 0 { violations[worker] += 1 }
                busy[worker] = 1
                var x = task
                for _ in 0..<200 { x = x &* 31 &+ 7 }
                if x == 42 { violations[worker] += 0 }
                busy[worker] = 0
            }
        }
        #expect((0..<4).allSatisfy { violations[$0] == 0 })
    }

    @Test("a run from inside a task runs inline")
    func nested() {
        let pool = ThreadPool(threadCount: 2)
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: 16)
        defer { counts.deallocate() }
        counts.initialize(repeating: 0, count: 16)
        pool.run(4) { outer in
            pool.run(4) { inner in counts[outer * 4 + inner] += 1 }
        }
        #expect((0..<16).allSatisfy { counts[$0] == 1 })
    }

    @Test("calls from two threads at once both complete")
    func concurrentCallers() {
        let pool = ThreadPool(threadCount: 2)
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: 2 * 32)
        defer { counts.deallocate() }
        counts.initialize(repeating: 0, count: 64)
        nonisolated(unsafe) let shared = counts
        DispatchQueue.concurrentPerform(iterations: 2) { caller in
            for _ in 0..<500 {
                pool.run(32) { task in shared[caller * 32 + task] += 1 }
            }
        }
        #expect((0..<64).allSatisfy { counts[$0] == 500 })
    }

    @Test("workers that went to sleep wake for the next job")
    func afterSleep() async throws {
        let pool = ThreadPool(threadCount: 3)
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: 9)
        defer { counts.deallocate() }
        counts.initialize(repeating: 0, count: 9)
        for round in 0..<3 {
            try await Task.sleep(for: .milliseconds(30))
            pool.run(9) { task in counts[task] += 1 }
            #expect((0..<9).allSatisfy { counts[$0] == round + 1 })
        }
    }

    @Test("parallelFor covers the range once with granular chunks", arguments: [1, 7, 64, 1000])
    func parallelFor(count: Int) {
        let pool = ThreadPool(threadCount: 3)
        let hits = UnsafeMutablePointer<Int>.allocate(capacity: count)
        defer { hits.deallocate() }
        hits.initialize(repeating: 0, count: count)
        pool.parallelFor(count, granularity: 4) { range in
            #expect(range.lowerBound % 4 == 0)
            for i in range { hits[i] += 1 }
        }
        #expect((0..<count).allSatisfy { hits[$0] == 1 })
        #expect(ThreadPool(threadCount: 0).threadCount == 1)
        #expect(ThreadPool().threadCount == ThreadPool.coreCount)
    }
}
