/// Reduces 24-bit colors to what a terminal offers: the xterm 256-color palette, the 16 or 8
/// standard colors, or a direct-color number. Nearest means smallest squared RGB distance;
/// ties go to the lower palette index.
public enum ColorQuantizer {
    /// The channel levels of the 6×6×6 color cube (palette entries 16...231).
    private static let cubeLevels: [UInt8] = [0, 95, 135, 175, 215, 255]

    /// The usual xterm values of the 16 standard colors (0...7 normal, 8...15 bright).
    private static let standardColors: [RGB] = [
        RGB(0, 0, 0), RGB(205, 0, 0), RGB(0, 205, 0), RGB(205, 205, 0),
        RGB(0, 0, 238), RGB(205, 0, 205), RGB(0, 205, 205), RGB(229, 229, 229),
        RGB(127, 127, 127), RGB(255, 0, 0), RGB(0, 255, 0), RGB(255, 255, 0),
        RGB(92, 92, 255), RGB(255, 0, 255), RGB(0, 255, 255), RGB(255, 255, 255),
    ]

    /// The nearest entry of the xterm color cube (16...231) or grey ramp (232...255).
    public static func xterm256(_ c: RGB) -> Int { nearest(to: c, in: 16...255) }

    /// The nearest of the 16 standard xterm colors (0...15).
    public static func ansi16(_ c: RGB) -> Int { nearest(to: c, in: 0...15) }

    /// The nearest of the 8 normal xterm colors (0...7).
    public static func ansi8(_ c: RGB) -> Int { nearest(to: c, in: 0...7) }

    /// The color number ncurses expects at `depth`: a palette index, or for truecolor the
    /// direct-color number (r << 16) | (g << 8) | b; -1 (the terminal's default) for `none`.
    /// Direct-color terminfo sends numbers below 8 as palette colors, so those near-blacks
    /// (0, 0, 0...7) go out as (0, 0, 8), which looks the same.
    public static func terminalColor(_ c: RGB, depth: ColorDepth) -> Int {
        switch depth {
        case .truecolor: return max(Int(c.r) << 16 | Int(c.g) << 8 | Int(c.b), 8)
        case .palette256: return xterm256(c)
        case .palette16: return ansi16(c)
        case .palette8: return ansi8(c)
        case .none: return -1
        }
    }

    /// The RGB value of xterm palette entry `index` (0...255).
    public static func paletteColor(_ index: Int) -> RGB {
        switch index {
        case ..<16:
            return standardColors[max(index, 0)]
        case 16...231:
            let cube = index - 16
            return RGB(cubeLevels[cube / 36], cubeLevels[cube / 6 % 6], cubeLevels[cube % 6])
        default:
            let level = UInt8(8 + 10 * (min(index, 255) - 232))
            return RGB(level, level, level)
        }
    }

    private static func nearest(to c: RGB, in indices: ClosedRange<Int>) -> Int {
        var best = indices.lowerBound
        var bestDistance = Int.max
        for index in indices {
            let p = paletteColor(index)
            let dr = Int(c.r) - Int(p.r)
            let dg = Int(c.g) - Int(p.g)
            let db = Int(c.b) - Int(p.b)
            let distance = dr * dr + dg * dg + db * db
            if distance < bestDistance {
                best = index
                bestDistance = distance
            }
        }
        return best
    }
}
