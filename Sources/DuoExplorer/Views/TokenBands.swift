/// Lays tokens out left to right in bands no wider than the available width, each token as
/// wide as its text (at least one column), as the heatmap and the difficulty view draw them.
struct TokenBands {
    /// Per band, the tokens and the column each starts at (relative to the band's left edge).
    var bands: [[(token: Int, x: Int, width: Int)]] = []

    init(texts: [String], width: Int, breakAfterNewline: Bool = false) {
        var band: [(token: Int, x: Int, width: Int)] = []
        var x = 0
        for (t, text) in texts.enumerated() {
            let w = min(max(DisplayWidth.of(text), 1), max(width, 1))
            if x + w > width, !band.isEmpty {
                bands.append(band)
                band = []
                x = 0
            }
            band.append((t, x, w))
            x += w
            if breakAfterNewline, text.hasSuffix("\\n") {
                bands.append(band)
                band = []
                x = 0
            }
        }
        if !band.isEmpty { bands.append(band) }
    }

    func band(of token: Int) -> Int {
        bands.firstIndex { b in b.contains { $0.token == token } } ?? 0
    }

    /// The bands to show when `visible` fit: whole pages, the one holding `token`.
    func page(showing token: Int, visible: Int) -> Range<Int> {
        let visible = max(visible, 1)
        let first = band(of: token) / visible * visible
        return first..<min(first + visible, bands.count)
    }
}
