import DuoEngine  // only for the test helpers SplitMix64 and UncheckedSendable
import DuoSupport
import Foundation
import TestSupport
import XCTest

@testable import DuoTokenizer

/// Checks the Swift tokenizer against Hugging Face `tokenizers`, id for id, on the fixtures that
/// scripts/make_tokenizer_fixtures.py writes (tokenizer files trained with HF, and HF's own
/// encode/decode/pre_tokenize_str results).
final class TokenizerTests: XCTestCase {
    static let fixtures = FixturePaths.url("tokenizer")

    // MARK: - Fixture format (cases.json)

    enum OrReference<T: Decodable & Sendable>: Decodable, Sendable {
        case value(T)
        case reference(String)  // "same as <name>"

        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let v = try? c.decode(T.self) { self = .value(v) } else { self = .reference(try c.decode(String.self)) }
        }
    }

    struct EncodeCase: Decodable, Sendable {
        var text: String
        var ids: [Int]
        var ids_special: [Int]
        var decoded: String
    }

    struct DecodeCase: Decodable, Sendable {
        var ids: [Int]
        var decoded: String
    }

    struct TokenizerCases: Decodable, Sendable {
        var name: String
        var file: String
        var vocab_size: Int
        var merge_count: Int
        var added_tokens: [String]
        var special_tokens: [String]
        var cases: OrReference<[EncodeCase]>
        var decode_cases: [DecodeCase]
        var token_bytes: OrReference<[String]>
    }

    struct PreTokenizerCase: Decodable, Sendable {
        var text: String
        var pieces: [String]
    }

    struct PreTokenizerCases: Decodable, Sendable {
        var config: String
        var cases: [PreTokenizerCase]
    }

    struct CaseFile: Decodable, Sendable {
        var tokenizers: [TokenizerCases]
        var pretokenizers: [PreTokenizerCases]
    }

    static let caseFile = FixturePaths.json(CaseFile.self, at: fixtures.appendingPathComponent("cases.json"))

    func entry(_ name: String) -> TokenizerCases {
        Self.caseFile.tokenizers.first { $0.name == name }!
    }

    func encodeCases(_ t: TokenizerCases) -> [EncodeCase] {
        switch t.cases {
        case .value(let v): return v
        case .reference(let r): return encodeCases(entry(r.replacingOccurrences(of: "same as ", with: "")))
        }
    }

    func tokenBytes(_ t: TokenizerCases) -> [String] {
        switch t.token_bytes {
        case .value(let v): return v
        case .reference(let r): return tokenBytes(entry(r.replacingOccurrences(of: "same as ", with: "")))
        }
    }

    func load(_ t: TokenizerCases, forceICURegex: Bool = false) throws -> Tokenizer {
        let url = Self.fixtures.appendingPathComponent(t.file)
        if forceICURegex {
            return try Tokenizer(jsonData: Data(contentsOf: url), source: url.path, forceICURegex: true)
        }
        return try Tokenizer.load(from: url)
    }

    static func show(_ s: String) -> String {
        s.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? String(format: "\\u{%X}", $0.value) : String($0) }.joined()
    }

    // MARK: - Encoding equals Hugging Face

    func checkEncoding(forceICURegex: Bool) throws {
        XCTAssertEqual(Self.caseFile.tokenizers.count, 4)
        for t in Self.caseFile.tokenizers {
            let tok = try load(t, forceICURegex: forceICURegex)
            let cases = encodeCases(t)
            XCTAssertGreaterThan(cases.count, 150)
            var failures: [String] = []
            var roundTrips = 0
            for c in cases {
                let ids = try tok.encode(c.text)
                if ids != c.ids {
                    failures.append("encode \"\(Self.show(c.text))\": got \(ids), HF \(c.ids)")
                    continue
                }
                let special = try tok.encode(c.text, addSpecialTokens: true)
                if special != c.ids_special {
                    failures.append("encode(addSpecialTokens) \"\(Self.show(c.text))\": got \(special), HF \(c.ids_special)")
                }
                let decoded = tok.decode(ids)
                if decoded != c.decoded {
                    failures.append("decode \(ids): got \"\(Self.show(decoded))\", HF \"\(Self.show(c.decoded))\"")
                }
                if c.decoded == c.text {
                    roundTrips += 1
                    XCTAssertEqual(tok.decode(try tok.encode(c.text)), c.text)
                }
            }
            XCTAssert(
                failures.isEmpty,
                "\(t.name)\(forceICURegex ? " (ICU regex)" : ""): \(failures.count) of \(cases.count) cases differ from HF:\n"
                    + failures.prefix(8).joined(separator: "\n"))
            // Byte-level BPE is lossless except where lstrip/rstrip added tokens swallow spaces or
            // the normalizer changes the text.
            if t.name != "gpt2-variant" {
                XCTAssertGreaterThan(roundTrips, cases.count * 8 / 10, t.name)
            }
        }
    }

    func testEncodeMatchesHuggingFace() throws {
        try checkEncoding(forceICURegex: false)
    }

    /// The same with every pre-tokenizer regex run by ICU (NSRegularExpression) instead of the
    /// native GPT-2 / Llama-3 matchers: both paths must agree with Oniguruma.
    func testEncodeWithICURegexMatchesHuggingFace() throws {
        try checkEncoding(forceICURegex: true)
    }

    func testDecodeMatchesHuggingFace() throws {
        for t in Self.caseFile.tokenizers {
            let tok = try load(t)
            XCTAssertEqual(t.decode_cases.count, 40)
            for c in t.decode_cases {
                XCTAssertEqual(tok.decode(c.ids), c.decoded, "\(t.name): decode \(c.ids)")
            }
            XCTAssertEqual(tok.decode([]), "")
            XCTAssertEqual(tok.decode([-1, Int.max, t.vocab_size + 100]), "")
        }
    }

    // MARK: - Vocabulary

    func testVocabSizeAndSummary() throws {
        for t in Self.caseFile.tokenizers {
            let tok = try load(t)
            XCTAssertEqual(tok.vocabSize, t.vocab_size, t.name)
            let s = tok.summary
            XCTAssertEqual(s.model, "BPE")
            XCTAssertEqual(s.vocabSize, t.vocab_size, t.name)
            XCTAssertEqual(s.mergeCount, t.merge_count, t.name)
            XCTAssertEqual(s.addedTokens, t.added_tokens, t.name)
            XCTAssertEqual(s.specialTokens, t.special_tokens, t.name)
        }
        XCTAssertEqual(try load(entry("gpt2-style")).summary.preTokenizer, "ByteLevel(gpt2 regex)")
        XCTAssertEqual(try load(entry("gpt2-style")).summary.normalizer, "none")
        XCTAssertEqual(try load(entry("llama3-style")).summary.preTokenizer, "Split(llama3 regex)+ByteLevel")
        XCTAssertEqual(try load(entry("gpt2-variant")).summary.preTokenizer, "Digits(individual)+ByteLevel(gpt2 regex, add_prefix_space)")
        XCTAssertEqual(try load(entry("gpt2-variant")).summary.normalizer, "NFKC+Lowercase")
        let json = try JSONEncoder().encode(try load(entry("llama3-style")).summary)
        XCTAssertEqual(try JSONDecoder().decode(TokenizerSummary.self, from: json), try load(entry("llama3-style")).summary)
    }

    func testTokenBytes() throws {
        for t in Self.caseFile.tokenizers {
            let tok = try load(t)
            let expected = tokenBytes(t)
            XCTAssertEqual(expected.count, t.vocab_size)
            for (id, hex) in expected.enumerated() {
                let bytes = tok.tokenBytes(id)
                let got = bytes.map { String(format: "%02x", $0) }.joined()
                XCTAssertEqual(got, hex, "\(t.name): token \(id)")
                XCTAssertEqual(tok.tokenText(id), String(decoding: bytes, as: UTF8.self))
            }
            XCTAssertEqual(tok.tokenBytes(-1), [])
            XCTAssertEqual(tok.tokenBytes(t.vocab_size), [])
            XCTAssertEqual(tok.tokenText(t.vocab_size + 7), "")
        }
    }

    func testTokenLookup() throws {
        let gpt2 = try load(entry("gpt2-style"))
        let the = try XCTUnwrap(gpt2.id(forToken: "Ġthe"))
        XCTAssertEqual(gpt2.tokenBytes(the), Array(" the".utf8))
        XCTAssertEqual(try gpt2.encode(" the"), [the])
        XCTAssertEqual(gpt2.id(forToken: "<|endoftext|>"), 0)
        XCTAssertEqual(gpt2.id(forToken: "<|pad|>"), 1)
        XCTAssertEqual(try gpt2.encode("<|pad|><|endoftext|>"), [1, 0])
        XCTAssertNil(gpt2.id(forToken: " the"))  // vocab entries are in byte-level form
        XCTAssertNil(gpt2.id(forToken: "no such token"))

        let llama = try load(entry("llama3-style"))
        let bos = try XCTUnwrap(llama.id(forToken: "<|begin_of_text|>"))
        XCTAssertGreaterThanOrEqual(bos, llama.vocabSize - 5)  // added after the model vocab
        XCTAssertEqual(try llama.encode("hi", addSpecialTokens: true).first, bos)
        XCTAssertEqual(try llama.encode("hi", addSpecialTokens: true).dropFirst().map { $0 }, try llama.encode("hi"))
        XCTAssertEqual(llama.tokenText(bos), "<|begin_of_text|>")
        // ignore_merges: whole words in the vocab come out as one token although merges would not build them.
        let quixotic = try XCTUnwrap(llama.id(forToken: "Ġquixotic"))
        XCTAssertEqual(try llama.encode(" quixotic"), [quixotic])
        XCTAssertEqual(try llama.encode("quixotic"), [try XCTUnwrap(llama.id(forToken: "quixotic"))])
    }

    /// Both merges serializations ("a b" strings, [a, b] pairs) load to the same model.
    func testMergesSerializationsAgree() throws {
        let pairs = try load(entry("llama3-style"))
        let legacy = try load(entry("llama3-style-legacy-merges"))
        let pairsText = try String(contentsOf: Self.fixtures.appendingPathComponent("llama3-style.json"), encoding: .utf8)
        let legacyText = try String(contentsOf: Self.fixtures.appendingPathComponent("llama3-style-legacy-merges.json"), encoding: .utf8)
        XCTAssert(pairsText.contains("\"merges\":[[\""))
        XCTAssert(legacyText.contains("\"merges\":[\""))
        XCTAssertEqual(pairs.summary, legacy.summary)
        for c in encodeCases(entry("llama3-style")) {
            XCTAssertEqual(try pairs.encode(c.text), try legacy.encode(c.text))
        }
    }

    // MARK: - Pre-tokenizers

    func testPreTokenizersMatchHuggingFace() throws {
        XCTAssertGreaterThan(Self.caseFile.pretokenizers.count, 20)
        for p in Self.caseFile.pretokenizers {
            let json = #"{"model":{"type":"BPE","vocab":{},"merges":[]},"pre_tokenizer":"# + p.config + "}"
            for force in [false, true] {
                let tok = try Tokenizer(jsonData: Data(json.utf8), source: "pre_tokenizer test", forceICURegex: force)
                for c in p.cases {
                    XCTAssertEqual(try tok.preTokenize(c.text), c.pieces, "\(p.config)\(force ? " (ICU)" : ""): \"\(Self.show(c.text))\"")
                }
            }
        }
    }

    func testSplitBehaviors() {
        // "a-b--c" split on "-": HF's documented examples.
        let matches = [1..<2, 3..<4, 4..<5]
        func pieces(_ b: SplitBehavior, invert: Bool = false) -> [String] {
            let s = Array("a-b--c".unicodeScalars)
            return PreTokenizer.splitRanges(count: s.count, matches: matches, behavior: b, invert: invert).map {
                var t = String()
                t.unicodeScalars.append(contentsOf: s[$0])
                return t
            }
        }
        XCTAssertEqual(pieces(.removed), ["a", "b", "c"])
        XCTAssertEqual(pieces(.isolated), ["a", "-", "b", "-", "-", "c"])
        XCTAssertEqual(pieces(.mergedWithPrevious), ["a-", "b-", "-", "c"])
        XCTAssertEqual(pieces(.mergedWithNext), ["a", "-b", "-", "-c"])
        XCTAssertEqual(pieces(.contiguous), ["a", "-", "b", "--", "c"])
        XCTAssertEqual(pieces(.removed, invert: true), ["-", "-", "-"])
        XCTAssertEqual(pieces(.contiguous, invert: true), ["a", "-", "b", "--", "c"])
    }

    // MARK: - Malformed files

    func assertLoadFails(_ json: String, _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
        assertLoadFails(Data(json.utf8), expected, file: file, line: line)
    }

    func assertLoadFails(_ data: Data, _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("duoscope-tok-\(UUID().uuidString)").appendingPathComponent("tokenizer.json")
        try? FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        XCTAssertNoThrow(try data.write(to: url), file: file, line: line)
        do {
            _ = try Tokenizer.load(from: url)
            XCTFail("loading should fail with \"\(expected)\"", file: file, line: line)
        } catch let e as DuoError {
            XCTAssertEqual(e.file, url.path, file: file, line: line)
            XCTAssert(e.description.hasPrefix(url.path + ": "), e.description, file: file, line: line)
            XCTAssert(e.description.contains(expected), "\"\(e.description)\" does not mention \"\(expected)\"", file: file, line: line)
            XCTAssertFalse(e.description.contains("\n"), file: file, line: line)
        } catch {
            XCTFail("not a DuoError: \(error)", file: file, line: line)
        }
    }

    /// A minimal valid tokenizer.json with parts replaced.
    func minimal(model: String? = nil, extra: String = "") -> String {
        let m = model ?? #"{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]}"#
        return #"{"version":"1.0","model":"# + m + extra + "}"
    }

    func testMinimalLoads() throws {
        let tok = try Tokenizer(jsonData: Data(minimal().utf8), source: "minimal")
        XCTAssertEqual(try tok.encode("abab"), [2, 2])
        XCTAssertEqual(try tok.encode("abc"), [2])  // no unk token: unknown characters are dropped, as in HF
        XCTAssertEqual(tok.vocabSize, 3)
        XCTAssertEqual(tok.summary.preTokenizer, "none")
    }

    func testMalformedFilesGiveDuoError() {
        assertLoadFails("", "not valid JSON")
        assertLoadFails("{not json", "not valid JSON")
        assertLoadFails(#"{"model": {"type": "BPE", "vocab": {}, "merges": []}"#, "not valid JSON")
        assertLoadFails(String(repeating: "[", count: 100_000), "not valid JSON")
        assertLoadFails(Data([0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D]), "invalid UTF-8")
        assertLoadFails("[]", "not an object")
        assertLoadFails(#"{"version":"1.0","added_tokens":[]}"#, "missing \"model\"")
        assertLoadFails(minimal(model: #"{"type":"WordPiece","vocab":{}}"#), "unsupported model type WordPiece")
        assertLoadFails(minimal(model: #"{"type":"BPE","merges":[]}"#), "no \"vocab\"")
        assertLoadFails(minimal(model: #"{"type":"BPE","vocab":{"a":0}}"#), "no \"merges\"")
        assertLoadFails(minimal(model: #"{"type":"BPE","vocab":{"a":0,"b":1},"merges":["a c"]}"#), "\"c\", which is not in the vocab")
        assertLoadFails(
            minimal(model: #"{"type":"BPE","vocab":{"a":0,"b":1},"merges":[["a","b"]]}"#), "makes \"ab\", which is not in the vocab")
        assertLoadFails(minimal(model: #"{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["ab"]}"#), "not two tokens")
        assertLoadFails(minimal(model: #"{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":[["a"]]}"#), "not a pair of strings")
        assertLoadFails(minimal(model: #"{"type":"BPE","vocab":{"a":1.5},"merges":[]}"#), "not a token id")
        assertLoadFails(minimal(model: #"{"type":"BPE","vocab":{"a":-1},"merges":[]}"#), "not a token id")
        assertLoadFails(minimal(model: #"{"type":"BPE","vocab":{"a":"0"},"merges":[]}"#), "not a token id")
        assertLoadFails(minimal(model: #"{"type":"BPE","vocab":{"a":0},"merges":[],"unk_token":"<unk>"}"#), "unk_token")
        assertLoadFails(minimal(model: #"{"type":"BPE","vocab":{"a":0},"merges":[],"dropout":0.1}"#), "dropout")
        assertLoadFails(minimal(extra: #","pre_tokenizer":{"type":"WhitespaceSplit"}"#), "unsupported pre_tokenizer type WhitespaceSplit")
        assertLoadFails(
            minimal(extra: #","pre_tokenizer":{"type":"Split","pattern":{"Regex":"("},"behavior":"Isolated"}"#), "cannot compile regex")
        assertLoadFails(
            minimal(extra: #","pre_tokenizer":{"type":"Split","pattern":{"Regex":"a"},"behavior":"Sideways"}"#), "behavior Sideways")
        assertLoadFails(
            minimal(extra: #","pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"Whitespace"}]}"#),
            "unsupported pre_tokenizer type Whitespace")
        assertLoadFails(minimal(extra: #","normalizer":{"type":"BertNormalizer"}"#), "unsupported normalizer type BertNormalizer")
        assertLoadFails(minimal(extra: #","decoder":{"type":"WordPiece"}"#), "unsupported decoder type WordPiece")
        assertLoadFails(minimal(extra: #","post_processor":{"type":"Foo"}"#), "unsupported post_processor type Foo")
        assertLoadFails(
            minimal(
                extra:
                    #","post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>","type_id":0}}],"#
                    + #""special_tokens":{}}"#
            ), "special token <s>")
        assertLoadFails(minimal(extra: #","added_tokens":[{"id":3}]"#), "no \"content\"")
        assertLoadFails(minimal(extra: #","added_tokens":{"a":1}"#), "expected an array")
        assertLoadFails(minimal(extra: #","normalizer":{"kind":"NFC"}"#), "has no \"type\"")
    }

    func testMissingFileGivesDuoError() {
        let url = URL(fileURLWithPath: "/nonexistent/dir/tokenizer.json")
        XCTAssertThrowsError(try Tokenizer.load(from: url)) { error in
            let e = error as? DuoError
            XCTAssertEqual(e?.file, url.path)
            XCTAssert(e?.description.hasPrefix(url.path + ": ") ?? false)
        }
        XCTAssertThrowsError(try Tokenizer(jsonData: Data("nope".utf8), source: "--tokenizer")) { error in
            XCTAssert((error as? DuoError)?.description.hasPrefix("--tokenizer: ") ?? false)
        }
    }

    // MARK: - Concurrency and speed

    func testConcurrentEncodingIsConsistent() throws {
        let t = entry("llama3-style")
        let tok = try load(t)
        let cases = encodeCases(t)
        let buffer = UnsafeMutableBufferPointer<Bool>.allocate(capacity: 8)
        defer { buffer.deallocate() }
        let results = UncheckedSendable(buffer)  // each iteration writes only its own element
        DispatchQueue.concurrentPerform(iterations: 8) { k in
            var ok = true
            for c in (k % 2 == 0 ? cases : cases.reversed()) where (try? tok.encode(c.text)) != c.ids { ok = false }
            results.value[k] = ok
        }
        XCTAssert(buffer.allSatisfy { $0 })
    }

    /// With DUO_TOKENIZER_REFERENCE=OUT_JSON (written by `make_tokenizer_fixtures.py --reference`):
    /// the ids for a large text with any tokenizer.json must equal HF's; reports the speed.
    func testReferenceFileMatchesHuggingFace() throws {
        guard let path = ProcessInfo.processInfo.environment["DUO_TOKENIZER_REFERENCE"] else {
            throw XCTSkip("set DUO_TOKENIZER_REFERENCE to run")
        }
        struct Reference: Decodable {
            var tokenizer: String
            var text_file: String
            var ids: [Int]
            var hf_seconds: Double
        }
        let ref = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        var start = Date()
        let tok = try Tokenizer.load(from: URL(fileURLWithPath: ref.tokenizer))
        let loadSeconds = Date().timeIntervalSince(start)
        let text = try String(contentsOf: URL(fileURLWithPath: ref.text_file), encoding: .utf8)
        start = Date()
        let ids = try tok.encode(text)
        let seconds = Date().timeIntervalSince(start)
        let mb = Double(text.utf8.count) / 1_000_000
        print(
            String(
                format: "reference %@: load %.2f s; encode %.1f MB in %.2f s = %.2f MB/s (HF %.2f MB/s), %d tokens",
                ref.tokenizer, loadSeconds, mb, seconds, mb / seconds, mb / ref.hf_seconds, ids.count))
        if let k = zip(ids, ref.ids).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
            let lo = max(0, k - 5)
            XCTFail(
                "first difference at token \(k): got \(ids[lo..<min(ids.count, k + 5)]), HF "
                    + "\(ref.ids[lo..<min(ref.ids.count, k + 5)]) near "
                    + "\"\(Self.show(tok.decode(Array(ref.ids[lo..<min(ref.ids.count, k + 5)]))))\""
            )
        }
        XCTAssertEqual(ids.count, ref.ids.count)
    }

    /// Encodes a few MB of varied text (DUO_TOKENIZER_BENCH_MB, default 1) and reports the speed.
    func testEncodeSpeed() throws {
        let megabytes = Double(ProcessInfo.processInfo.environment["DUO_TOKENIZER_BENCH_MB"] ?? "") ?? 1
        var words: [String] = []
        for c in encodeCases(entry("gpt2-style")) {
            words += c.text.split(whereSeparator: { $0 == " " }).map(String.init)
        }
        words.removeAll { $0.contains("<") || $0.contains("[") }  // no added tokens: they may strip spaces
        var rng = SplitMix64(seed: 42)
        var text = ""
        let target = Int(megabytes * 1_000_000)
        while text.utf8.count < target {
            text += words[Int(rng.next() % UInt64(words.count))]
            let r = rng.next() % 20
            text += r == 0 ? "\n" : (r == 1 ? ", " : " ")
        }
        for name in ["gpt2-style", "llama3-style"] {
            let tok = try load(entry(name))
            let start = Date()
            let ids = try tok.encode(text)
            let seconds = Date().timeIntervalSince(start)
            let mb = Double(text.utf8.count) / 1_000_000
            print(
                String(
                    format: "tokenizer speed %@: %.1f MB in %.2f s = %.2f MB/s, %d tokens",
                    name, mb, seconds, mb / seconds, ids.count))
            XCTAssertEqual(tok.decode(ids), text)
        }
    }
}
