import Foundation

#if canImport(Accelerate)
    import Accelerate
#else
    import CBLAS
#endif

/// Splits independent work across the machine's cores.
public enum Parallel {
    public static let workers = max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// Runs `body(i)` for i in 0..<count, spread over the cores; returns when all are done.
    /// Each call must touch memory no other call writes. Inside `forEachJob` it runs in order
    /// on the calling thread.
    public static func forEach(_ count: Int, _ body: (Int) -> Void) {
        if runsInline(count) {
            for i in 0..<count { body(i) }
            return
        }
        concurrently(count, body)
    }

    /// Whether `count` calls run in order on the calling thread: one call, one core, or inside a job.
    private static func runsInline(_ count: Int) -> Bool { count <= 1 || workers == 1 || isInsideJob }

    /// `body(i)` for i in 0..<count on the cores: on the worker team (`WorkerTeam`), or on
    /// Dispatch's threads when the team is busy. The callers' contract (disjoint writes) is what
    /// makes sharing `body` across threads safe; the compiler cannot check it for closures over
    /// raw buffers.
    private static func concurrently(_ count: Int, _ body: (Int) -> Void) {
        if let team = WorkerTeam.shared, team.run(count, body) { return }
        withoutActuallyEscaping(body) { body in
            let shared = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: count) { shared.value($0) }
        }
    }

    /// Runs independent jobs `body(i)`, i in 0..<count, side by side on the cores, each taking
    /// the next job when it finishes one; within a job every inner loop (`forEach`,
    /// `forEachSlice`, `LayerKernels.splitLinear`) runs on the job's own core. This is the work
    /// split at the level of whole jobs (random trials, subtrees of a search) rather than a
    /// fork/join inside every small step. Call it with BLAS single-threaded
    /// (`withSingleThreadedBLAS`); `body` must touch memory no other job writes.
    public static func forEachJob(_ count: Int, _ body: (Int) -> Void) {
        if runsInline(count) {
            for i in 0..<count { body(i) }
            return
        }
        concurrently(count) { i in
            let outer = pthread_getspecific(jobKey)
            pthread_setspecific(jobKey, UnsafeRawPointer(bitPattern: 1))
            defer { pthread_setspecific(jobKey, outer) }
            body(i)
        }
    }

    /// Whether the calling thread is running a job of `forEachJob` (its loops then stay on it).
    public static var isInsideJob: Bool { pthread_getspecific(jobKey) != nil }

    /// Share `part` of `parts` contiguous, near-equal shares of 0..<count, cut on multiples of
    /// `unit` (the last share takes what is left): how the loops that give each core one share
    /// of rows, panels or sequences cut them.
    public static func share(_ part: Int, of parts: Int, count: Int, unit: Int = 1) -> Range<Int> {
        let units = (count + unit - 1) / unit
        return min(count, units * part / parts * unit)..<min(count, units * (part + 1) / parts * unit)
    }

    /// Runs `body(range)` over `workers` contiguous slices of 0..<count.
    public static func forEachSlice(_ count: Int, minimum: Int = 4096, _ body: (Range<Int>) -> Void) {
        let slices = min(workers, max(1, count / max(minimum, 1)))
        let size = (count + slices - 1) / max(slices, 1)
        forEach(slices) { s in
            let lower = s * size
            let upper = min(count, lower + size)
            if lower < upper { body(lower..<upper) }
        }
    }

    /// The number of threads BLAS uses now (1 with Accelerate, which manages its own).
    public static var blasThreads: Int {
        #if canImport(Accelerate)
            return 1
        #else
            return Int(openblas_get_num_threads())
        #endif
    }

    /// Runs `body` with BLAS limited to one thread, so that several BLAS calls can run side by
    /// side on different cores (small GEMMs do better that way than each split across cores).
    /// OpenBLAS's thread count is process-wide: callers on several threads (the explorer's two
    /// worker lanes) share one count of single-threaded sections, and the count is restored when
    /// the last one leaves, never while another is inside.
    public static func withSingleThreadedBLAS<T>(_ body: () throws -> T) rethrows -> T {
        #if canImport(Accelerate)
            return try body()
        #else
            SingleThreadedBLAS.shared.enter()
            defer { SingleThreadedBLAS.shared.leave() }
            return try body()
        #endif
    }
}

/// Marks the threads running a job of `Parallel.forEachJob`.
private let jobKey: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key, nil)
    return key
}()

/// A value handed to other threads under a contract the compiler cannot check (stated where it
/// is used); for closures over raw buffers that parallel loops share.
public struct UncheckedSendable<Value>: @unchecked Sendable {
    public let value: Value
    public init(_ value: Value) { self.value = value }
}

#if !canImport(Accelerate)
    /// The one owner of OpenBLAS's thread count while single-threaded sections are open.
    private final class SingleThreadedBLAS: @unchecked Sendable {  // all state is guarded by `lock`
        static let shared = SingleThreadedBLAS()
        private let lock = NSLock()
        private var depth = 0
        private var saved: Int32 = 1

        func enter() {
            lock.lock()
            defer { lock.unlock() }
            if depth == 0 {
                saved = openblas_get_num_threads()
                openblas_set_num_threads(1)
            }
            depth += 1
        }

        func leave() {
            lock.lock()
            defer { lock.unlock() }
            depth -= 1
            if depth == 0 { openblas_set_num_threads(saved) }
        }

    }
#endif
