import DuoEngine
import Foundation

/// Results shared between the background worker (writer) and the UI thread (reader).
/// Results for an older revision of the document are dropped, never shown.
///
/// Readers take a copy (`snapshot()`) and read it outside the lock, so the writer never changes a
/// dictionary's storage in place: each change publishes a new dictionary (`inserting`). Swift's
/// copy-on-write would make in-place writes safe too (a reader's copy holds a reference until it is
/// released), but that ordering goes through the uninstrumented runtime's reference counts, which
/// ThreadSanitizer cannot see; it reported such writes as races (docs/reliability.md).
public final class AnalysisStore: @unchecked Sendable {  // every access to `state` holds `lock`
    private let lock = NSLock()
    private var state: AnalysisSnapshot
    /// Bumped on every change, so the UI knows when to redraw.
    private var changeCount = 0

    public init(document: ExplorerDocument, modelName: String, layers: Int, vocabulary: (@Sendable (Int) -> String)? = nil) {
        state = AnalysisSnapshot(document: document, modelName: modelName, layers: layers)
        state.vocabulary = vocabulary
    }

    private func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }

    /// A new dictionary (fresh storage) equal to `dictionary` with `value` at `key`; nil removes it.
    private func inserting<Key: Hashable, Value>(_ value: Value?, at key: Key, into dictionary: [Key: Value]) -> [Key: Value] {
        var result = [Key: Value](minimumCapacity: dictionary.count + 1)
        for (k, v) in dictionary where k != key { result[k] = v }
        if let value { result[key] = value }
        return result
    }

    public func snapshot() -> AnalysisSnapshot { locked { state } }
    public var version: Int { locked { changeCount } }
    public var revision: Int { locked { state.document.revision } }

    /// Starts over with a new text.
    public func reset(document: ExplorerDocument) {
        locked {
            let vocabulary = state.vocabulary
            state = AnalysisSnapshot(document: document, modelName: state.modelName, layers: state.layers)
            state.vocabulary = vocabulary
            changeCount += 1
        }
    }

    /// Moves to a new revision of the document, keeping the complete runs (and their flips and
    /// failures) of the policies `keep` accepts: the others are computed again, and whatever was
    /// still running for the old revision is dropped when it arrives.
    public func reset(document: ExplorerDocument, keeping keep: (PolicyKey) -> Bool) {
        locked {
            var next = AnalysisSnapshot(document: document, modelName: state.modelName, layers: state.layers)
            next.vocabulary = state.vocabulary
            next.runs = state.runs.filter { $0.value.isComplete && keep($0.key) }
            next.flips = state.flips.filter { next.runs[$0.key.policy] != nil }
            // A run's failure is keyed by its policy in the grammar; a flip's failure is tried again.
            next.failures = state.failures.filter { (try? PolicyKey.parse($0.key)).map(keep) ?? false }
            state = next
            changeCount += 1
        }
    }

    public func store(_ run: PolicyRun, revision: Int) {
        locked {
            guard revision == state.document.revision else { return }
            state.runs = inserting(run, at: run.key, into: state.runs)
            changeCount += 1
        }
    }

    public func store(flips: [Double], for key: FlipKey, revision: Int) {
        locked {
            guard revision == state.document.revision else { return }
            state.flips = inserting(flips, at: key, into: state.flips)
            changeCount += 1
        }
    }

    /// Adds the logit lens to a complete run (`Analyzer.lens`).
    public func store(lens: [[TokenProbability]], for key: PolicyKey, revision: Int) {
        locked {
            guard revision == state.document.revision, var run = state.runs[key], run.isComplete else { return }
            run.lens = lens
            state.runs = inserting(run, at: key, into: state.runs)
            changeCount += 1
        }
    }

    public func fail(_ job: String, message: String, revision: Int) {
        locked {
            guard revision == state.document.revision else { return }
            state.failures = inserting(message, at: job, into: state.failures)
            changeCount += 1
        }
    }

    public func setProgress(_ progress: JobProgress?, lane: String) {
        locked {
            state.progress = inserting(progress, at: lane, into: state.progress)
            changeCount += 1
        }
    }

    /// Whether a complete result (or a failure) exists for this job.
    public func isSettled(_ job: ExplorerJob) -> Bool {
        locked {
            if state.failures[job.id] != nil { return true }
            if case .flips(let key) = job { return state.flips[key] != nil }
            if case .lens(let key) = job { return state.runs[key]?.lens.isEmpty == false }
            return job.keys.allSatisfy { state.runs[$0]?.isComplete == true }
        }
    }
}
