import Foundation
import TestSupport
import XCTest

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// Drives the real `duoscope explore` inside a detached tmux session of fixed size: keys go in
/// with `send-keys`, the screen comes back with `capture-pane`. Every step polls the pane until
/// what it expects shows up (or a timeout passes), so the tests never sleep a fixed time.
final class ExplorerTerminalTests: XCTestCase {
    private static let repositoryRoot = FixturePaths.repository
    private static let model = repositoryRoot.appendingPathComponent("sample-models/duo-12L").path
    private static let sampleText = "The quick brown fox jumps over the lazy dog. It was a bright cold day in April."

    private var tmux: Tmux!
    private var scratch: URL!

    override func setUpWithError() throws {
        guard let tmuxPath = Tmux.executable() else { throw XCTSkip("tmux is not installed") }
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("duoscope-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        tmux = Tmux(executable: tmuxPath, socket: "duoscope-e2e-\(getpid())-\(UUID().uuidString.prefix(8))")
    }

    override func tearDownWithError() throws {
        // An explorer that hung (on exit, say) is ended by its pid, once its command line shows it is ours.
        if let pid = explorerPID(), let scratch,
            let commandLine = try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8), commandLine.contains(scratch.path)
        {
            kill(pid, SIGKILL)
        }
        tmux?.killServer()
        if let scratch { try? FileManager.default.removeItem(at: scratch) }
    }

    // MARK: Tests

    /// Start, move, every view, policies, budget, export, resize, help, quit.
    func testKeysViewsExportResizeHelpAndQuit() throws {
        let text = try write("quick-fox.txt", Self.sampleText)
        let snapshots = scratch.appendingPathComponent("snaps")
        let started = Date()
        try launch(text: text, snapshots: snapshots)
        let first = try waitFor("the first frame") {
            self.title($0).contains("duoscope │") && self.title($0).contains("quick-fox.txt")
                && self.title($0).contains("│ oracle@4 │")
        }
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertLessThan(elapsed, 5, "first frame took \(elapsed) s")
        XCTAssertTrue(first.contains("─ token 1/"), first)

        // Move the cursor two tokens right.
        tmux.keys("l", literal: true)
        tmux.keys("l", literal: true)
        try waitFor("token 3 in the detail pane") { $0.contains("─ token 3/") }

        // Views: Compare, then Tab to Difficulty, Layers, Summary, back to Routes.
        tmux.keys("2", literal: true)
        try waitFor("the Compare view title") { self.title($0).contains("oracle@4 vs router@4") }
        tmux.keys("Tab")
        try waitFor("the Difficulty view") { $0.contains("colored by") && !self.title($0).contains(" vs ") }
        tmux.keys("4", literal: true)
        try waitFor("the Layers view") { $0.contains("logit lens") }
        tmux.keys("5", literal: true)
        try waitFor("the Summary view") { $0.contains("perplexity vs big layers") }
        tmux.keys("1", literal: true)
        try waitFor("the Routes view again") {
            !$0.contains("perplexity vs big layers") && !$0.contains("logit lens")
                && self.title($0).contains("│ oracle@4 │")
        }

        // Primary policy: router, then oracle again.
        tmux.keys("r", literal: true)
        try waitFor("router as primary") { self.title($0).contains("│ router@4 │") && !self.title($0).contains("oracle@4") }
        tmux.keys("o", literal: true)
        try waitFor("oracle as primary") { self.title($0).contains("│ oracle@4 │") }

        // Budget.
        tmux.keys("+", literal: true)
        try waitFor("k=5") { self.line(1, of: $0).contains("k=5") && self.title($0).contains("│ oracle@5 │") }

        // Export a snapshot.
        tmux.keys("e", literal: true)
        // The message may be clipped behind progress notes, so only its start is checked here.
        try waitFor("the snapshot message") { self.lastLine(of: $0).contains("snapshot: ") }
        try checkSnapshot(in: snapshots)

        // Resize: smaller but big enough, too small, then back.
        tmux.run(["resize-window", "-t", "e2e", "-x", "80", "-y", "24"])
        try waitFor("the 80×24 frame") {
            $0.split(separator: "\n", omittingEmptySubsequences: false).count >= 24
                && self.title($0).contains("duoscope │") && self.title($0).count <= 80 && $0.contains("─ token 3/")
        }
        tmux.run(["resize-window", "-t", "e2e", "-x", "40", "-y", "12"])
        try waitFor("the too-small message") { $0.contains("terminal too small: 40×12") }
        tmux.run(["resize-window", "-t", "e2e", "-x", "110", "-y", "36"])
        try waitFor("the 110×36 frame") {
            self.title($0).contains("duoscope │") && self.title($0).contains("│ oracle@5 │")
                && !$0.contains("terminal too small")
        }

        // Help overlay; any key closes it.
        tmux.keys("?", literal: true)
        try waitFor("the help overlay") { $0.contains("─ keys ─") && $0.contains("export a snapshot") }
        tmux.keys("z", literal: true)
        try waitFor("the help overlay to close") { !$0.contains("─ keys ─") && self.title($0).contains("duoscope │") }

        // Quit: the shell prints the exit status and the terminal modes.
        tmux.keys("q", literal: true)
        try expectCleanExit(status: 0)
    }

    /// Escape sequences and control characters in the text are shown, never obeyed.
    func testEscapeSequencesInTheTextAreShownNotObeyed() throws {
        let text = try write("escapes.txt", "\u{1B}[31mRED\u{1B}[0m and a bell \u{07} here")
        try launch(text: text, snapshots: scratch.appendingPathComponent("snaps"))
        let screen = try waitFor("the escaped text") { self.title($0).contains("escapes.txt") && $0.contains("\\e[31m") }
        XCTAssertTrue(screen.contains("\\u{7}"), "the bell should show as \\u{7}:\n\(screen)")
        // With attributes: the text's own SGR 31 (red foreground) never reaches the terminal.
        let colored = tmux.capture(escapes: true)
        XCTAssertFalse(Self.sgrParameters(colored).contains(31), "a cell is red (SGR 31):\n\(colored)")
        XCTAssertTrue(colored.contains("38;5;") || colored.contains("48;5;"), "expected 256-color cells:\n\(colored)")
        tmux.keys("q", literal: true)
        try expectCleanExit(status: 0)
    }

    /// Ctrl-C arrives as a key in raw mode and quits cleanly.
    func testControlCQuitsAndRestoresTheTerminal() throws {
        try launch(text: try write("ctrl-c.txt", Self.sampleText), snapshots: scratch.appendingPathComponent("snaps"))
        try waitFor("the first frame") { self.title($0).contains("duoscope │") }
        tmux.keys("C-c")
        try expectCleanExit(status: 0)
    }

    /// SIGTERM ends the explorer (status 143) but gives the terminal back first.
    func testSIGTERMRestoresTheTerminal() throws { try expectSignalRestoresTheTerminal(SIGTERM) }

    /// A crash (here a SIGSEGV, as a bad memory access would raise) still gives the terminal
    /// back before the process dies with the signal's status.
    func testCrashRestoresTheTerminal() throws { try expectSignalRestoresTheTerminal(SIGSEGV) }

    private func expectSignalRestoresTheTerminal(_ signal: Int32) throws {
        try launch(text: try write("signal-\(signal).txt", Self.sampleText), snapshots: scratch.appendingPathComponent("snaps"))
        try waitFor("the first frame") { self.title($0).contains("duoscope │") }
        let pid = try XCTUnwrap(explorerPID(), "no pid recorded")
        XCTAssertEqual(kill(pid, signal), 0)
        try expectCleanExit(status: 128 + signal)
    }

    /// NO_COLOR: routes become glyphs and no color reaches the terminal.
    func testNoColorDrawsGlyphs() throws {
        try launch(
            text: try write("plain.txt", Self.sampleText), snapshots: scratch.appendingPathComponent("snaps"),
            environment: ["NO_COLOR": "1"])
        // The heatmap rows (" L0  ░░░…") fill with █ (big) and ▒ (small) as the oracle's routes arrive.
        let screen = try waitFor("route glyphs in the heatmap") { screen in
            screen.split(separator: "\n").contains { row in
                let cells = row.drop { $0 == " " }
                return cells.first == "L" && cells.dropFirst().first?.isNumber == true && (cells.contains("█") || cells.contains("▒"))
            }
        }
        XCTAssertTrue(title(screen).contains("duoscope │"), screen)
        let colored = tmux.capture(escapes: true)
        for code in ["38;5;", "48;5;", "38;2;", "48;2;"] { XCTAssertFalse(colored.contains(code), "\(code) with NO_COLOR:\n\(colored)") }
        // 39 and 49 (default foreground and background) are what tmux writes between cells.
        XCTAssertTrue(
            Self.sgrParameters(colored).allSatisfy { !(30...38).contains($0) && !(40...48).contains($0) && !(90...107).contains($0) },
            "colors with NO_COLOR:\n\(colored)")
        tmux.keys("q", literal: true)
        try expectCleanExit(status: 0)
    }

    /// Settings persist: the view and budget chosen in one session open the next one; a command
    /// line option overrides them.
    func testSettingsPersistBetweenSessions() throws {
        let text = try write("plain.txt", Self.sampleText)
        try launch(text: text, snapshots: scratch.appendingPathComponent("snaps"))
        try waitFor("the first frame") { self.title($0).contains("duoscope │") }
        tmux.keys("3", literal: true)
        tmux.keys("+", literal: true)
        try waitFor("k=5 in Difficulty") { $0.contains("k=5") }
        tmux.keys("q", literal: true)
        try expectCleanExit(status: 0)
        let saved = try String(contentsOf: scratch.appendingPathComponent("config/explorer.json"), encoding: .utf8)
        XCTAssertTrue(saved.contains("\"k\" : 5"), saved)
        tmux.killServer()
        try launch(text: text, snapshots: scratch.appendingPathComponent("snaps"))
        let screen = try waitFor("the remembered view and budget") { $0.contains("k=5") && $0.contains("highest by raw loss") }
        XCTAssertTrue(screen.contains("k=5"), screen)
        tmux.keys("q", literal: true)
        try expectCleanExit(status: 0)
        tmux.killServer()
        try launch(text: text, snapshots: scratch.appendingPathComponent("snaps"), arguments: ["--k", "2"])
        try waitFor("--k 2 over the remembered 5") { $0.contains("k=2") }
        tmux.keys("q", literal: true)
        try expectCleanExit(status: 0)
    }

    /// The command palette in a real terminal: `:` opens the prompt on the bottom line, Enter runs
    /// the command, an error stays one line, and what was set is remembered.
    func testCommandPalette() throws {
        let text = try write("palette.txt", Self.sampleText)
        try launch(text: text, snapshots: scratch.appendingPathComponent("snaps"))
        try waitFor("the first frame") { self.title($0).contains("duoscope │") }
        tmux.keys(":", literal: true)
        tmux.keys("k 7", literal: true)
        try waitFor("the typed command on the prompt") { $0.contains(":k 7") }
        tmux.keys("Enter")
        try waitFor("k=7 after :k 7") { $0.contains("k=7") && $0.contains("│ oracle@7 │") }
        tmux.keys(":", literal: true)
        tmux.keys("open /nonexistent/x.txt", literal: true)
        tmux.keys("Enter")
        let screen = try waitFor("a one-line error") { $0.contains("error: ") && $0.contains("x.txt: file not found") }
        XCTAssertEqual(screen.components(separatedBy: "file not found").count, 2, screen)
        tmux.keys(":", literal: true)
        tmux.keys("gen 5", literal: true)
        tmux.keys("Enter")
        try waitFor("the generation length") { $0.contains("up to 5 tokens") }
        tmux.keys(":", literal: true)
        tmux.keys("colors none", literal: true)
        tmux.keys("Enter")
        try waitFor("glyphs instead of colors") { $0.contains("colors: none") && $0.contains("█") && $0.contains("▒") }
        tmux.keys("q", literal: true)
        try expectCleanExit(status: 0)
        let saved = try String(contentsOf: scratch.appendingPathComponent("config/explorer.json"), encoding: .utf8)
        XCTAssertTrue(saved.contains("\"k\" : 7") && saved.contains("\"length\" : 5"), saved)
        XCTAssertTrue(saved.contains("\"colors\" : \"none\""), saved)
    }

    /// TERM=dumb (no cursor addressing) and an unknown TERM: one clear line and a non-zero exit,
    /// not a blank screen.
    func testDumbAndUnknownTerminalsAreRefused() throws {
        for (term, phrase) in [("dumb", "TERM=dumb cannot move the cursor"), ("no-such-terminal", "is unknown to terminfo")] {
            tmux.killServer()
            try launch(
                text: try write("plain.txt", Self.sampleText), snapshots: scratch.appendingPathComponent("snaps"),
                environment: ["TERM": term])
            let screen = try waitFor("the refusal for TERM=\(term)") { $0.contains("EXITED=") }
            XCTAssertTrue(screen.contains(phrase), screen)
            XCTAssertFalse(screen.contains("EXITED=0"), screen)
        }
    }

    /// `--colors 8`: only the eight basic colors reach the terminal (30-37, 40-47).
    func testEightColorFallback() throws {
        try launch(
            text: try write("eight.txt", Self.sampleText), snapshots: scratch.appendingPathComponent("snaps"), arguments: ["--colors", "8"])
        try waitFor("the first frame") { self.title($0).contains("duoscope │") }
        let colored = try XCTUnwrap(
            pollEscapes { Self.sgrParameters($0).contains { (41...44).contains($0) } }, "no basic background colors")
        for code in ["38;5;", "48;5;", "38;2;", "48;2;"] { XCTAssertFalse(colored.contains(code), "\(code) with --colors 8:\n\(colored)") }
        XCTAssertTrue(Self.sgrParameters(colored).allSatisfy { !(90...107).contains($0) }, "bright colors with --colors 8:\n\(colored)")
        tmux.keys("q", literal: true)
        try expectCleanExit(status: 0)
    }

    /// The first escape-carrying capture for which `predicate` holds, within 20 s.
    private func pollEscapes(_ predicate: (String) -> Bool) -> String? {
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            let screen = tmux.capture(escapes: true)
            if predicate(screen) { return screen }
            usleep(50_000)
        }
        return nil
    }

    // MARK: Steps

    private func write(_ name: String, _ text: String) throws -> URL {
        let url = scratch.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url
    }

    /// Starts the explorer in a new 110×36 session. A script records its pid, then becomes the
    /// explorer; the pane's shell then prints the exit status and the terminal modes and waits.
    private func launch(text: URL, snapshots: URL, environment: [String: String] = [:], arguments: [String] = []) throws {
        let binary = CLIRunner.binary.path
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: binary), "no duoscope binary at \(binary)")
        // Settings and results go to this test's own folders, so no test sees another's (or the user's).
        let defaults = [
            "TERM": "xterm-256color", "DUOSCOPE_CONFIG_DIR": scratch.appendingPathComponent("config").path,
            "DUOSCOPE_CACHE_DIR": scratch.appendingPathComponent("cache").path,
        ]
        let env = (defaults.merging(environment) { $1 }).sorted { $0.key < $1.key }
            .map { "\($0.key)=\(Self.quote($0.value))" }.joined(separator: " ")
        let script = """
            echo $$ > \(Self.quote(scratch.appendingPathComponent("pid").path))
            exec env -u NO_COLOR \(env) \(Self.quote(binary)) explore \(Self.quote(Self.model)) \(Self.quote(text.path)) \
            --trials 3 --snapshots \(Self.quote(snapshots.path)) \(arguments.map(Self.quote).joined(separator: " "))

            """
        let scriptURL = try write("run.sh", script)
        let command = "sh \(Self.quote(scriptURL.path)); echo EXITED=$?; stty -a; sleep 60"
        var result = tmux.run(["new-session", "-d", "-x", "110", "-y", "36", "-s", "e2e", command])
        if result.status != 0, result.output.contains("server exited unexpectedly") {
            usleep(200_000)  // a server that was still exiting took the command: once more, to a new one
            result = tmux.run(["new-session", "-d", "-x", "110", "-y", "36", "-s", "e2e", command])
        }
        XCTAssertEqual(result.status, 0, "tmux new-session: \(result.output)")
    }

    /// Waits for the shell's `EXITED=` line, then checks that the terminal was given back:
    /// canonical mode and echo on, the alternate screen left.
    private func expectCleanExit(status: Int32, file: StaticString = #filePath, line: UInt = #line) throws {
        guard let screen = poll(timeout: 10, history: true, { $0.contains("EXITED=") && $0.contains("speed") && $0.contains("echoke") })
        else {
            let pid = explorerPID()
            let alive = pid.map { kill($0, 0) == 0 } ?? false
            XCTFail(
                "no EXITED= line 10 s after quitting" + (alive ? "; duoscope (pid \(pid!)) is still running: it hangs on exit" : "")
                    + "; last screen:\n\(tmux.capture(history: true))", file: file, line: line)
            throw Timeout()
        }
        XCTAssertTrue(
            screen.contains("EXITED=\(status)\n"),
            "expected EXITED=\(status) (139 = SIGSEGV, 134 = SIGABRT, e.g. while exiting):\n\(screen)", file: file, line: line)
        let words = Set(screen.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == ";" }).map(String.init))
        for mode in ["icanon", "echo", "isig", "icrnl", "opost"] {
            XCTAssertTrue(
                words.contains(mode) && !words.contains("-" + mode), "stty should show \(mode) restored:\n\(screen)",
                file: file, line: line)
        }
        let alternate = tmux.run(["display-message", "-p", "-t", "e2e", "#{alternate_on}"])
        XCTAssertEqual(
            alternate.output.trimmingCharacters(in: .whitespacesAndNewlines), "0", "still on the alternate screen",
            file: file, line: line)
        let cursor = tmux.run(["display-message", "-p", "-t", "e2e", "#{cursor_flag}"])
        XCTAssertEqual(
            cursor.output.trimmingCharacters(in: .whitespacesAndNewlines), "1", "the cursor is still hidden",
            file: file, line: line)
    }

    /// The files of the first snapshot: txt, ansi, svg and json that parse.
    private func checkSnapshot(in folder: URL, file: StaticString = #filePath, line: UInt = #line) throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        let stems = Set(names.filter { $0.hasPrefix("duoscope-") && $0.contains("-001.") }.map { ($0 as NSString).deletingPathExtension })
        XCTAssertEqual(stems.count, 1, "\(names)", file: file, line: line)
        let stem = try XCTUnwrap(stems.first, file: file, line: line)
        for ext in ["txt", "ansi", "svg", "json"] {
            XCTAssertTrue(names.contains("\(stem).\(ext)"), "no \(stem).\(ext) in \(names)", file: file, line: line)
        }
        XCTAssertFalse(names.contains { $0.hasPrefix(".") }, "temporary files left: \(names)", file: file, line: line)
        let base = folder.appendingPathComponent(stem)

        let json = try Data(contentsOf: base.appendingPathExtension("json"))
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: json) as? [String: Any], file: file, line: line)
        let tokens = try XCTUnwrap(object["tokens"] as? [Any], "no tokens: \(object.keys)", file: file, line: line)
        XCTAssertFalse(tokens.isEmpty, file: file, line: line)

        let svg = try Data(contentsOf: base.appendingPathExtension("svg"))
        let parser = XMLParser(data: svg)
        XCTAssertTrue(parser.parse(), "SVG does not parse: \(String(describing: parser.parserError))", file: file, line: line)

        let txt = try String(contentsOf: base.appendingPathExtension("txt"), encoding: .utf8)
        XCTAssertTrue(txt.contains("duoscope"), txt, file: file, line: line)
        XCTAssertFalse(txt.contains("\u{1B}"), "escapes in the txt snapshot", file: file, line: line)
        let ansi = try String(contentsOf: base.appendingPathExtension("ansi"), encoding: .utf8)
        XCTAssertTrue(ansi.contains("\u{1B}["), "no escapes in the ansi snapshot", file: file, line: line)
    }

    // MARK: Screen helpers

    /// Polls the pane until `predicate` holds; fails with the last capture after `timeout` seconds.
    @discardableResult
    private func waitFor(
        _ what: String, timeout: TimeInterval = 20, history: Bool = false, file: StaticString = #filePath,
        line: UInt = #line, _ predicate: (String) -> Bool
    ) throws -> String {
        if let screen = poll(timeout: timeout, history: history, predicate) { return screen }
        XCTFail("timed out after \(timeout) s waiting for \(what); last screen:\n\(tmux.capture(history: history))", file: file, line: line)
        throw Timeout()
    }

    /// The first capture for which `predicate` holds, or nil after `timeout` seconds.
    private func poll(timeout: TimeInterval, history: Bool = false, _ predicate: (String) -> Bool) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            let screen = tmux.capture(history: history)
            if predicate(screen) { return screen }
            usleep(50_000)
        } while Date() < deadline
        return nil
    }

    /// The explorer's pid, as its launch script recorded it.
    private func explorerPID() -> pid_t? {
        guard let scratch, let text = try? String(contentsOf: scratch.appendingPathComponent("pid"), encoding: .utf8) else { return nil }
        return pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    private struct Timeout: Error {}

    private func line(_ n: Int, of screen: String) -> String {
        let lines = screen.split(separator: "\n", omittingEmptySubsequences: false)
        return lines.indices.contains(n) ? String(lines[n]) : ""
    }

    private func title(_ screen: String) -> String { line(0, of: screen) }

    private func lastLine(of screen: String) -> String {
        screen.split(separator: "\n").last.map(String.init) ?? ""
    }

    /// The parameters of every SGR sequence, with 38/48 color specifications (`38;5;n`,
    /// `38;2;r;g;b`) left out, so 31 means only "red foreground".
    static func sgrParameters(_ text: String) -> [Int] {
        var result: [Int] = []
        var rest = Substring(text)
        while let start = rest.range(of: "\u{1B}[") {
            rest = rest[start.upperBound...]
            guard let end = rest.firstIndex(where: { !("0"..."9").contains($0) && $0 != ";" && $0 != ":" }) else { break }
            let body = rest[..<end]
            let isSGR = rest[end] == "m"
            rest = rest[rest.index(after: end)...]
            guard isSGR else { continue }
            let params = body.split(separator: ";", omittingEmptySubsequences: false).map { Int($0) ?? 0 }
            var i = 0
            while i < params.count {
                if params[i] == 38 || params[i] == 48 || params[i] == 58 {
                    i += (params.indices.contains(i + 1) && params[i + 1] == 2) ? 5 : 3
                    continue
                }
                result.append(params[i])
                i += 1
            }
        }
        return result
    }

    /// Single-quotes `s` for sh.
    static func quote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }
}

/// A private tmux server (its own socket), so nothing touches anyone else's sessions.
private struct Tmux {
    let executable: String
    let socket: String

    static func executable() -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        let dirs = path.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/local/bin", "/opt/homebrew/bin"]
        return dirs.map { $0 + "/tmux" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Runs a tmux command and returns its status and output (stdout and stderr together).
    /// Not with Foundation's `Process`: the server that the first command forks inherits the
    /// descriptor `Process` watches for the child's exit, so `Process` would wait forever. Output
    /// goes to a file rather than a pipe for the same reason.
    @discardableResult
    func run(_ arguments: [String]) -> (status: Int32, output: String) {
        let outputPath = FileManager.default.temporaryDirectory.appendingPathComponent("duoscope-e2e-tmux-\(UUID().uuidString)").path
        defer { unlink(outputPath) }
        var environment = ProcessInfo.processInfo.environment
        environment["TERM"] = "xterm-256color"
        environment["TMUX"] = nil
        // The screens hold box and block characters: make tmux use UTF-8 whatever the locale.
        environment["LC_ALL"] = "C.UTF-8"
        let argv = [executable, "-u", "-L", socket, "-f", "/dev/null"] + arguments
        let envp = environment.map { "\($0.key)=\($0.value)" }

        #if canImport(Darwin)
            var actions: posix_spawn_file_actions_t?
        #else
            var actions = posix_spawn_file_actions_t()
        #endif
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)

        var pid: pid_t = 0
        let spawned = withCStrings(argv) { cArgv in
            withCStrings(envp) { cEnvp in posix_spawn(&pid, executable, &actions, nil, cArgv, cEnvp) }
        }
        guard spawned == 0 else { return (-1, "cannot run \(executable): \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        let deadline = Date().addingTimeInterval(10)
        var reaped = waitpid(pid, &status, WNOHANG)
        while reaped == 0 && Date() < deadline {
            usleep(2_000)
            reaped = waitpid(pid, &status, WNOHANG)
        }
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        if reaped == 0 {
            kill(pid, SIGKILL)
            waitpid(pid, &status, 0)
            return (-1, "tmux \(arguments.joined(separator: " ")) did not finish in 10 s: \(output)")
        }
        // Exited normally: the status sits in bits 8-15; otherwise report the signal as 128 + n.
        let exitStatus = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return (exitStatus, output)
    }

    /// Calls `body` with `strings` as a NULL-terminated C array.
    private func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
        let pointers = strings.map { strdup($0) } + [nil]
        defer { for pointer in pointers { free(pointer) } }
        return body(pointers)
    }

    /// Sends keys to the session: tmux key names (`Tab`, `C-c`), or with `literal` the characters.
    func keys(_ keys: String, literal: Bool = false) {
        run(["send-keys", "-t", "e2e"] + (literal ? ["-l"] : []) + [keys])
    }

    /// The visible pane as text (with `history`, the scrollback too; with `escapes`, attributes as SGR).
    func capture(history: Bool = false, escapes: Bool = false) -> String {
        run(["capture-pane", "-p", "-t", "e2e"] + (history ? ["-S", "-200"] : []) + (escapes ? ["-e"] : [])).output
    }

    /// Stops the server and waits (up to 5 s) until it no longer answers: a `new-session` sent
    /// while the old server is still exiting connects to it and fails with "server exited
    /// unexpectedly" (seen in CI on a loaded machine).
    func killServer() {
        run(["kill-server"])
        let deadline = Date().addingTimeInterval(5)
        while run(["list-sessions"]).status == 0, Date() < deadline { usleep(20_000) }
    }
}
