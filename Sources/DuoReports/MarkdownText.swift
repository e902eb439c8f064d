import DuoEngine

/// Text in a cell of the Markdown tables duoscope prints (route, oracle, perplexity, eval):
/// escaped for the terminal (`TerminalSafe`), then the characters that Markdown would read as
/// markup (backslash, backtick, `|`, `*`, `_`, `[`, `]`, `<`, `>`, `~`, `&`) backslash-escaped,
/// so that the cell renders as the text itself and cannot end the cell or the table.
public enum MarkdownText {
    public static func cell(_ raw: String) -> String {
        var out = ""
        for ch in TerminalSafe.escape(raw) {
            if "\\|`*_[]<>~&".contains(ch) { out.append("\\") }
            out.append(ch)
        }
        return out
    }
}
