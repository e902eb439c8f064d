import DuoEngine
import Foundation

/// The JSON that reports print: pretty, keys sorted, slashes unescaped, a final newline. Every
/// character that could steer a terminal (C0 and C1 controls, DEL, bidi overrides) is written as
/// a `\uXXXX` escape, so JSON printed to a terminal is inert whatever the token texts hold.
public enum JSONOutput {
    public static func string<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let json = String(decoding: try encoder.encode(value), as: UTF8.self)
        var out = String()
        out.unicodeScalars.reserveCapacity(json.unicodeScalars.count)
        for scalar in json.unicodeScalars {
            // Outside strings JSON has only ASCII structure and whitespace, which pass unchanged.
            if !TerminalSafe.steersTerminal(scalar) || scalar == "\n" {
                out.unicodeScalars.append(scalar)
            } else {
                out += String(format: "\\u%04x", scalar.value)
            }
        }
        return out + "\n"
    }
}
