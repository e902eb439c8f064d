import Foundation

/// What the views read: the document and every result computed for it so far.
public struct AnalysisSnapshot: Sendable {
    public var document: ExplorerDocument
    public var modelName: String
    public var layers: Int
    public var runs: [PolicyKey: PolicyRun] = [:]
    /// Loss with one layer's route flipped, per (policy, token): one value per layer.
    public var flips: [FlipKey: [Double]] = [:]
    /// Work that failed, by job, with its one-line error.
    public var failures: [String: String] = [:]
    /// The jobs running now, by worker lane.
    public var progress: [String: JobProgress] = [:]
    /// Decodes a token id (for predictions that are not in the text).
    public var vocabulary: (@Sendable (Int) -> String)?

    public init(document: ExplorerDocument, modelName: String, layers: Int) {
        self.document = document
        self.modelName = modelName
        self.layers = layers
    }

    public func run(_ key: PolicyKey) -> PolicyRun? { runs[key] }
}

/// Identifies a flip computation: a policy run and the token whose routes are flipped.
public struct FlipKey: Hashable, Sendable {
    public var policy: PolicyKey
    public var token: Int
    public init(policy: PolicyKey, token: Int) {
        self.policy = policy
        self.token = token
    }
}

/// Progress of the job running in the background.
public struct JobProgress: Sendable, Equatable {
    public var name: String
    public var done: Int
    public var total: Int
    public var started: Date

    /// "oracle@4 45% 12.0/s ETA 8s".
    public func line(now: Date = Date()) -> String {
        let elapsed = now.timeIntervalSince(started)
        let percent = total > 0 ? Int(100 * Double(done) / Double(total)) : 0
        var text = "\(name) \(percent)%"
        if done > 0, elapsed > 0 {
            let rate = Double(done) / elapsed
            text += String(format: " %.1f/s", rate)
            let left = Double(total - done) / rate
            if left.isFinite { text += " ETA " + JobProgress.duration(left) }
        }
        return text
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 60 ? "\(s / 60)m\(String(format: "%02d", s % 60))s" : "\(s)s"
    }
}

/// Results shared between the background worker (writer) and the UI thread (reader).
/// Results for an older revision of the document are dropped, never shown.
public final class AnalysisStore: @unchecked Sendable {
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

    public func store(_ run: PolicyRun, revision: Int) {
        locked {
            guard revision == state.document.revision else { return }
            state.runs[run.key] = run
            changeCount += 1
        }
    }

    public func store(flips: [Double], for key: FlipKey, revision: Int) {
        locked {
            guard revision == state.document.revision else { return }
            state.flips[key] = flips
            changeCount += 1
        }
    }

    public func fail(_ job: String, message: String, revision: Int) {
        locked {
            guard revision == state.document.revision else { return }
            state.failures[job] = message
            changeCount += 1
        }
    }

    public func setProgress(_ progress: JobProgress?, lane: String) {
        locked {
            state.progress[lane] = progress
            changeCount += 1
        }
    }

    /// Whether a complete result (or a failure) exists for this job.
    public func isSettled(_ job: ExplorerJob) -> Bool {
        locked {
            if state.failures[job.id] != nil { return true }
            switch job {
            case .run(let key): return state.runs[key]?.isComplete == true
            case .flips(let key): return state.flips[key] != nil
            }
        }
    }
}

/// A unit of background work the explorer asks for.
public enum ExplorerJob: Hashable, Sendable {
    case run(PolicyKey)
    case flips(FlipKey)

    /// Oracle, fixed-pattern and random best-of-N runs take seconds to minutes.
    public var isSearch: Bool {
        guard case .run(let key) = self else { return false }
        return key.kind == .oracle || key.kind == .fixed || key.kind == .random
    }

    public var id: String {
        switch self {
        case .run(let key): return key.description
        case .flips(let key): return "flips \(key.policy) token \(key.token)"
        }
    }
}
