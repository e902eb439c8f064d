import XCTest

@testable import DuoExplorer

final class ANSIRendererTests: XCTestCase {
    private let esc = "\u{1B}"

    private func grid(_ text: String, style: CellStyle, width: Int = 10) -> CellGrid {
        var grid = CellGrid(width: width, height: 1)
        grid.put(text, x: 0, y: 0, style: style)
        return grid
    }

    /// Every `ESC [ digits/semicolons m` removed.
    private func withoutSGR(_ text: String) -> String {
        text.replacingOccurrences(of: "\u{1B}\\[[0-9;]*m", with: "", options: .regularExpression)
    }

    func testTruecolorForegroundAndBackground() {
        let style = CellStyle(foreground: RGB(1, 2, 3), background: RGB(200, 100, 50))
        let output = ANSIRenderer.render(grid("ab", style: style), depth: .truecolor)
        XCTAssertEqual(output, "\(esc)[0m\(esc)[38;2;1;2;3;48;2;200;100;50mab\(esc)[0m\n")
    }

    func testPalette256UsesIndexedColors() {
        let style = CellStyle(foreground: RGB(255, 0, 0), background: RGB(128, 128, 128))
        let output = ANSIRenderer.render(grid("x", style: style), depth: .palette256)
        XCTAssertEqual(output, "\(esc)[0m\(esc)[38;5;196;48;5;244mx\(esc)[0m\n")
    }

    func testPalette16UsesNormalAndBrightCodes() {
        let bright = CellStyle(foreground: RGB(255, 0, 0), background: RGB(255, 255, 255))
        XCTAssertEqual(
            ANSIRenderer.render(grid("x", style: bright), depth: .palette16),
            "\(esc)[0m\(esc)[91;107mx\(esc)[0m\n")
        let normal = CellStyle(foreground: RGB(0, 205, 0), background: RGB(205, 0, 0))
        XCTAssertEqual(
            ANSIRenderer.render(grid("x", style: normal), depth: .palette16),
            "\(esc)[0m\(esc)[32;41mx\(esc)[0m\n")
    }

    func testPalette8() {
        let style = CellStyle(foreground: RGB(255, 255, 255), background: RGB(255, 0, 0))
        XCTAssertEqual(
            ANSIRenderer.render(grid("x", style: style), depth: .palette8),
            "\(esc)[0m\(esc)[37;41mx\(esc)[0m\n")
    }

    func testNoColorKeepsAttributesOnly() {
        let style = CellStyle(foreground: RGB(255, 0, 0), background: RGB(0, 0, 255), bold: true, reverse: true)
        let output = ANSIRenderer.render(grid("hi", style: style), depth: .none)
        XCTAssertEqual(output, "\(esc)[0m\(esc)[1;7mhi\(esc)[0m\n")
        XCTAssertFalse(output.contains("38;"))
        XCTAssertFalse(output.contains("48;"))
    }

    func testAllAttributesInOrder() {
        let style = CellStyle(bold: true, dim: true, reverse: true, underline: true)
        XCTAssertEqual(
            ANSIRenderer.render(grid("x", style: style), depth: .truecolor),
            "\(esc)[0m\(esc)[1;2;4;7mx\(esc)[0m\n")
    }

    func testRunsShareOneSequence() {
        var g = CellGrid(width: 8, height: 1)
        let red = CellStyle(foreground: RGB(255, 0, 0))
        g.put("aa", x: 0, y: 0, style: red)
        g.put("bb", x: 2, y: 0, style: .plain)
        g.put("cc", x: 4, y: 0, style: red)
        XCTAssertEqual(
            ANSIRenderer.render(g, depth: .palette256),
            "\(esc)[0m\(esc)[38;5;196maa\(esc)[0mbb\(esc)[0m\(esc)[38;5;196mcc\(esc)[0m\n")
    }

    func testTrailingDefaultSpacesAreTrimmedButStyledSpacesKept() {
        var g = CellGrid(width: 10, height: 3)
        g.put("top", x: 0, y: 0)
        g.put("  ", x: 0, y: 1, style: CellStyle(background: RGB(0, 0, 255)))
        XCTAssertEqual(
            ANSIRenderer.render(g, depth: .palette8),
            "\(esc)[0mtop\(esc)[0m\n" + "\(esc)[0m\(esc)[44m  \(esc)[0m\n" + "\(esc)[0m\n")
        XCTAssertEqual(withoutSGR(ANSIRenderer.render(g, depth: .truecolor)), "top\n  \n\n")
    }

    func testWideCharacterContinuationEmitsNothing() {
        let output = ANSIRenderer.render(grid("日本x", style: .plain), depth: .truecolor)
        XCTAssertEqual(withoutSGR(output), "日本x\n")
    }

    func testTokenEscapesNeverReachTheOutput() {
        var g = CellGrid(width: 30, height: 2)
        g.put("tok\u{1B}[31mred\u{1B}]0;title\u{07}", x: 0, y: 0, style: CellStyle(foreground: RGB(0, 255, 0), bold: true))
        g.put("\u{9B}31m", x: 0, y: 1)
        for depth in ColorDepth.allCases {
            let output = ANSIRenderer.render(g, depth: depth)
            let stripped = withoutSGR(output)
            XCTAssertFalse(stripped.unicodeScalars.contains("\u{1B}"), "ESC left at depth \(depth)")
            XCTAssertFalse(stripped.unicodeScalars.contains("\u{9B}"), "CSI left at depth \(depth)")
            XCTAssertFalse(stripped.unicodeScalars.contains("\u{07}"), "BEL left at depth \(depth)")
            XCTAssertTrue(stripped.hasPrefix("tok\u{FFFD}[31mred"))
        }
    }

    func testOneLinePerRow() {
        let output = ANSIRenderer.render(CellGrid(width: 4, height: 5), depth: .palette16)
        XCTAssertEqual(output, String(repeating: "\(esc)[0m\n", count: 5))
    }
}
