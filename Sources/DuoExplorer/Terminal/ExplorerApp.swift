import Foundation

/// The interactive loop: draws the explorer's frames on the terminal and feeds it keys.
/// Redraws after every key, when results arrive, and a few times a second while work runs.
public enum ExplorerApp {
    public static func run(_ explorer: Explorer, depth: ColorDepth?) throws {
        let screen = try TerminalScreen.start(depth: depth, mouse: true)
        defer {
            explorer.stop()
            screen.stop()
        }
        let color = screen.depth.hasColor
        explorer.start()
        var drawnVersion = -1
        var drawnAt = Date.distantPast
        var dirty = true
        while true {
            if explorer.poll() { dirty = true }
            let version = explorer.store.version
            let ticking = !explorer.store.snapshot().progress.isEmpty && Date().timeIntervalSince(drawnAt) > 0.25
            if dirty || version != drawnVersion || ticking {
                let size = screen.size
                screen.draw(explorer.frame(width: size.width, height: size.height, color: color))
                drawnVersion = version
                drawnAt = Date()
                dirty = false
            }
            guard let key = screen.readKey(timeoutMilliseconds: 40) else { continue }
            if key == .resize { screen.invalidate() }
            guard explorer.handle(key) else { return }
            dirty = true
        }
    }
}
