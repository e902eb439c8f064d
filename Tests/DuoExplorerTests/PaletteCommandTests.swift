import DuoEngine
import XCTest

@testable import DuoExplorer

/// The commands after `:`, parsed in one place: every command, and every error as one line.
final class PaletteCommandTests: XCTestCase {
    func parse(_ line: String, layers: Int = 12) throws -> PaletteCommand { try PaletteCommand.parse(line, layers: layers) }

    /// The one-line error `line` gives.
    func error(_ line: String, layers: Int = 12, file: StaticString = #filePath, line number: UInt = #line) -> String {
        do {
            let command = try parse(line, layers: layers)
            XCTFail("\(line) parsed as \(command)", file: file, line: number)
            return ""
        } catch {
            let text = "\(error)"
            XCTAssertFalse(text.contains("\n"), text, file: file, line: number)
            return text
        }
    }

    func testBudget() throws {
        XCTAssertEqual(try parse("k 3"), .budget(3))
        XCTAssertEqual(try parse("  K   0 "), .budget(0))
        XCTAssertEqual(try parse("k 12"), .budget(12))
        XCTAssertEqual(error("k 13"), "k: expected a number of big layers in 0...12, got \"13\"")
        XCTAssertEqual(error("k 5", layers: 4), "k: expected a number of big layers in 0...4, got \"5\"")
        XCTAssertEqual(error("k -1"), "k: expected a number of big layers in 0...12, got \"-1\"")
        XCTAssertEqual(error("k"), "k: expected a number of big layers in 0...12, got nothing")
        XCTAssertEqual(error("k 3 4"), "k: expected a number of big layers in 0...12, got \"3 4\"")
        XCTAssertEqual(error("k four"), "k: expected a number of big layers in 0...12, got \"four\"")
    }

    func testTrials() throws {
        XCTAssertEqual(try parse("trials 7"), .trials(7))
        XCTAssertEqual(try parse("trials 1"), .trials(1))
        XCTAssertEqual(try parse("trials 10000"), .trials(10_000))
        XCTAssertEqual(error("trials 0"), "trials: expected a number of trials in 1...10000, got \"0\"")
        XCTAssertEqual(error("trials 10001"), "trials: expected a number of trials in 1...10000, got \"10001\"")
        XCTAssertEqual(error("trials"), "trials: expected a number of trials in 1...10000, got nothing")
    }

    func testOpen() throws {
        XCTAssertEqual(try parse("open texts/quotes.txt"), .open("texts/quotes.txt"))
        XCTAssertEqual(try parse("open  my notes.txt "), .open("my notes.txt"), "the rest of the line, spaces inside kept")
        XCTAssertEqual(try parse("open \" padded.txt \""), .open(" padded.txt "), "one pair of quotes comes off")
        XCTAssertEqual(try parse("open 'a.txt'"), .open("a.txt"))
        XCTAssertEqual(try parse("open \"a.txt"), .open("\"a.txt"), "an unmatched quote is part of the name")
        XCTAssertEqual(error("open"), "open: expected the path of a text file")
        XCTAssertEqual(error("open \"\""), "open: expected the path of a text file")
        XCTAssertEqual(PaletteCommand.fileURL("/a/b.txt").path, "/a/b.txt")
        XCTAssertFalse(PaletteCommand.fileURL("~/b.txt").path.hasPrefix("~"), "~ is the home folder")
    }

    func testRouter() throws {
        XCTAssertEqual(try parse("router k4"), .router("k4"))
        XCTAssertEqual(try parse("router /tmp/r.safetensors"), .router("/tmp/r.safetensors"))
        XCTAssertEqual(try parse("router auto"), .router(nil))
        XCTAssertEqual(error("router"), "router: expected a router file, a name in the model's routers/ folder or auto")
    }

    func testPolicyAndCompare() throws {
        XCTAssertEqual(try parse("policy router"), .policy(PolicySetting(kind: .router)))
        XCTAssertEqual(try parse("policy oracle@4:fixed"), .policy(PolicySetting(kind: .oracle, k: 4, context: .fixed)))
        XCTAssertEqual(try parse("policy oracle:causal"), .policy(PolicySetting(kind: .oracle, context: .causal)))
        XCTAssertEqual(try parse("policy random@6x50"), .policy(PolicySetting(kind: .random, k: 6, trials: 50)))
        XCTAssertEqual(try parse("policy big"), .policy(PolicySetting(kind: .allBig)))
        XCTAssertEqual(try parse("policy all-small"), .policy(PolicySetting(kind: .allSmall)))
        XCTAssertEqual(try parse("compare fixed@2"), .compare(PolicySetting(kind: .fixed, k: 2)))
        XCTAssertEqual(try parse("compare early-exit"), .compare(PolicySetting(kind: .earlyExit)))
        XCTAssertEqual(error("policy oracle@13"), "policy \"oracle@13\": k = 13 is outside 0...12")
        XCTAssertEqual(error("compare fixed@5", layers: 4), "compare \"fixed@5\": k = 5 is outside 0...4")
        XCTAssertTrue(error("policy zebra").hasPrefix("policy \"zebra\": unknown policy (expected "), error("policy zebra"))
        XCTAssertEqual(error("policy big@3"), "policy \"big@3\": all-big takes no budget or context")
        XCTAssertEqual(error("policy router:fixed"), "policy \"router:fixed\": only the oracle has a context")
        XCTAssertEqual(error("compare random@2x0"), "compare \"random@2x0\": trials must be in 1...10000")
        XCTAssertTrue(error("policy").hasPrefix("policy: expected a policy: "), error("policy"))
        XCTAssertTrue(error("compare").hasPrefix("compare: expected a policy: "), error("compare"))
    }

    func testHelpUnknownAndEmpty() throws {
        XCTAssertEqual(try parse("help"), .help)
        XCTAssertEqual(try parse("HELP"), .help)
        XCTAssertEqual(error("help me"), "help takes nothing after it")
        let names = "commands: " + PaletteCommand.table.map(\.name).joined(separator: ", ")
        XCTAssertEqual(error("zap 3"), "unknown command \"zap\" (\(names))")
        XCTAssertEqual(error("   "), "no command (\(names))")
        XCTAssertEqual(error("\u{1B}[2J"), "unknown command \"\\e[2J\" (\(names))", "typed text is escaped")
    }

    /// One table: every command is parsed by its row and described by it, names unique.
    func testTheTableDescribesEveryCommand() throws {
        let names = PaletteCommand.table.map(\.name)
        XCTAssertEqual(names.count, Set(names).count)
        XCTAssertEqual(Overlays.commands.map(\.0), PaletteCommand.table.map { ":" + $0.usage })
        XCTAssertEqual(Overlays.commands.first?.0, ":k N")
        for entry in PaletteCommand.table {
            XCTAssertLessThanOrEqual(entry.usage.count + 1, 13, "\(entry.usage): fits the help's key column")
            XCTAssertLessThanOrEqual(entry.help.count, 60, "\(entry.usage): fits the help at 80 columns")
        }
    }
}

extension PaletteCommandTests {
    func testGenerationCommands() throws {
        XCTAssertEqual(try PaletteCommand.parse("gen 8", layers: 4), .generationLength(8))
        XCTAssertEqual(try PaletteCommand.parse("temp 0.7", layers: 4), .temperature(0.7, seed: nil))
        XCTAssertEqual(try PaletteCommand.parse("temp 1 42", layers: 4), .temperature(1, seed: 42))
        for bad in ["gen 0", "gen x", "temp", "temp -1", "temp 11", "temp 1 -2", "temp nan", "temp 1 2 3"] {
            XCTAssertThrowsError(try PaletteCommand.parse(bad, layers: 4), bad) { error in
                XCTAssertFalse("\(error)".contains("\n"), bad)
            }
        }
    }
}

extension PaletteCommandTests {
    func testColorsCommand() throws {
        XCTAssertEqual(try PaletteCommand.parse("colors 256", layers: 4), .colors(.palette256))
        XCTAssertEqual(try PaletteCommand.parse("colors NONE", layers: 4), .colors(ColorDepth.none))
        XCTAssertEqual(try PaletteCommand.parse("colors auto", layers: 4), .colors(nil))
        XCTAssertThrowsError(try PaletteCommand.parse("colors 12", layers: 4))
        XCTAssertThrowsError(try PaletteCommand.parse("colors", layers: 4))
        var state = ExplorerState()
        state.colors = .palette16
        let saved = try JSONEncoder().encode(ExplorerSettings(state, trials: 10))
        XCTAssertEqual(try JSONDecoder().decode(ExplorerSettings.self, from: saved).state(layers: 4).colors, .palette16, "remembered")
    }
}
