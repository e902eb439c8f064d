import DuoEngine

/// A field of the CSV that duoscope prints (route, oracle, perplexity, eval), made once for every
/// report: escaped for the terminal (`TerminalSafe`: `\n`, `\e`, `\u{7}`, ...), so that CSV
/// printed to a terminal cannot act on it and every record is one line, then RFC 4180-quoted
/// when it holds a comma, a quote or edge spaces (quotes doubled).
public enum CSVText {
    public static func field(_ raw: String) -> String {
        let text = TerminalSafe.escape(raw)
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) || text.hasPrefix(" ") || text.hasSuffix(" ")
        else {
            return text
        }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
