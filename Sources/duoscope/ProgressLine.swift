import DuoEngine
import Foundation

/// A single self-overwriting progress line on standard error — only when it is a terminal.
final class ProgressLine {
    let enabled = isatty(STDERR_FILENO) != 0
    private var lastDraw = 0.0

    /// Redraws at most ~10 times a second (always when `force`).
    func update(_ text: String, force: Bool = false) {
        guard enabled else { return }
        let now = Date().timeIntervalSinceReferenceDate
        guard force || now - lastDraw > 0.1 else { return }
        lastDraw = now
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + text).utf8))
    }

    /// Clears the line so ordinary output can follow.
    func clear() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}

/// A progress line for a job whose steps can run for long: the job reports (step, done, total)
/// as it goes, and the line is redrawn twice a second from a timer, so the elapsed time and ETA
/// keep moving between reports and the step shown is the one running.
final class ProgressTicker: @unchecked Sendable {  // `step`, `done`, `total` are guarded by `lock`
    private let line = ProgressLine()
    private let lock = NSLock()
    private let start = Date()
    private var step = "starting"
    private var done = 0
    private var total = 0
    private var stepStart = Date()
    private var timer: DispatchSourceTimer?

    init() {
        guard line.enabled else { return }
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue.global())
        timer.schedule(deadline: .now() + 0.5, repeating: 0.5)
        timer.setEventHandler { [weak self] in self?.draw() }
        timer.resume()
        self.timer = timer
    }

    func report(_ step: String, _ done: Int, _ total: Int) {
        lock.lock()
        if step != self.step { stepStart = Date() }
        (self.step, self.done, self.total) = (step, done, total)
        lock.unlock()
        draw()
    }

    private func draw() {
        lock.lock()
        defer { lock.unlock() }
        let elapsed = Date().timeIntervalSince(start)
        var text = "\(step) \(done)/\(total)  elapsed \(DurationText.short(elapsed))"
        if done > 0, total > done {
            let stepElapsed = Date().timeIntervalSince(stepStart)
            let eta = stepElapsed / Double(done) * Double(total - done)
            text += "  \(String(format: "%.1f", Double(done) / max(stepElapsed, 1e-9)))/s  step ETA \(DurationText.short(eta))"
        }
        line.update(text)
    }

    /// Stops the timer and clears the line.
    func finish() {
        timer?.cancel()
        lock.lock()
        line.clear()
        lock.unlock()
    }
}

/// Ctrl-C as a request to stop cleanly: the first press sets a flag that long jobs poll
/// (they checkpoint and exit); a second press exits at once.
enum Interrupt {
    nonisolated(unsafe) private static var requested: sig_atomic_t = 0

    static func install() {
        signal(SIGINT) { _ in
            if Interrupt.requested != 0 { _exit(130) }
            Interrupt.requested = 1
        }
        // A full file-size limit becomes a write error (EFBIG) the writer reports, not a kill.
        signal(SIGXFSZ, SIG_IGN)
    }

    static var isRequested: Bool { requested != 0 }
}
