import DuoEngine
import Foundation
import XCTest

/// Every kind of bad input gives one line naming the file and the problem, and a non-zero exit.
final class MalformedInputTests: XCTestCase {
    private var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("duoscope-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: scratch)
    }

    /// A copy of the tiny model to damage.
    private func modelCopy(_ name: String = "tiny-model") throws -> URL {
        let target = scratch.appendingPathComponent(name)
        try FileManager.default.copyItem(at: CLIRunner.fixtures.appendingPathComponent(name), to: target)
        return target
    }

    private func expectFailure(_ arguments: [String], naming file: String, _ phrase: String,
                               file source: StaticString = #filePath, line: UInt = #line) throws {
        let result = try CLIRunner.run(arguments)
        XCTAssertNotEqual(result.status, 0, "exit status", file: source, line: line)
        let message = result.stderr.trimmingCharacters(in: .newlines)
        XCTAssertFalse(message.contains("\n"), "one line: \(message)", file: source, line: line)
        XCTAssertTrue(message.contains(file), "names \(file): \(message)", file: source, line: line)
        XCTAssertTrue(message.contains(phrase), "says \(phrase): \(message)", file: source, line: line)
        XCTAssertFalse(message.contains("Fatal error"), file: source, line: line)
    }

    private func route(_ model: URL, text: String = "In the beginning") -> [String] {
        ["route", model.path, "--text", text]
    }

    // MARK: safetensors

    /// Rewrites model.safetensors with a header transformed by `edit` (the data section kept).
    private func editHeader(_ model: URL, _ edit: (inout [String: Any]) -> Void) throws -> URL {
        let url = model.appendingPathComponent("model.safetensors")
        let data = try Data(contentsOf: url)
        let length = Int(data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        var header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + length))) as! [String: Any]
        edit(&header)
        let json = try JSONSerialization.data(withJSONObject: header)
        var out = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        out.append(data.subdata(in: (8 + length)..<data.count))
        try out.write(to: url)
        return url
    }

    private func entry(_ header: [String: Any], _ name: String) -> [String: Any] { header[name] as! [String: Any] }

    func testTruncatedFile() throws {
        let model = try modelCopy()
        let url = model.appendingPathComponent("model.safetensors")
        let data = try Data(contentsOf: url)
        try data.prefix(data.count / 2).write(to: url)
        try expectFailure(route(model), naming: url.path, "out of range")
    }

    func testFileShorterThanHeaderLength() throws {
        let model = try modelCopy()
        let url = model.appendingPathComponent("model.safetensors")
        try Data([1, 2, 3]).write(to: url)
        try expectFailure(route(model), naming: url.path, "truncated")
    }

    func testHeaderLengthPastEndOfFile() throws {
        let model = try modelCopy()
        let url = model.appendingPathComponent("model.safetensors")
        var data = try Data(contentsOf: url)
        withUnsafeBytes(of: UInt64(data.count * 2).littleEndian) { data.replaceSubrange(0..<8, with: $0) }
        try data.write(to: url)
        try expectFailure(route(model), naming: url.path, "header length")
    }

    func testHeaderNotJSON() throws {
        let model = try modelCopy()
        let url = model.appendingPathComponent("model.safetensors")
        var data = try Data(contentsOf: url)
        data[8] = UInt8(ascii: "#")
        try data.write(to: url)
        try expectFailure(route(model), naming: url.path, "not valid JSON")
    }

    func testOffsetsOutOfRange() throws {
        let model = try modelCopy()
        let url = try editHeader(model) { header in
            var e = self.entry(header, "model.norm.weight")
            e["data_offsets"] = [10_000_000, 10_000_256]
            header["model.norm.weight"] = e
        }
        try expectFailure(route(model), naming: url.path, "out of range")
    }

    func testOverlappingOffsets() throws {
        let model = try modelCopy()
        let url = try editHeader(model) { header in
            let other = self.entry(header, "model.layers.0.input_layernorm.weight")
            var e = self.entry(header, "model.layers.1.input_layernorm.weight")
            e["data_offsets"] = other["data_offsets"]
            header["model.layers.1.input_layernorm.weight"] = e
        }
        try expectFailure(route(model), naming: url.path, "overlap")
    }

    func testUnknownDType() throws {
        let model = try modelCopy()
        let url = try editHeader(model) { header in
            var e = self.entry(header, "model.norm.weight")
            e["dtype"] = "Q4_K"
            header["model.norm.weight"] = e
        }
        try expectFailure(route(model), naming: url.path, "unsupported dtype Q4_K")
    }

    func testShapeDisagreesWithByteSpan() throws {
        let model = try modelCopy()
        let url = try editHeader(model) { header in
            var e = self.entry(header, "model.norm.weight")
            e["shape"] = [65]
            header["model.norm.weight"] = e
        }
        try expectFailure(route(model), naming: url.path, "data_offsets span")
    }

    func testMissingTensor() throws {
        let model = try modelCopy()
        let url = try editHeader(model) { header in header["model.layers.2.mlp_small.up_proj.weight"] = nil }
        try expectFailure(route(model), naming: url.path, "missing tensor model.layers.2.mlp_small.up_proj.weight")
    }

    func testConfigInconsistentWithTensors() throws {
        let model = try modelCopy()
        let config = model.appendingPathComponent("config.json")
        var object = try JSONSerialization.jsonObject(with: Data(contentsOf: config)) as! [String: Any]
        object["intermediate_size"] = 128
        try JSONSerialization.data(withJSONObject: object).write(to: config)
        try expectFailure(route(model), naming: "model.safetensors", "config.json implies [128, 64]")
    }

    func testConfigNotJSONAndInvalidArchitecture() throws {
        let model = try modelCopy()
        let config = model.appendingPathComponent("config.json")
        try Data("{ not json".utf8).write(to: config)
        try expectFailure(route(model), naming: config.path, "not valid JSON")
        var object = try JSONSerialization.jsonObject(with: Data(contentsOf: CLIRunner.fixtures.appendingPathComponent("tiny-model/config.json"))) as! [String: Any]
        object["num_attention_heads"] = 3
        try JSONSerialization.data(withJSONObject: object).write(to: config)
        try expectFailure(route(model), naming: config.path, "not a multiple of num_key_value_heads")
        object["num_attention_heads"] = 4
        object["num_hidden_layers"] = 0
        try JSONSerialization.data(withJSONObject: object).write(to: config)
        try expectFailure(route(model), naming: config.path, "num_hidden_layers must be positive")
    }

    /// The refusals of scripts/make_hf_checkpoints.py through the real binary: checkpoints that
    /// transformers wrote and duoscope does not implement.
    func testUnsupportedCheckpointsAreRefused() throws {
        let checkpoints = CLIRunner.fixtures.appendingPathComponent("hf-checkpoints")
        func model(_ name: String) -> URL { checkpoints.appendingPathComponent(name) }
        for type in ["dynamic", "yarn", "longrope"] {
            let dir = model("refuse-rope-\(type)")
            try expectFailure(route(dir), naming: dir.appendingPathComponent("config.json").path,
                              "rope_parameters.rope_type \"\(type)\" is not supported")
        }
        try expectFailure(route(model("refuse-model-type")), naming: model("refuse-model-type").appendingPathComponent("config.json").path,
                          "model_type \"gpt_neox\" is not supported")
        try expectFailure(route(model("refuse-extra-tensor")),
                          naming: model("refuse-extra-tensor").appendingPathComponent("model.safetensors").path,
                          "unexpected tensor model.layers.0.self_attn.k_proj.bias")
        try expectFailure(route(model("refuse-attention-bias")),
                          naming: model("refuse-attention-bias").appendingPathComponent("config.json").path,
                          "attention_bias = true is not supported")
    }

    func testShardMissingFromIndex() throws {
        let model = try modelCopy("tiny-model-f16-sharded")
        let shard = model.appendingPathComponent("model-00002-of-00002.safetensors")
        try FileManager.default.removeItem(at: shard)
        try expectFailure(route(model), naming: shard.path, "file not found")
    }

    // MARK: missing files

    func testMissingFiles() throws {
        try expectFailure(route(scratch.appendingPathComponent("nowhere")), naming: "nowhere", "model directory not found")
        let model = try modelCopy()
        try FileManager.default.removeItem(at: model.appendingPathComponent("tokenizer.json"))
        try expectFailure(route(model), naming: "tokenizer.json", "file not found")
        try FileManager.default.removeItem(at: model.appendingPathComponent("model.safetensors"))
        try expectFailure(route(model), naming: "model.safetensors", "file not found")
        try FileManager.default.removeItem(at: model.appendingPathComponent("config.json"))
        try expectFailure(route(model), naming: "config.json", "file not found")
        let good = CLIRunner.fixtures.appendingPathComponent("tiny-model").path
        try expectFailure(["route", good, "--file", scratch.appendingPathComponent("absent.txt").path], naming: "absent.txt", "file not found")
    }

    func testBadTokenizerFile() throws {
        let model = try modelCopy()
        let url = model.appendingPathComponent("tokenizer.json")
        try Data("[1, 2".utf8).write(to: url)
        let result = try CLIRunner.run(route(model))
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains(url.path), result.stderr)
    }

    // MARK: text

    func testInvalidUTF8Text() throws {
        let file = scratch.appendingPathComponent("bad.txt")
        try Data([0x48, 0x69, 0x20, 0xC3, 0x28, 0x21]).write(to: file)
        try expectFailure(["route", CLIRunner.fixtures.appendingPathComponent("tiny-model").path, "--file", file.path],
                          naming: file.path, "not valid UTF-8 (first bad byte at offset 3)")
    }

    func testEmptyText() throws {
        let file = scratch.appendingPathComponent("empty.txt")
        try Data().write(to: file)
        let model = CLIRunner.fixtures.appendingPathComponent("tiny-model").path
        try expectFailure(["route", model, "--file", file.path], naming: file.path, "empty text")
        try expectFailure(["route", model, "--text", ""], naming: "--text", "empty text")
    }

    func testTextLongerThanContext() throws {
        let model = CLIRunner.fixtures.appendingPathComponent("tiny-model").path
        let long = String(repeating: "And God saw the light, that it was good. ", count: 20)
        try expectFailure(["route", model, "--text", long], naming: "--text", "longer than the model's context of 64")
        let truncated = try CLIRunner.run(["route", model, "--text", long, "--truncate", "--format", "csv"])
        XCTAssertEqual(truncated.status, 0, truncated.stderr)
        XCTAssertEqual(truncated.stdout.split(separator: "\n").count, 1 + 64)
    }

    func testBadPolicyAndDirectoryAsFile() throws {
        let model = CLIRunner.fixtures.appendingPathComponent("tiny-model").path
        try expectFailure(["route", model, "--text", "hello there", "--policy", "random:9"], naming: "--policy", "outside 0...4")
        try expectFailure(["route", model, "--file", scratch.path], naming: scratch.path, "is a directory")
    }
}
