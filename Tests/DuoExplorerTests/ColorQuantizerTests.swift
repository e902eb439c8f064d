import XCTest

@testable import DuoExplorer

final class ColorQuantizerTests: XCTestCase {
    func testPureRedAtEachDepth() {
        let red = RGB(255, 0, 0)
        XCTAssertEqual(ColorQuantizer.xterm256(red), 196)
        XCTAssertEqual(ColorQuantizer.ansi16(red), 9)
        XCTAssertEqual(ColorQuantizer.ansi8(red), 1)
    }

    func testCubeCornersAndLevels() {
        XCTAssertEqual(ColorQuantizer.xterm256(RGB(0, 0, 0)), 16)
        XCTAssertEqual(ColorQuantizer.xterm256(RGB(255, 255, 255)), 231)
        XCTAssertEqual(ColorQuantizer.xterm256(RGB(0, 0, 255)), 21)
        // (95, 135, 175) is cube entry 16 + 36·1 + 6·2 + 3.
        XCTAssertEqual(ColorQuantizer.xterm256(RGB(95, 135, 175)), 67)
        XCTAssertEqual(ColorQuantizer.xterm256(RGB(100, 130, 170)), 67)
    }

    func testGreysLandOnTheGreyRamp() {
        XCTAssertEqual(ColorQuantizer.xterm256(RGB(128, 128, 128)), 244)
        for level in stride(from: 20, through: 235, by: 5) {
            let grey = UInt8(level)
            let index = ColorQuantizer.xterm256(RGB(grey, grey, grey))
            let entry = ColorQuantizer.paletteColor(index)
            XCTAssertEqual(entry.r, entry.g, "grey \(level) mapped to a colored entry \(index)")
            XCTAssertEqual(entry.g, entry.b, "grey \(level) mapped to a colored entry \(index)")
            XCTAssertLessThanOrEqual(abs(Int(entry.r) - level), 5, "grey \(level) → \(index)")
        }
    }

    func testStandardColors() {
        XCTAssertEqual(ColorQuantizer.ansi16(RGB(0, 0, 0)), 0)
        XCTAssertEqual(ColorQuantizer.ansi16(RGB(255, 255, 255)), 15)
        XCTAssertEqual(ColorQuantizer.ansi16(RGB(0, 200, 0)), 2)
        XCTAssertEqual(ColorQuantizer.ansi16(RGB(90, 90, 250)), 12)
        XCTAssertEqual(ColorQuantizer.ansi16(RGB(120, 120, 120)), 8)
        XCTAssertEqual(ColorQuantizer.ansi8(RGB(255, 255, 255)), 7)
        XCTAssertEqual(ColorQuantizer.ansi8(RGB(0, 0, 255)), 4)
        XCTAssertEqual(ColorQuantizer.ansi8(RGB(0, 255, 255)), 6)
        for r in stride(from: 0, through: 255, by: 51) {
            for b in stride(from: 0, through: 255, by: 51) {
                let c = RGB(UInt8(r), 77, UInt8(b))
                XCTAssert((0...7).contains(ColorQuantizer.ansi8(c)))
                XCTAssert((0...15).contains(ColorQuantizer.ansi16(c)))
                XCTAssert((16...255).contains(ColorQuantizer.xterm256(c)))
            }
        }
    }

    func testPaletteEntriesQuantizeToThemselves() {
        for index in 16...255 {
            XCTAssertEqual(ColorQuantizer.xterm256(ColorQuantizer.paletteColor(index)), index)
        }
        for index in 0...15 {
            XCTAssertEqual(ColorQuantizer.ansi16(ColorQuantizer.paletteColor(index)), index)
        }
    }

    func testTerminalColorByDepth() {
        let c = RGB(0x12, 0x34, 0x56)
        XCTAssertEqual(ColorQuantizer.terminalColor(c, depth: .truecolor), 0x123456)
        XCTAssertEqual(ColorQuantizer.terminalColor(RGB(255, 0, 0), depth: .palette256), 196)
        XCTAssertEqual(ColorQuantizer.terminalColor(RGB(255, 0, 0), depth: .palette16), 9)
        XCTAssertEqual(ColorQuantizer.terminalColor(RGB(255, 0, 0), depth: .palette8), 1)
        XCTAssertEqual(ColorQuantizer.terminalColor(c, depth: .none), -1)
    }

    func testDirectColorNearBlacksAvoidPaletteNumbers() {
        // Direct-color terminfo sends numbers below 8 as palette colors (3 would be yellow).
        for blue in UInt8(0)...7 {
            XCTAssertEqual(ColorQuantizer.terminalColor(RGB(0, 0, blue), depth: .truecolor), 8)
        }
        XCTAssertEqual(ColorQuantizer.terminalColor(RGB(0, 0, 9), depth: .truecolor), 9)
    }
}
