import DuoEngine
import Foundation

/// Tokens produced by the generation thread, handed to the UI thread.
final class GenerationBuffer: @unchecked Sendable {  // every access holds its lock
    struct Update {
        var ids: [Int]
        var routes: [[Route]]
        var generated: Int
        var finished: Bool
        var error: String?
    }

    private let lock = NSCondition()
    private var current: Update?
    private var changed = false
    private var cancelled = false
    private var running = false

    func begin(ids: [Int]) {
        lock.lock()
        defer { lock.unlock() }
        current = Update(ids: ids, routes: [], generated: 0, finished: false)
        cancelled = false
        changed = false
        running = true
    }

    /// Blocks until the generating thread has finished (after `cancel`, within one token).
    func waitUntilFinished() {
        lock.lock()
        defer { lock.unlock() }
        while running { lock.wait() }
    }

    /// Returns false once cancelled, so the generator stops.
    func append(id: Int, routes: [[Route]]) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        current?.ids.append(id)
        current?.routes = routes
        current?.generated += 1
        changed = true
        return !cancelled
    }

    func finish(error: String?) {
        lock.lock()
        defer { lock.unlock() }
        current?.finished = true
        current?.error = error
        changed = true
        running = false
        lock.broadcast()
    }

    func cancel() {
        lock.lock()
        defer { lock.unlock() }
        cancelled = true
    }

    func take() -> Update? {
        lock.lock()
        defer { lock.unlock() }
        guard changed, let update = current else { return nil }
        changed = false
        if update.finished { current = nil }
        return update
    }
}
