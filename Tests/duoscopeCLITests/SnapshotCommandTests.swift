import Foundation
import XCTest

/// `duoscope snapshot` (headless explorer views) and `explore`'s refusals, through the binary.
final class SnapshotCommandTests: XCTestCase {
    let model = CLIRunner.fixtures.appendingPathComponent("tiny-model").path
    var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("duoscope-snapshot-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: scratch) }

    func text(_ content: String, name: String = "t.txt") throws -> String {
        let url = scratch.appendingPathComponent(name)
        try Data(content.utf8).write(to: url)
        return url.path
    }

    func expectOneLineFailure(_ arguments: [String], _ phrases: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try CLIRunner.run(arguments)
        XCTAssertNotEqual(r.status, 0, file: file, line: line)
        let message = r.stderr.trimmingCharacters(in: .newlines)
        XCTAssertFalse(message.contains("\n"), "one line: \(message)", file: file, line: line)
        for p in phrases { XCTAssertTrue(message.contains(p), "says \(p): \(message)", file: file, line: line) }
    }

    func testEveryViewAndFormat() throws {
        let input = try text("the cat sat on the mat and the dog ran off")
        for view in ["routes", "compare", "difficulty", "layers", "summary"] {
            let r = try CLIRunner.run(["snapshot", model, input, "--view", view, "--k", "2", "--trials", "2", "--width", "90"])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stdout.hasPrefix(" duoscope │ tiny-model │ t.txt"), r.stdout)
            XCTAssertTrue(r.stdout.split(separator: "\n").allSatisfy { $0.count <= 90 })
        }
        let out = scratch.appendingPathComponent("figs/compare.json").path
        let r = try CLIRunner.run([
            "snapshot", model, input, "--view", "compare", "--k", "2", "--trials", "2", "--format", "json", "--out", out,
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))) as? [String: Any])
        XCTAssertEqual(json["schema"] as? String, "duoscope.snapshot/2")
        XCTAssertEqual(json["k"] as? Int, 2)
        let policies = try XCTUnwrap(json["policies"] as? [[String: Any]])
        XCTAssertTrue(policies.contains { $0["name"] as? String == "oracle@2" && $0["complete"] as? Bool == true })
        try expectOneLineFailure(["snapshot", model, input, "--format", "json", "--out", out], [out, "exists"])
        let ansi = try CLIRunner.run(["snapshot", model, input, "--format", "ansi", "--trials", "2"])
        XCTAssertTrue(ansi.stdout.contains("\u{1B}[0m"))
    }

    func testBadOptionsAndTexts() throws {
        let input = try text("the cat sat on the mat")
        try expectOneLineFailure(["snapshot", model, input, "--view", "nope"], ["--view nope"])
        try expectOneLineFailure(["snapshot", model, input, "--format", "png"], ["--format png"])
        try expectOneLineFailure(["snapshot", model, input, "--width", "20"], ["--width 20"])
        try expectOneLineFailure(["snapshot", model, input, "--k", "9"], ["--k 9"])
        try expectOneLineFailure(["snapshot", model, input, "--policy", "best"], ["--policy best"])
        try expectOneLineFailure(["snapshot", model, input, "--context", "sideways"], ["--context sideways"])
        let empty = try text("", name: "empty.txt")
        try expectOneLineFailure(["snapshot", model, empty], [empty, "empty"])
        let long = try text(String(repeating: "the cat sat on the mat ", count: 60), name: "long.txt")
        try expectOneLineFailure(["snapshot", model, long], [long, "longer than the model's context", "--truncate"])
        XCTAssertEqual(try CLIRunner.run(["snapshot", model, long, "--truncate", "--trials", "1", "--k", "0"]).status, 0)
        let bad = scratch.appendingPathComponent("bad.txt")
        try Data([0x66, 0xFF, 0x66]).write(to: bad)
        try expectOneLineFailure(["snapshot", model, bad.path], [bad.path, "UTF-8"])
        // Without a terminal the explorer refuses politely instead of garbling a pipe.
        try expectOneLineFailure(["explore", model, input], ["needs a terminal", "snapshot"])
    }
}
