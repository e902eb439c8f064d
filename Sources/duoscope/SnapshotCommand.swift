import ArgumentParser
import DuoEngine
import DuoExplorer
import Foundation

/// `duoscope snapshot`: renders one explorer view to a file without a terminal.
struct SnapshotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot",
        abstract: "Render an explorer view headless as text, ANSI, SVG or JSON (the explorer's own renderer)."
    )

    @Argument(help: "Model directory.")
    var model: String

    @Argument(help: "Text file to render.")
    var text: String

    @OptionGroup var options: ExplorerOptions

    static let formats: [OutputFormat] = [.table, .ansi, .svg, .json]

    @Option(
        name: .long,
        help: OutputFormat.help(
            formats, notes: [.table: "plain text, routes as glyphs", .ansi: "truecolor", .svg: "a figure", .json: "the data"]))
    var format: OutputFormat = .table

    @Option(name: .long, help: "Width in columns.")
    var width: Int = 120

    @Option(name: .long, help: "Height in rows (default: enough for the whole view).")
    var height: Int?

    @Option(name: .long, help: "Output file (never overwritten); standard output when absent.")
    var out: String?

    func validate() throws { try format.check(Self.formats, command: "snapshot") }

    func run() throws {
        guard (ExplorerRenderer.minimumWidth...1000).contains(width) else {
            throw DuoError("--width \(width) must be between \(ExplorerRenderer.minimumWidth) and 1000")
        }
        let explorer = try ExplorerSetup.make(modelPath: model, texts: [text], options: options, snapshots: ".")
        let progress = ProgressLine()
        var current = JobProgress(name: "", done: 0, total: 0, started: Date())
        explorer.computeSynchronously { job, done, total in
            if current.name != job { current = JobProgress(name: job, done: 0, total: total, started: Date()) }
            current.done = done
            current.total = total
            progress.update(current.line())
        }
        progress.clear()
        let rows = height ?? ExplorerRenderer.preferredHeight(explorer.context(color: false), width: width)
        let minHeight = ExplorerRenderer.minimumHeight(layers: explorer.layers)
        guard rows >= minHeight, rows <= 2000 else { throw DuoError("--height \(rows) must be between \(minHeight) and 2000") }
        let kind: SnapshotFormat
        switch format {
        case .ansi: kind = .ansi
        case .svg: kind = .svg
        case .json: kind = .json
        default: kind = .txt
        }
        let rendered = SnapshotWriter.render(kind, explorer.snapshotContent(width: width, height: rows))
        if let out {
            try SnapshotWriter.writeSingle(rendered, to: URL(fileURLWithPath: out))
        } else {
            FileHandle.standardOutput.write(Data(rendered.utf8))
        }
    }
}
