import DuoEngine
import Foundation

/// Runs the explorer's work on a background thread so the UI never waits. The UI says, after
/// every key, which jobs it wants in priority order; the worker takes the first one not yet
/// settled, and a running job that is no longer wanted is asked to stop. The explorer keeps
/// two: one lane for long searches (oracle, fixed, random) and one for quick passes, so a
/// flip or a router pass never waits behind a minute-long search.
public final class BackgroundWorker: @unchecked Sendable {  // its queue of requests is guarded by a lock
    /// A job's body: it checks `shouldContinue` and reports `progress(done, total)`.
    public typealias Body = (_ shouldContinue: @escaping () -> Bool, _ progress: @escaping (Int, Int) -> Void) throws -> Void

    public struct Request {
        public var job: ExplorerJob
        public var revision: Int
        public var body: Body
        public init(job: ExplorerJob, revision: Int, body: @escaping Body) {
            self.job = job
            self.revision = revision
            self.body = body
        }
    }

    private let condition = NSCondition()
    private var wanted: [Request] = []
    private var running: (job: ExplorerJob, revision: Int)?
    private var cancelRunning = false
    private var stopped = false
    private var exited = false
    private var thread: Thread?
    private let store: AnalysisStore
    /// Names this worker's entry in the store's progress.
    public let lane: String

    public init(store: AnalysisStore, lane: String) {
        self.store = store
        self.lane = lane
    }

    public func start() {
        let thread = Thread { [weak self] in self?.loop() }
        thread.stackSize = 8 << 20
        thread.name = "duoscope-\(lane)"
        self.thread = thread
        thread.start()
    }

    /// Replaces the wish list. Jobs already settled in the store are skipped by the worker.
    public func want(_ requests: [Request]) {
        condition.lock()
        wanted = requests
        if let running, !requests.contains(where: { $0.job == running.job && $0.revision == running.revision }) {
            cancelRunning = true
        }
        condition.signal()
        condition.unlock()
    }

    /// Stops the worker and waits for its thread to leave (a running job is asked to stop
    /// first), so no BLAS call is still in flight when the process exits.
    public func stop() {
        condition.lock()
        stopped = true
        cancelRunning = true
        condition.broadcast()
        while thread != nil && !exited { condition.wait() }
        condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            var next: Request?
            while next == nil {
                if stopped {
                    exited = true
                    condition.broadcast()
                    condition.unlock()
                    return
                }
                next = wanted.first { $0.revision == store.revision && !store.isSettled($0.job) }
                if next == nil { condition.wait() }
            }
            let request = next!
            running = (request.job, request.revision)
            cancelRunning = false
            condition.unlock()

            let started = Date()
            let name = request.job.id
            store.setProgress(JobProgress(name: name, done: 0, total: 1, started: started), lane: lane)
            let shouldContinue: () -> Bool = { [unowned self] in
                condition.lock()
                defer { condition.unlock() }
                return !cancelRunning
            }
            var lastReport = Date.distantPast
            let progress: (Int, Int) -> Void = { [store, lane] done, total in
                let now = Date()
                guard now.timeIntervalSince(lastReport) > 0.05 || done == total else { return }
                lastReport = now
                store.setProgress(JobProgress(name: name, done: done, total: total, started: started), lane: lane)
            }
            do {
                try request.body(shouldContinue, progress)
            } catch is OracleStopped {
            } catch {
                if shouldContinue() {
                    store.fail(request.job.id, message: "\(error)", revision: request.revision)
                }
            }
            store.setProgress(nil, lane: lane)
            condition.lock()
            running = nil
            condition.unlock()
        }
    }
}
