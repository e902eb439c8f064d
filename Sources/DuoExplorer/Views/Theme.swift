import DuoEngine

/// Colors and glyphs, shared by the terminal views and the exporters. Routes follow the paper:
/// red = big, blue = small, blank = skip. Without color, routes become glyphs (`█` big,
/// `▒` small, `·` skip) and emphasis becomes attributes.
public struct Theme: Sendable {
    public let color: Bool

    public init(color: Bool) { self.color = color }

    public static let big = RGB(214, 39, 40)
    public static let small = RGB(49, 110, 200)
    public static let skip = RGB(240, 240, 240)
    public static let low = RGB(49, 110, 200)
    public static let middle = RGB(245, 245, 245)
    public static let high = RGB(214, 39, 40)
    public static let ink = RGB(20, 20, 20)
    public static let accent = RGB(255, 200, 0)
    public static let muted = RGB(130, 130, 130)

    public static func color(_ route: Route) -> RGB {
        switch route {
        case .big: return big
        case .small: return small
        case .skip: return skip
        }
    }

    public static func glyph(_ route: Route) -> Character {
        switch route {
        case .big: return "█"
        case .small: return "▒"
        case .skip: return "·"
        }
    }

    /// A cell showing a route: a colored block, or a glyph without color.
    public func routeCell(_ route: Route?, dimmed: Bool = false) -> (Character, CellStyle) {
        guard let route else { return ("░", CellStyle(foreground: Theme.muted, dim: true)) }
        guard color else { return (Theme.glyph(route), CellStyle(dim: dimmed)) }
        if route == .skip { return ("·", CellStyle(foreground: Theme.muted, dim: dimmed)) }
        let c = Theme.color(route)
        return (" ", CellStyle(background: dimmed ? c.mixed(with: RGB(0, 0, 0), 0.55) : c))
    }

    /// Blue (0) through near-white (0.5) to red (1).
    public static func heat(_ t: Double) -> RGB {
        let t = t.isFinite ? min(max(t, 0), 1) : 0.5
        return t < 0.5 ? low.mixed(with: middle, t * 2) : middle.mixed(with: high, (t - 0.5) * 2)
    }

    /// Eight levels for values in 0...1 without color.
    public static func bar(_ t: Double) -> Character {
        let levels: [Character] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]
        let t = t.isFinite ? min(max(t, 0), 1) : 0
        return levels[min(Int(t * 8), 7)]
    }

    /// A heat cell: a background color with the text on it, or the text with a bar glyph.
    public func heatStyle(_ t: Double) -> CellStyle {
        guard color else { return CellStyle() }
        let bg = Theme.heat(t)
        return CellStyle(foreground: Theme.ink, background: bg)
    }

    public var title: CellStyle {
        color ? CellStyle(foreground: RGB(255, 255, 255), background: RGB(40, 60, 90), bold: true) : CellStyle(bold: true, reverse: true)
    }
    public var selectedTab: CellStyle {
        color ? CellStyle(foreground: Theme.ink, background: Theme.accent, bold: true) : CellStyle(bold: true, reverse: true)
    }
    public var tab: CellStyle { CellStyle(foreground: color ? Theme.muted : nil) }
    public var label: CellStyle { CellStyle(foreground: color ? Theme.muted : nil, dim: !color) }
    public var cursor: CellStyle {
        color ? CellStyle(foreground: Theme.ink, background: Theme.accent, bold: true) : CellStyle(bold: true, reverse: true)
    }
    public var emphasis: CellStyle { CellStyle(bold: true) }
    public var warning: CellStyle { CellStyle(foreground: color ? Theme.accent : nil, bold: true) }
    public var rule: CellStyle { CellStyle(foreground: color ? RGB(90, 90, 90) : nil, dim: !color) }
}
