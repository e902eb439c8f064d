import DuoEngine
import Foundation

/// The JSON that duoscope prints or writes (route, oracle, perplexity, eval and eval.json, info,
/// bench, snapshot), all through one encoder: pretty, keys sorted, slashes unescaped, a final
/// newline, and every key in snake_case (`keyEncodingStrategy = .convertToSnakeCase`, so Swift's
/// `meanFFNFraction` is written `mean_ffn_fraction`; dictionary keys are data, e.g. policy names,
/// and are written as they are). Every character that could steer a terminal (C0 and C1
/// controls, DEL, bidi overrides) is written as a `\uXXXX` escape, so JSON printed to a terminal
/// is inert whatever the token texts hold. `decode` reads such JSON back (eval.json).
public enum JSONOutput {
    public static func string<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        // A loss can be infinite (a token with probability 0 under a route); JSON has no such number.
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
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

    /// A value from JSON that `string` wrote: snake_case keys back to the Swift properties
    /// (`convertFromSnakeCase`; dictionary keys as they are).
    public static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try decoder.decode(type, from: data)
    }
}
