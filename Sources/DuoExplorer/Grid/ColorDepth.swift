/// How many colors a terminal (or an ANSI export) can show. `none` draws with glyphs and
/// attributes only (NO_COLOR, --no-color, or a terminal without color).
public enum ColorDepth: String, Sendable, CaseIterable, Codable {
    case truecolor
    case palette256 = "256"
    case palette16 = "16"
    case palette8 = "8"
    case none

    public var hasColor: Bool { self != .none }
}
