/// How one cell is drawn: colors (nil = the terminal's default) and attributes.
public struct CellStyle: Hashable, Sendable {
    public var foreground: RGB?
    public var background: RGB?
    public var bold = false
    public var dim = false
    public var reverse = false
    public var underline = false

    public init(
        foreground: RGB? = nil, background: RGB? = nil, bold: Bool = false, dim: Bool = false,
        reverse: Bool = false, underline: Bool = false
    ) {
        self.foreground = foreground
        self.background = background
        self.bold = bold
        self.dim = dim
        self.reverse = reverse
        self.underline = underline
    }

    public static let plain = CellStyle()

    public func with(bold: Bool? = nil, dim: Bool? = nil, reverse: Bool? = nil, underline: Bool? = nil) -> CellStyle {
        var s = self
        if let bold { s.bold = bold }
        if let dim { s.dim = dim }
        if let reverse { s.reverse = reverse }
        if let underline { s.underline = underline }
        return s
    }
}
