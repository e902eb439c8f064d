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

    private func expectFailure(
        _ arguments: [String], naming file: String, _ phrase: String, within seconds: TimeInterval = 120,
        file source: StaticString = #filePath, line: UInt = #line
    ) throws {
        let result = try CLIRunner.run(arguments, timeout: seconds)
        XCTAssertFalse(result.timedOut, "still running after \(seconds) s", file: source, line: line)
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
        var object =
            try JSONSerialization.jsonObject(with: Data(contentsOf: CLIRunner.fixtures.appendingPathComponent("tiny-model/config.json")))
            as! [String: Any]
        object["num_attention_heads"] = 3
        try JSONSerialization.data(withJSONObject: object).write(to: config)
        try expectFailure(route(model), naming: config.path, "not a multiple of num_key_value_heads")
        object["num_attention_heads"] = 4
        object["num_hidden_layers"] = 0
        try JSONSerialization.data(withJSONObject: object).write(to: config)
        try expectFailure(route(model), naming: config.path, "num_hidden_layers must be positive")
    }

    // MARK: hostile input (the eight findings of the reliability audit, each through the real binary)

    /// A safetensors file holding just `header` (padded with spaces to `length` bytes when given).
    private func writeSafetensors(_ header: String, padTo length: Int? = nil, to url: URL) throws {
        var json = Data(header.utf8)
        if let length { json.append(Data(repeating: UInt8(ascii: " "), count: max(0, length - json.count))) }
        var out = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        try out.write(to: url)
    }

    private func editConfig(_ model: URL, _ edit: (inout [String: Any]) -> Void) throws -> URL {
        let url = model.appendingPathComponent("config.json")
        var object = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        edit(&object)
        try JSONSerialization.data(withJSONObject: object).write(to: url)
        return url
    }

    private func makeFIFO(_ url: URL) throws {
        try? FileManager.default.removeItem(at: url)
        XCTAssertEqual(mkfifo(url.path, 0o644), 0, "mkfifo")
    }

    /// Finding 1: an empty policy trapped (SIGILL) reading the first part of an empty split.
    func testEmptyPoliciesAreErrors() throws {
        let model = CLIRunner.fixtures.appendingPathComponent("tiny-model")
        for policy in ["", ":", "  ", ":big"] {
            try expectFailure(route(model) + ["--policy", policy], naming: "policy", "empty policy")
        }
    }

    /// Finding 2: a shape whose byte size overflows trapped while building the error message;
    /// reachable through model.safetensors, --policy router:FILE, and any file in routers/.
    func testSafetensorsByteSizeOverflowIsAnError() throws {
        let header = #"{"a":{"dtype":"F32","shape":[2147483648,2147483648],"data_offsets":[0,0]}}"#
        let model = try modelCopy()
        let weights = model.appendingPathComponent("model.safetensors")
        try writeSafetensors(header, padTo: 72, to: weights)
        try expectFailure(route(model), naming: weights.path, "needs more than")
        let clean = try modelCopy("tiny-model-bf16-llama")
        let router = scratch.appendingPathComponent("overflow.safetensors")
        try writeSafetensors(header, padTo: 72, to: router)
        try expectFailure(route(clean) + ["--policy", "router:" + router.path], naming: router.path, "needs more than")
        let duo = CLIRunner.fixtures.appendingPathComponent("tiny-model")
        let withRouters = scratch.appendingPathComponent("with-routers")
        try FileManager.default.copyItem(at: duo, to: withRouters)
        let routers = withRouters.appendingPathComponent("routers")
        try FileManager.default.createDirectory(at: routers, withIntermediateDirectories: true)
        try writeSafetensors(header, padTo: 72, to: routers.appendingPathComponent("bad.safetensors"))
        let text = scratch.appendingPathComponent("text.txt")
        try Data("In the beginning God created the heaven and the earth.".utf8).write(to: text)
        try expectFailure(
            ["snapshot", withRouters.path, text.path, "--view", "routes", "--format", "txt", "--width", "80"],
            naming: routers.appendingPathComponent("bad.safetensors").path, "needs more than")
    }

    /// Finding 3: heads x head_dim overflowed while computing the expected shapes.
    func testHugeHeadsAreRefused() throws {
        let model = try modelCopy()
        let config = try editConfig(model) { object in
            object["num_attention_heads"] = 549_755_813_888
            object["num_key_value_heads"] = 1
            object["head_dim"] = 549_755_813_888
        }
        try expectFailure(route(model), naming: config.path, "implausibly large")
    }

    /// Finding 4: 10^9 layers built every expected tensor name before checking one (memory blow-up).
    func testHugeLayerCountIsRefusedAtOnce() throws {
        let model = try modelCopy()
        let config = try editConfig(model) { $0["num_hidden_layers"] = 1_000_000_000 }
        try expectFailure(route(model), naming: config.path, "num_hidden_layers 1000000000 is implausibly large", within: 20)
    }

    /// Found by the config fuzzer: a Qwen2 config with a sliding window and no layer_types built
    /// its window layers from num_hidden_layers before checking it (negative: a trap; 10^9: 2 GB).
    func testQwen2WindowWithAbsurdLayerCountsIsRefused() throws {
        let model = try modelCopy()
        for (layers, phrase) in [(-1, "must be positive"), (1_000_000_000, "implausibly large")] {
            let config = try editConfig(model) { object in
                object["model_type"] = "qwen2"
                object["architectures"] = ["Qwen2ForCausalLM"]
                object["use_sliding_window"] = true
                object["sliding_window"] = 4
                object["num_hidden_layers"] = layers
            }
            try expectFailure(route(model), naming: config.path, phrase, within: 20)
        }
    }

    /// Finding 5: a FIFO where a weights file belongs blocked in open(); and finding 8: a FIFO or a
    /// device as tokenizer.json was reported as a permission problem.
    func testFIFOsAndDevicesAreRefusedWithoutWaiting() throws {
        let model = try modelCopy()
        let weights = model.appendingPathComponent("model.safetensors")
        try makeFIFO(weights)
        try expectFailure(route(model), naming: weights.path, "a FIFO, not a file", within: 20)

        let clean = CLIRunner.fixtures.appendingPathComponent("tiny-model")
        let fifoRouter = scratch.appendingPathComponent("router.safetensors")
        try makeFIFO(fifoRouter)
        try expectFailure(route(clean) + ["--policy", "router:" + fifoRouter.path], naming: fifoRouter.path, "a FIFO", within: 20)

        let withRouters = try modelCopy("tiny-model-f16-sharded")
        let routers = withRouters.appendingPathComponent("routers")
        try FileManager.default.createDirectory(at: routers, withIntermediateDirectories: true)
        try makeFIFO(routers.appendingPathComponent("k1.safetensors"))
        let text = scratch.appendingPathComponent("text.txt")
        try Data("In the beginning God created the heaven and the earth.".utf8).write(to: text)
        try expectFailure(
            ["snapshot", withRouters.path, text.path, "--view", "routes", "--format", "txt", "--width", "80"],
            naming: routers.appendingPathComponent("k1.safetensors").path, "a FIFO", within: 20)

        let tokenizerModel = try modelCopy("tiny-model-bf16-llama")
        let tokenizer = tokenizerModel.appendingPathComponent("tokenizer.json")
        try makeFIFO(tokenizer)
        try expectFailure(route(tokenizerModel), naming: tokenizer.path, "a FIFO, not a tokenizer file", within: 20)
        try FileManager.default.removeItem(at: tokenizer)
        try FileManager.default.createSymbolicLink(atPath: tokenizer.path, withDestinationPath: "/dev/zero")
        try expectFailure(route(tokenizerModel), naming: tokenizer.path, "a character device, not a tokenizer file", within: 20)
        let fifoText = scratch.appendingPathComponent("text-fifo")
        try makeFIFO(fifoText)
        try expectFailure(["route", clean.path, "--file", fifoText.path], naming: fifoText.path, "a FIFO, not a text file", within: 20)
    }

    /// Finding 6: a Split regex with catastrophic backtracking ran unbounded (25 s at 36 "a"s,
    /// doubling per character); now it gives up within its budget with a clear error.
    func testCatastrophicTokenizerRegexGivesUp() throws {
        let model = try modelCopy()
        let url = model.appendingPathComponent("tokenizer.json")
        var object = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        object["pre_tokenizer"] = [
            "type": "Sequence",
            "pretokenizers": [
                ["type": "Split", "pattern": ["Regex": "(a+)+$"], "behavior": "Isolated", "invert": false],
                ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false],
            ],
        ]
        try JSONSerialization.data(withJSONObject: object).write(to: url)
        let text = String(repeating: "a", count: 40) + "b"
        let start = Date()
        try expectFailure(route(model, text: text), naming: url.path, "catastrophic backtracking", within: 60)
        XCTAssertLessThan(Date().timeIntervalSince(start), 30)
        // An ordinary text through the same pattern still works.
        let ok = try CLIRunner.run(route(model, text: "In the beginning"), timeout: 60)
        XCTAssertEqual(ok.status, 0, ok.stderr)
    }

    /// Escape sequences and bells in the text never reach stdout raw, in any format.
    func testControlCharactersInTokensAreEscapedInEveryFormat() throws {
        let model = CLIRunner.fixtures.appendingPathComponent("tiny-model")
        for format in ["table", "csv", "json", "md"] {
            let result = try CLIRunner.run(route(model, text: "red \u{1B}[31mtext\u{07} and \u{9B}31m more") + ["--format", format])
            XCTAssertEqual(result.status, 0, result.stderr)
            let raw = result.stdout.unicodeScalars.filter { ($0.value < 0x20 && $0 != "\n") || (0x7F...0x9F).contains($0.value) }
            XCTAssertTrue(raw.isEmpty, "\(format): raw control characters \(raw.map(\.value))")
        }
    }

    /// The refusals of scripts/make_hf_checkpoints.py through the real binary: checkpoints that
    /// transformers wrote and duoscope does not implement.
    func testUnsupportedCheckpointsAreRefused() throws {
        let checkpoints = CLIRunner.fixtures.appendingPathComponent("hf-checkpoints")
        func model(_ name: String) -> URL { checkpoints.appendingPathComponent(name) }
        for type in ["dynamic", "yarn", "longrope"] {
            let dir = model("refuse-rope-\(type)")
            try expectFailure(
                route(dir), naming: dir.appendingPathComponent("config.json").path,
                "rope_parameters.rope_type \"\(type)\" is not supported")
        }
        try expectFailure(
            route(model("refuse-model-type")), naming: model("refuse-model-type").appendingPathComponent("config.json").path,
            "model_type \"gpt_neox\" is not supported")
        try expectFailure(
            route(model("refuse-extra-tensor")),
            naming: model("refuse-extra-tensor").appendingPathComponent("model.safetensors").path,
            "unexpected tensor model.layers.0.self_attn.k_proj.bias")
        try expectFailure(
            route(model("refuse-attention-bias")),
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
        try expectFailure(
            ["route", good, "--file", scratch.appendingPathComponent("absent.txt").path], naming: "absent.txt", "file not found")
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
        try expectFailure(
            ["route", CLIRunner.fixtures.appendingPathComponent("tiny-model").path, "--file", file.path],
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
        try expectFailure(
            ["route", model, "--text", "hello there", "--policy", "random:9"], naming: "policy \"random:9\"", "outside 0...4")
        try expectFailure(["route", model, "--file", scratch.path], naming: scratch.path, "a directory, not a text file")
    }
}
