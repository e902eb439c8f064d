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
