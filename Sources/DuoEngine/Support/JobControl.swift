import Foundation

/// The jobs of one search run side by side (`Parallel.forEachJob`): asks `shouldContinue`
/// before each, counts finished steps for `progress`, keeps the first error, and calls the
/// caller's closures one at a time (they need not be thread-safe).
final class JobControl: @unchecked Sendable {  // all state is guarded by `lock`
    private let shouldContinue: () -> Bool
    private let progress: (Int, Int) -> Void
    private let lock = NSLock()
    private var done = 0
    private var stopped = false
    private var failure: Error?

    init(shouldContinue: @escaping () -> Bool, progress: @escaping (Int, Int) -> Void) {
        self.shouldContinue = shouldContinue
        self.progress = progress
    }

    /// Runs one job unless the search has stopped or failed, keeping its error.
    func run(_ job: () throws -> Void) {
        guard proceed() else { return }
        do {
            try job()
        } catch {
            locked { failure = failure ?? error }
        }
    }

    /// Counts one finished step of `total` for `progress`.
    func advance(total: Int) {
        locked {
            done += 1
            progress(done, total)
        }
    }

    /// Whether to go on: false once stopped or failed (asks `shouldContinue`).
    func proceed() -> Bool {
        locked {
            if failure == nil, !stopped, !shouldContinue() { stopped = true }
            return failure == nil && !stopped
        }
    }

    /// Runs `body` under the lock (for state the jobs share).
    func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    /// Throws the first error, or `OracleStopped` when the search stopped before its end.
    func finish() throws {
        try locked {
            if let failure { throw failure }
            if stopped { throw OracleStopped() }
        }
    }
}
