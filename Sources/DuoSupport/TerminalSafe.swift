/// Renders untrusted text (token strings, file contents) so that it can never act on a terminal:
/// control characters (C0, DEL, C1), escape sequences and bidi overrides become visible escapes.
public enum TerminalSafe {
    /// Escapes every control or format-steering scalar (`\n`, `\e`, `\u{202E}`, ...) and the
    /// backslash itself, so the result reads back unambiguously; printable text passes through.
    public static func escape(_ text: String) -> String { escape(text, backslash: true) }

    /// The same escapes without touching backslashes: for text that may already be escaped in
    /// parts, such as an error message quoting a file name (`DuoError.description`).
    public static func escapeControls(_ text: String) -> String {
        text.unicodeScalars.contains(where: steersTerminal) ? escape(text, backslash: false) : text
    }

    /// An error as one line for the terminal: a `DuoError` is already safe, others are escaped.
    public static func describe(_ error: Error) -> String {
        (error as? DuoError)?.description ?? escape("\(error)")
    }

    private static func escape(_ text: String, backslash: Bool) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case 0x1B: out += "\\e"
            case 0x5C where backslash: out += "\\\\"
            case 0x00...0x1F, 0x7F...0x9F, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069, 0xFEFF:
                out += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// Whether `scalar` can act on a terminal: a C0 or C1 control, DEL, or a bidi/format override.
    public static func steersTerminal(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069, 0xFEFF: return true
        default: return false
        }
    }

    /// True when `text` holds nothing `escape` would change.
    public static func isSafe(_ text: String) -> Bool { escape(text) == text }
}
