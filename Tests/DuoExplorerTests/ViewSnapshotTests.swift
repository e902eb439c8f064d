import DuoEngine
import Foundation
import TestSupport
import XCTest

@testable import DuoExplorer

/// Every view at two terminal sizes, with color (compared as ANSI, which carries the styles)
/// and without (compared as text), against committed snapshots. Set DUOSCOPE_RECORD_SNAPSHOTS=1
/// to rewrite them after an intended change, then review the diff.
final class ViewSnapshotTests: XCTestCase {
    static let folder = FixturePaths.url("explorer-snapshots")
    static let sizes = [(80, 24), (132, 40)]

    func state(_ view: ViewKind) -> ExplorerState {
        var s = ExplorerState()
        s.view = view
        s.token = 3
        s.layer = 2
        return s
    }

    func assertSnapshot(_ text: String, named name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let url = Self.folder.appendingPathComponent(name)
        if ProcessInfo.processInfo.environment["DUOSCOPE_RECORD_SNAPSHOTS"] != nil {
            try FileManager.default.createDirectory(at: Self.folder, withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
            return
        }
        guard let expected = try? String(contentsOf: url, encoding: .utf8) else {
            XCTFail("missing snapshot \(name); record with DUOSCOPE_RECORD_SNAPSHOTS=1", file: file, line: line)
            return
        }
        if expected != text {
            let a = expected.split(separator: "\n", omittingEmptySubsequences: false)
            let b = text.split(separator: "\n", omittingEmptySubsequences: false)
            let first = zip(a, b).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(a.count, b.count)
            XCTFail(
                "snapshot \(name) differs at line \(first + 1):\nexpected: "
                    + "\(first < a.count ? String(a[first]) : "<none>")\nactual:   \(first < b.count ? String(b[first]) : "<none>")",
                file: file, line: line)
        }
    }

    func testEveryViewAtTwoSizesInColorAndWithout() throws {
        let analysis = SyntheticAnalysis.snapshot()
        for view in ViewKind.allCases {
            for (w, h) in Self.sizes {
                let plain = ExplorerRenderer.render(
                    ViewContext(state: state(view), analysis: analysis, theme: Theme(color: false)), width: w, height: h)
                let color = ExplorerRenderer.render(
                    ViewContext(state: state(view), analysis: analysis, theme: Theme(color: true)), width: w, height: h)
                try assertSnapshot(plain.text, named: "\(view.name)-\(w)x\(h)-plain.txt")
                try assertSnapshot(ANSIRenderer.render(color, depth: .palette256), named: "\(view.name)-\(w)x\(h)-color.ansi")
            }
        }
    }

    /// Without color the Compare view's Δloss row keeps its sign: ▼ where the primary's loss is
    /// lower than the partner's, ▲ where it is higher, and swapping the two flips every mark.
    func testSignOfDeltaLossSurvivesWithoutColor() throws {
        let analysis = SyntheticAnalysis.snapshot()
        func deltaRow(_ state: ExplorerState) -> Substring {
            let text = ExplorerRenderer.render(
                ViewContext(state: state, analysis: analysis, theme: Theme(color: false)), width: 80, height: 24
            )
            .text
            return text.split(separator: "\n").first { $0.hasPrefix(" Δloss ") }?.dropFirst(6).drop { $0 == " " } ?? ""
        }
        var state = state(.compare)
        let forward = deltaRow(state)
        state.primary = state.partner
        state.partner = .oracle
        let swapped = deltaRow(state)
        XCTAssertFalse(forward.isEmpty)
        XCTAssertEqual(String(swapped), String(forward.map { ["▲": "▼", "▼": "▲", "▴": "▾", "▾": "▴"][$0] ?? $0 }), "the sign flips")
        let primary = try XCTUnwrap(analysis.runs[PolicyKey(.oracle, k: 4)]).losses[0]
        let partner = try XCTUnwrap(analysis.runs[PolicyKey(.router, k: 4)]).losses[0]
        XCTAssertTrue(primary < partner ? "▼▾".contains(forward.first!) : "▲▴·".contains(forward.first!), "\(primary) vs \(partner)")
    }

    func testTransposedHelpPickerAndTooSmall() throws {
        let analysis = SyntheticAnalysis.snapshot()
        var s = state(.routes)
        s.transposed = true
        try assertSnapshot(
            ExplorerRenderer.render(ViewContext(state: s, analysis: analysis, theme: Theme(color: false)), width: 80, height: 24).text,
            named: "routes-transposed-80x24-plain.txt")
        s = state(.routes)
        s.showHelp = true
        try assertSnapshot(
            ExplorerRenderer.render(ViewContext(state: s, analysis: analysis, theme: Theme(color: false)), width: 80, height: 24).text,
            named: "help-80x24-plain.txt")
        // Where there is room the commands after : follow the keys; :help shows them alone.
        try assertSnapshot(
            ExplorerRenderer.render(ViewContext(state: s, analysis: analysis, theme: Theme(color: false)), width: 132, height: 40).text,
            named: "help-132x40-plain.txt")
        s.helpPage = .commands
        try assertSnapshot(
            ExplorerRenderer.render(ViewContext(state: s, analysis: analysis, theme: Theme(color: false)), width: 80, height: 24).text,
            named: "help-commands-80x24-plain.txt")
        s = state(.routes)
        s.showPicker = true
        s.pickerChoices = ["dialogue.txt", "quotes.txt", "type or paste a text…"]
        try assertSnapshot(
            ExplorerRenderer.render(ViewContext(state: s, analysis: analysis, theme: Theme(color: false)), width: 80, height: 24).text,
            named: "picker-80x24-plain.txt")
        let small = ExplorerRenderer.render(
            ViewContext(state: state(.routes), analysis: analysis, theme: Theme(color: false)), width: 50, height: 15
        ).text
        XCTAssertTrue(small.contains("terminal too small: 50×15"), small)
        XCTAssertTrue(small.contains("at least 60×23"), small)
    }

    /// The plain grid of the Routes view shows exactly the routes of the primary run.
    func testRoutesGlyphsFollowThePrimaryRun() throws {
        let analysis = SyntheticAnalysis.snapshot()
        var s = state(.routes)
        s.token = 0
        s.layer = 11
        let grid = ExplorerRenderer.render(ViewContext(state: s, analysis: analysis, theme: Theme(color: false)), width: 132, height: 40)
        let run = analysis.runs[s.primaryKey]!
        var checked = 0
        for y in 0..<grid.height {
            for x in 0..<grid.width {
                guard case .cell(let t, let l)? = grid.target(x: x, y: y), !(t == s.token && l == s.layer) else { continue }
                XCTAssertEqual(grid[x, y].character, Theme.glyph(run.routes[t, l]), "token \(t) layer \(l)")
                checked += 1
            }
        }
        XCTAssertGreaterThan(checked, 12 * 20)
    }

    /// Compare marks exactly the cells where the two policies differ.
    func testCompareMarksDisagreements() throws {
        let analysis = SyntheticAnalysis.snapshot()
        let s = state(.compare)
        let grid = ExplorerRenderer.render(ViewContext(state: s, analysis: analysis, theme: Theme(color: false)), width: 132, height: 40)
        let a = analysis.runs[s.primaryKey]!
        let b = analysis.runs[s.partnerKey]!
        for y in 0..<grid.height {
            for x in 0..<grid.width {
                guard case .cell(let t, let l)? = grid.target(x: x, y: y), !(t == s.token && l == s.layer) else { continue }
                let c = grid[x, y].character
                if a.routes[t, l] == b.routes[t, l] {
                    XCTAssertEqual(c, Theme.glyph(a.routes[t, l]))
                } else {
                    XCTAssertEqual(c, a.routes[t, l] > b.routes[t, l] ? "+" : "−")
                }
            }
        }
    }

    /// No view lets a token's escape sequence or control character into the grid, and the
    /// ANSI output holds no ESC besides its own SGR sequences.
    func testEscapeSequencesNeverReachTheGrid() throws {
        let analysis = SyntheticAnalysis.snapshot()
        for view in ViewKind.allCases {
            var s = state(view)
            s.token = SyntheticAnalysis.words.firstIndex(of: "\u{1B}[31m")!
            for color in [false, true] {
                let grid = ExplorerRenderer.render(
                    ViewContext(state: s, analysis: analysis, theme: Theme(color: color)), width: 132, height: 40)
                for cell in grid.cells {
                    guard let c = cell.character else { continue }
                    XCTAssertFalse(
                        c.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) },
                        "\(view): \(c.unicodeScalars.map(\.value))")
                }
                if view == .routes { XCTAssertTrue(grid.text.contains("\\e[31m"), "the escape is shown escaped") }
                let ansi = ANSIRenderer.render(grid, depth: .truecolor)
                let stripped = ansi.replacingOccurrences(of: "\u{1B}\\[[0-9;]*m", with: "", options: .regularExpression)
                XCTAssertFalse(stripped.contains("\u{1B}"), "\(view)")
            }
        }
    }

    /// Results that have not arrived yet render as pending, not as a crash or stale data.
    func testPendingResultsRender() throws {
        let doc = SyntheticAnalysis.document()
        let empty = AnalysisSnapshot(document: doc, modelName: "synthetic-12L", layers: 12)
        for view in ViewKind.allCases {
            var s = state(view)
            s.token = doc.count - 1
            let text = ExplorerRenderer.render(ViewContext(state: s, analysis: empty, theme: Theme(color: false)), width: 80, height: 24)
                .text
            XCTAssertTrue(text.contains("duoscope │ synthetic-12L"), "\(view)")
        }
        let routes = ExplorerRenderer.render(
            ViewContext(state: state(.routes), analysis: empty, theme: Theme(color: false)), width: 80, height: 24
        ).text
        XCTAssertTrue(routes.contains("░"), routes)
    }
}
