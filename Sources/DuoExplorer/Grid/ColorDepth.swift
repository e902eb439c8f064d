/// How many colors a terminal (or an ANSI export) can show. `none` draws with glyphs and
/// attributes only (NO_COLOR, --no-color, or a terminal without color).
public enum ColorDepth: String, Sendable, CaseIterable {
    case truecolor, palette256 = "256", palette16 = "16", palette8 = "8", none

    public var hasColor: Bool { self != .none }
}
