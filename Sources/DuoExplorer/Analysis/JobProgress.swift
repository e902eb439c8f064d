import DuoEngine
import Foundation

/// Progress of the job running in the background.
public struct JobProgress: Sendable, Equatable {
    public var name: String
    public var done: Int
    public var total: Int
    public var started: Date

    public init(name: String, done: Int, total: Int, started: Date) {
        self.name = name
        self.done = done
        self.total = total
        self.started = started
    }

    /// "oracle@4 45% 12.0/s ETA 8s".
    public func line(now: Date = Date()) -> String {
        let elapsed = now.timeIntervalSince(started)
        let percent = total > 0 ? Int(100 * Double(done) / Double(total)) : 0
        var text = "\(name) \(percent)%"
        if done > 0, elapsed > 0 {
            let rate = Double(done) / elapsed
            text += String(format: " %.1f/s", rate)
            let left = Double(total - done) / rate
            if left.isFinite { text += " ETA " + DurationText.short(left) }
        }
        return text
    }
}
