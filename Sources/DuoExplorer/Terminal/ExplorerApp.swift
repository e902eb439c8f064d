import Foundation

/// The interactive loop: draws the explorer's frames on the terminal and feeds it keys.
/// Redraws after every key, when results arrive, and a few times a second while work runs.
/// With `timingLog`, appends "first-frame MS" (since `started`) and "key MS" (key read to
/// frame on the terminal) lines to that file, for the latency benchmark.
public enum ExplorerApp {
    public static func run(_ explorer: Explorer, depth: ColorDepth?, started: Date = Date(), timingLog: URL? = nil) throws {
        let log = timingLog.flatMap { url -> FileHandle? in
            guard FileManager.default.createFile(atPath: url.path, contents: nil) else { return nil }
            return try? FileHandle(forWritingTo: url)
        }
        func record(_ line: String) { log?.write(Data((line + "\n").utf8)) }
        let screen = try TerminalScreen.start(depth: depth, mouse: true)
        defer {
            explorer.stop()
            screen.stop()
        }
        var colors = explorer.state.colors
        explorer.start()
        var drawnVersion = -1
        var drawnAt = Date.distantPast
        var dirty = true
        var keyAt: Date? = nil
        var firstFrame = true
        while true {
            if explorer.poll() { dirty = true }
            if explorer.state.colors != colors {
                // `:colors` changed the depth: within what this terminal session offers.
                colors = explorer.state.colors
                screen.setDepth(colors)
                dirty = true
            }
            let version = explorer.store.version
            let ticking = !explorer.store.snapshot().progress.isEmpty && Date().timeIntervalSince(drawnAt) > 0.25
            if dirty || version != drawnVersion || ticking {
                let size = screen.size
                screen.draw(explorer.frame(width: size.width, height: size.height, color: screen.depth.hasColor))
                if firstFrame { record(String(format: "first-frame %.2f", Date().timeIntervalSince(started) * 1000)) }
                if let keyAt { record(String(format: "key %.3f", Date().timeIntervalSince(keyAt) * 1000)) }
                firstFrame = false
                keyAt = nil
                drawnVersion = version
                drawnAt = Date()
                dirty = false
            }
            guard var key = screen.readKey(timeoutMilliseconds: 40) else { continue }
            keyAt = Date()
            if key == .resize { screen.invalidate() }
            // A newline inside pasted text arrives as Enter followed at once by more keys:
            // keep it in the typed text instead of submitting half a paste.
            while key == .enter, explorer.state.input?.purpose == .text, let more = screen.readKey(timeoutMilliseconds: 5) {
                _ = explorer.handle(.character("\n"))
                key = more
            }
            guard explorer.handle(key) else { return }
            dirty = true
        }
    }
}
