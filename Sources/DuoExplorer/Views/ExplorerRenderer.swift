import DuoEngine
import Foundation

/// Draws a whole explorer screen into a cell grid: title bar, view tabs, the current view,
/// the token detail pane and the status line, plus the help and text-picker overlays.
/// Pure: the same function serves the terminal, snapshots and tests.
public enum ExplorerRenderer {
    public static let minimumWidth = 60
    public static func minimumHeight(layers: Int) -> Int { max(20, layers + 11) }
    static let detailHeight = 5

    public static func render(_ c: ViewContext, width: Int, height: Int) -> CellGrid {
        var grid = CellGrid(width: width, height: height)
        let minHeight = minimumHeight(layers: c.layers)
        guard width >= minimumWidth, height >= minHeight else {
            let lines = [
                "terminal too small: \(width)×\(height)", "duoscope needs at least \(minimumWidth)×\(minHeight)",
                "resize, or press q to quit",
            ]
            for (i, line) in lines.enumerated() {
                grid.put(line, x: max((width - line.count) / 2, 0), y: max(height / 2 - 1, 0) + i, style: c.theme.warning)
            }
            return grid
        }
        drawTitle(into: &grid, context: c)
        drawTabs(into: &grid, context: c)
        let body = Rect(x: 1, y: 2, width: width - 2, height: height - 3 - detailHeight)
        switch c.state.view {
        case .routes: HeatmapView.draw(into: &grid, area: body, context: c, compare: false)
        case .compare: HeatmapView.draw(into: &grid, area: body, context: c, compare: true)
        case .difficulty: DifficultyView.draw(into: &grid, area: body, context: c)
        case .layers: LayersView.draw(into: &grid, area: body, context: c)
        case .summary: SummaryView.draw(into: &grid, area: body, context: c)
        }
        DetailPane.draw(into: &grid, area: Rect(x: 1, y: height - 1 - detailHeight, width: width - 2, height: detailHeight), context: c)
        drawStatus(into: &grid, y: height - 1, context: c)
        if c.state.showPicker { Overlays.picker(into: &grid, context: c) }
        if c.state.showHelp { Overlays.help(into: &grid, context: c) }
        return grid
    }

    private static func drawTitle(into grid: inout CellGrid, context c: ViewContext) {
        let s = c.state
        var parts = ["duoscope", c.analysis.modelName, "\(c.document.label) · \(c.document.count) tokens"]
        parts.append(s.view == .compare ? "\(s.primaryKey) vs \(s.partnerKey)" : "\(s.primaryKey)")
        parts.append("oracle context \(s.context.rawValue)")
        if let run = c.primary {
            parts.append(run.isComplete ? "ppl \(Format.number(run.perplexity, digits: 1))" : "ppl …")
            parts.append("FFN \(Format.percent(run.meanFFNFraction))")
        }
        grid.fill(x: 0, y: 0, width: grid.width, height: 1, style: c.theme.title)
        grid.put(" " + parts.joined(separator: " │ "), x: 0, y: 0, style: c.theme.title)
    }

    private static func drawTabs(into grid: inout CellGrid, context c: ViewContext) {
        var x = 1
        for view in ViewKind.allCases {
            let label = " \(view.rawValue + 1) \(view.title) "
            x = grid.put(label, x: x, y: 1, style: view == c.state.view ? c.theme.selectedTab : c.theme.tab, target: .view(view)) + 1
        }
        let hint = "k=\(c.state.k)  " + KeyBindings.hints(.tabBar)
        grid.put(hint, x: max(grid.width - hint.count - 1, x), y: 1, style: c.theme.label)
    }

    private static func drawStatus(into grid: inout CellGrid, y: Int, context c: ViewContext) {
        let theme = c.theme
        if let input = c.state.input {
            let prompt: String
            switch input.purpose {
            case .find: prompt = "find token: "
            case .text: prompt = "text: "
            case .command: prompt = ":"
            }
            let x = grid.put(prompt, x: 1, y: y, style: theme.emphasis)
            let shown = TerminalSafe.escape(input.buffer)
            let room = grid.width - x - 2
            let tail = shown.count > room ? String(shown.suffix(room)) : shown
            let end = grid.put(tail, x: x, y: y)
            grid.put("█", x: end, y: y)
            return
        }
        var left = ""
        if let generating = c.state.generating { left = "generating under \(generating)… (Esc stops)  " }
        for lane in ["search", "quick"] {
            if let progress = c.analysis.progress[lane] { left += "⟳ " + progress.line() + "  " }
        }
        var message = c.state.message
        if message == nil,
            let failed = [c.state.primaryKey, c.state.partnerKey].first(where: { c.analysis.failures[$0.description] != nil })
        {
            message = "error: \(failed): \(c.analysis.failures[failed.description]!)"
        }
        if let message { left = left.isEmpty ? message : left + "  │ " + message }
        let leftEnd = grid.put(
            left, x: 1, y: y, style: message?.hasPrefix("error") == true ? theme.warning : .plain,
            limit: max(grid.width - 2, 0))
        let hints = KeyBindings.hints(.statusLine, room: grid.width - leftEnd - 3)
        let hintX = grid.width - hints.count - 1
        if leftEnd < hintX - 1 { grid.put(hints, x: hintX, y: y, style: theme.label) }
    }
}

extension ExplorerRenderer {
    /// Rows that show the whole view at this width (for headless snapshots).
    public static func preferredHeight(_ c: ViewContext, width: Int) -> Int {
        let chrome = 3 + detailHeight
        let body: Int
        switch c.state.view {
        case .routes, .compare:
            if c.state.transposed {
                body = c.document.count + 1
            } else {
                let bands = TokenBands(texts: c.document.tokenTexts, width: width - 2 - 9).bands.count
                body = bands * (c.layers + 4)
            }
        case .difficulty: body = 3 + 2 * TokenBands(texts: c.document.tokenTexts, width: width - 2, breakAfterNewline: true).bands.count + 8
        case .layers: body = c.layers + 5
        case .summary: body = max(c.layers + 3, 18)
        }
        return max(body + chrome, minimumHeight(layers: c.layers))
    }
}
