/// Renders untrusted text (token strings, file contents) so that it can never act on a terminal:
/// control characters (C0, DEL, C1), escape sequences and bidi overrides become visible escapes.
public enum TerminalSafe {
    /// Escapes every control or format-steering scalar; printable text passes through.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case 0x1B: out += "\\e"
            case 0x5C: out += "\\\\"
            case 0x00...0x1F, 0x7F...0x9F, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069, 0xFEFF:
                out += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// Escapes only what can act on a terminal (as `\u{1B}`), leaving backslashes alone: for text
    /// that may already be escaped in parts, such as an error message quoting a file name.
    public static func escapeControls(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: steersTerminal) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            if steersTerminal(scalar) {
                out += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            } else {
                out.unicodeScalars.append(scalar)
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
