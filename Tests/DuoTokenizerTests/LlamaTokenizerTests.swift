import DuoSupport
import Foundation
import TestSupport
import XCTest

@testable import DuoTokenizer

/// Checks the Swift tokenizer against Hugging Face `tokenizers` on the Llama 2 / Mistral family
/// (byte fallback, unk fusing, Prepend/Replace/Strip normalizers, Metaspace, the SentencePiece
/// decoders), id for id, on the fixtures that scripts/make_llama_tokenizer_fixtures.py writes.
final class LlamaTokenizerTests: XCTestCase {
    static let fixtures = TokenizerTests.fixtures

    // MARK: - Fixture format (llama-cases.json)

    struct DecodeCase: Decodable {
        var ids: [Int]
        var decoded: String?  // nil: HF panics
    }

    struct TokenizerCases: Decodable {
        var name: String
        var file: String
        var vocab_size: Int
        var added_tokens: [String]
        var special_tokens: [String]
        var ids: [[Int]]
        var ids_special: [[Int]]
        var decoded: [String?]
        var decode_cases: [DecodeCase]
    }

    struct PreTokenizerCases: Decodable {
        var config: String
        var pieces: [[String]]
    }

    struct DecoderCases: Decodable {
        var tokenizer: String
        var decoded: [String?]
    }

    struct CaseFile: Decodable {
        var texts: [String]
        var tokenizers: [TokenizerCases]
        var pretokenizer_texts: [String]
        var pretokenizers: [PreTokenizerCases]
        var decoder_token_lists: [[String]]
        var decoders: [DecoderCases]
    }

    static let caseFile = FixturePaths.json(CaseFile.self, at: fixtures.appendingPathComponent("llama-cases.json"))

    func entry(_ name: String) -> TokenizerCases {
        Self.caseFile.tokenizers.first { $0.name == name }!
    }

    func load(_ name: String) throws -> Tokenizer {
        try Tokenizer.load(from: Self.fixtures.appendingPathComponent(entry(name).file))
    }

    static func show(_ s: String) -> String { TokenizerTests.show(s) }

    // MARK: - Encoding and decoding equal Hugging Face

    func testFixturesCoverTheFamily() {
        let names = Self.caseFile.tokenizers.map(\.name)
        XCTAssertEqual(
            names,
            [
                "llama2-style", "llama2-unk-fused", "llama2-unk-unfused", "llama2-partial-bytes", "mistral-style",
                "metaspace-first-strip", "metaspace-always-split", "metaspace-always-nosplit", "metaspace-never",
            ])
        let texts = Self.caseFile.texts
        XCTAssertGreaterThan(texts.count, 150)
        for needle in ["", "\n", "crlf\r\nline\r\n", "\tHello\t\tworld\t", "  Hello  world  ", "trailing  ", "🦀龘x", "<s>Hello</s>"] {
            XCTAssert(texts.contains(needle), "missing text \"\(Self.show(needle))\"")
        }
        XCTAssert(texts.contains { $0.count > 600 })
    }

    func testEncodeMatchesHuggingFace() throws {
        let texts = Self.caseFile.texts
        for t in Self.caseFile.tokenizers {
            let tok = try load(t.name)
            XCTAssertEqual(tok.vocabSize, t.vocab_size, t.name)
            XCTAssertEqual(tok.summary.addedTokens, t.added_tokens, t.name)
            XCTAssertEqual(tok.summary.specialTokens, t.special_tokens, t.name)
            var failures: [String] = []
            for (k, text) in texts.enumerated() {
                let ids = try tok.encode(text)
                if ids != t.ids[k] {
                    failures.append("encode \"\(Self.show(text))\": got \(ids), HF \(t.ids[k])")
                }
                let special = try tok.encode(text, addSpecialTokens: true)
                if special != t.ids_special[k] {
                    failures.append("encode(addSpecialTokens) \"\(Self.show(text))\": got \(special), HF \(t.ids_special[k])")
                }
            }
            XCTAssert(failures.isEmpty, "\(t.name): \(failures.count) differences from HF:\n" + failures.prefix(8).joined(separator: "\n"))
        }
    }

    func testDecodeMatchesHuggingFace() throws {
        let texts = Self.caseFile.texts
        for t in Self.caseFile.tokenizers {
            let tok = try load(t.name)
            var failures: [String] = []
            var roundTrips = 0
            for (k, text) in texts.enumerated() {
                let decoded = tok.decode(t.ids[k])
                guard let hf = t.decoded[k] else {
                    // HF's Strip decoder panics on a text made only of its character; ours gives "".
                    XCTAssertEqual(decoded, "", "\(t.name): \"\(Self.show(text))\"")
                    continue
                }
                if decoded != hf {
                    failures.append("decode \(t.ids[k]): got \"\(Self.show(decoded))\", HF \"\(Self.show(hf))\"")
                }
                // decode(encode(s)) == s exactly where HF's own round trip holds; elsewhere (leading
                // space stripped, unk, added tokens that swallow spaces) both give HF's text.
                let again = tok.decode(try tok.encode(text))
                if hf == text {
                    roundTrips += 1
                    XCTAssertEqual(again, text, "\(t.name): round trip \"\(Self.show(text))\"")
                } else {
                    XCTAssertEqual(again, hf, "\(t.name): round trip \"\(Self.show(text))\"")
                }
            }
            XCTAssert(failures.isEmpty, "\(t.name): \(failures.count) differences from HF:\n" + failures.prefix(8).joined(separator: "\n"))
            XCTAssertGreaterThan(roundTrips, 40, t.name)
            for c in t.decode_cases {
                if let hf = c.decoded {
                    XCTAssertEqual(tok.decode(c.ids), hf, "\(t.name): decode \(c.ids)")
                } else {
                    _ = tok.decode(c.ids)
                }
            }
            XCTAssertEqual(tok.decode([-1, Int.max, t.vocab_size + 100]), tok.decode([]))
        }
        // Llama 2's decoder strips the one leading space its normalizer adds, but the normalizer
        // also runs on each section after an added token, whose "▁" stays a space, in HF and here.
        let llama = try load("llama2-style")
        XCTAssertEqual(llama.decode(try llama.encode("  Hello")), "  Hello")
        XCTAssertEqual(llama.decode(try llama.encode("Hello<s>world")), "Hello<s> world")
        XCTAssertEqual(llama.decode(try llama.encode(" <s>x")), " <s> x")
    }

    func testDecodersMatchHuggingFace() throws {
        let lists = Self.caseFile.decoder_token_lists
        XCTAssertGreaterThan(Self.caseFile.decoders.count, 10)
        for d in Self.caseFile.decoders {
            let tok = try Tokenizer(jsonData: Data(d.tokenizer.utf8), source: "decoder test")
            for (tokens, hf) in zip(lists, d.decoded) {
                let ids = try tokens.map { try XCTUnwrap(tok.id(forToken: $0)) }
                let got = tok.decode(ids)
                if let hf {
                    XCTAssertEqual(got, hf, "\(tok.decoder.description): \(tokens)")
                }
            }
        }
    }

    func testMetaspacePreTokenizerMatchesHuggingFace() throws {
        XCTAssertGreaterThanOrEqual(Self.caseFile.pretokenizers.count, 10)
        for p in Self.caseFile.pretokenizers {
            let json = #"{"model":{"type":"BPE","vocab":{},"merges":[]},"pre_tokenizer":"# + p.config + "}"
            let tok = try Tokenizer(jsonData: Data(json.utf8), source: "pre_tokenizer test")
            for (text, pieces) in zip(Self.caseFile.pretokenizer_texts, p.pieces) {
                XCTAssertEqual(try tok.preTokenize(text), pieces, "\(p.config): \"\(Self.show(text))\"")
            }
        }
    }

    // MARK: - Specific behaviours

    func testByteFallbackAndUnk() throws {
        let llama = try load("llama2-style")
        let bytes = try [0xF0, 0x9F, 0xA6, 0x80].map { try XCTUnwrap(llama.id(forToken: String(format: "<0x%02X>", $0))) }
        let space = try XCTUnwrap(llama.id(forToken: "▁"))
        XCTAssertEqual(try llama.encode("🦀"), [space] + bytes)
        XCTAssertEqual(llama.decode(try llama.encode("🦀")), "🦀")
        XCTAssertEqual(llama.decode(Array(bytes.prefix(2))), "\u{FFFD}\u{FFFD}")  // one U+FFFD per byte, as HF

        let unk = 0
        let fused = try load("llama2-unk-fused")
        let unfused = try load("llama2-unk-unfused")
        XCTAssertEqual(try fused.encode("🦀🫠🧬").filter { $0 == unk }.count, 1)
        XCTAssertEqual(try unfused.encode("🦀🫠🧬").filter { $0 == unk }.count, 3)
        XCTAssertEqual(try fused.encode("🦀🫠🧬"), [space, unk])
        XCTAssertEqual(fused.decode([space, unk]), "<unk>")

        // Without <0xF0>, a 4-byte character falls back to unk; HF does not flush a pending unk
        // before byte tokens, so it lands after the bytes of the next character.
        let partial = try load("llama2-partial-bytes")
        let dragon = try [0xE9, 0xBE, 0x98].map { try XCTUnwrap(partial.id(forToken: String(format: "<0x%02X>", $0))) }
        let x = try XCTUnwrap(partial.id(forToken: "x"))
        XCTAssertEqual(try partial.encode("🦀龘x"), [space] + dragon + [unk, x])
    }

    func testPrependSchemeFirstOnlyAtTextStart() throws {
        let mistral = try load("mistral-style")
        let bos = try XCTUnwrap(mistral.id(forToken: "<s>"))
        let withSpace = try mistral.encode("world")
        let afterToken = try mistral.encode("<s>world")
        XCTAssertEqual(afterToken.first, bos)
        XCTAssertNotEqual(Array(afterToken.dropFirst()), withSpace)  // no "▁" after an added token
        XCTAssertEqual(try mistral.preTokenize("world"), ["▁world"])
        // Always: "▁" in front of every section, also after an added token.
        let always = try load("metaspace-always-split")
        let tool = try XCTUnwrap(always.id(forToken: "<tool>"))
        let encoded = try always.encode("<tool>world")
        XCTAssertEqual(encoded.first, tool)
        XCTAssertEqual(Array(encoded.dropFirst()), try always.encode("world"))
        // A stripped leading space moves the start: no "▁" then either (HF's offsets).
        let strip = try load("metaspace-first-strip")
        XCTAssertNotEqual(try strip.encode(" world"), try strip.encode("world"))
    }

    func testTokenBytesForDisplay() throws {
        let llama = try load("llama2-style")
        let the = try XCTUnwrap(llama.id(forToken: "▁the"))
        XCTAssertEqual(llama.tokenText(the), " the")
        let newline = try XCTUnwrap(llama.id(forToken: "<0x0A>"))
        XCTAssertEqual(llama.tokenBytes(newline), [0x0A])
        let lead = try XCTUnwrap(llama.id(forToken: "<0xE6>"))
        XCTAssertEqual(llama.tokenBytes(lead), [0xE6])
        XCTAssertEqual(llama.tokenText(lead), "\u{FFFD}")
        XCTAssertEqual(llama.tokenText(1), "<s>")
        XCTAssertEqual(llama.tokenText(0), "<unk>")
        XCTAssertEqual(llama.tokenBytes(-1), [])
        XCTAssertEqual(llama.tokenBytes(llama.vocabSize), [])
        // Every other model token: its text with "▁" shown as a space.
        let vocab = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.fixtures.appendingPathComponent("llama2-style.json")))
        let model = try XCTUnwrap(((vocab as? [String: Any])?["model"] as? [String: Any])?["vocab"] as? [String: Int])
        for (token, id) in model where !token.hasPrefix("<0x") && id > 2 {
            XCTAssertEqual(llama.tokenText(id), token.replacingOccurrences(of: "▁", with: " "), token)
        }
        // A Metaspace decoder without ByteFallback leaves <0x..> tokens as they are (as HF decodes them).
        let mistral = try load("mistral-style")
        XCTAssertEqual(mistral.tokenText(try XCTUnwrap(mistral.id(forToken: "▁the"))), " the")
        XCTAssertEqual(mistral.tokenText(try XCTUnwrap(mistral.id(forToken: "<0x0A>"))), "<0x0A>")
        let nosplit = try load("metaspace-always-nosplit")
        XCTAssertEqual(nosplit.tokenBytes(try XCTUnwrap(nosplit.id(forToken: "<0x0A>"))), [0x0A])
    }

    func testSummaryDescribesThePipeline() throws {
        let llama = try load("llama2-style")
        XCTAssertEqual(llama.summary.normalizer, "Prepend(\"▁\")+Replace(\" \"→\"▁\")")
        XCTAssertEqual(llama.summary.preTokenizer, "none")
        XCTAssertEqual(llama.decoder.description, "Replace(\"▁\"→\" \")+ByteFallback+Fuse+Strip(\" \", 1, 0)")
        XCTAssertEqual(try load("mistral-style").summary.preTokenizer, "Metaspace(▁, first, no split)")
        XCTAssertEqual(try load("metaspace-never").summary.preTokenizer, "Digits(individual)+Metaspace(▁, never)")
        XCTAssertEqual(try load("metaspace-first-strip").summary.normalizer, "Strip")
        XCTAssertEqual(try load("llama2-style").encode("Hi", addSpecialTokens: true).first, 1)
    }

    // MARK: - Unsupported and hostile files

    func assertRefused(_ extra: String, _ expected: String, model: String? = nil, file: StaticString = #filePath, line: UInt = #line) {
        let m = model ?? #"{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]}"#
        let json = #"{"version":"1.0","model":"# + m + extra + "}"
        do {
            _ = try Tokenizer(jsonData: Data(json.utf8), source: "tok.json")
            XCTFail("loading should fail with \"\(expected)\"", file: file, line: line)
        } catch let e as DuoError {
            XCTAssert(e.description.hasPrefix("tok.json: "), e.description, file: file, line: line)
            XCTAssert(e.description.contains(expected), "\"\(e.description)\" does not mention \"\(expected)\"", file: file, line: line)
            XCTAssertFalse(e.description.contains("\n"), file: file, line: line)
        } catch {
            XCTFail("not a DuoError: \(error)", file: file, line: line)
        }
    }

    func testUnsupportedVariantsAreRefused() {
        assertRefused(#","normalizer":{"type":"Replace","pattern":{"Regex":" +"},"content":"▁"}"#, "unsupported normalizer.pattern Regex")
        assertRefused(#","decoder":{"type":"Replace","pattern":{"Regex":"▁"},"content":" "}"#, "unsupported decoder.pattern Regex")
        assertRefused(#","decoder":{"type":"Sequence","decoders":[{"type":"Fuse"},{"type":"CTC"}]}"#, "unsupported decoder type CTC")
        assertRefused(#","decoder":{"type":"BPEDecoder","suffix":"</w>"}"#, "unsupported decoder type BPEDecoder")
        assertRefused(#","decoder":{"type":"Strip","content":"ab","start":1,"stop":0}"#, "decoder.content \"ab\" is not a single character")
        assertRefused(#","decoder":{"type":"Strip","content":" ","start":-1,"stop":0}"#, "decoder.start is not a non-negative integer")
        assertRefused(#","decoder":{"type":"Strip","content":" ","start":1.5,"stop":0}"#, "decoder.start is not a non-negative integer")
        assertRefused(#","decoder":{"type":"Strip","content":" ","start":1}"#, "decoder has no \"stop\"")
        assertRefused(#","normalizer":{"type":"Replace","pattern":{"String":""},"content":"x"}"#, "empty Replace pattern")
        assertRefused(#","normalizer":{"type":"Replace","pattern":{"String":" "}}"#, "has no \"content\"")
        assertRefused(#","normalizer":{"type":"Prepend"}"#, "Prepend has no \"prepend\"")
        assertRefused(#","normalizer":{"type":"Strip","strip_left":true}"#, "has no \"strip_right\"")
        assertRefused(#","normalizer":{"type":"Precompiled","precompiled_charsmap":"AA=="}"#, "unsupported normalizer type Precompiled")
        assertRefused(
            #","pre_tokenizer":{"type":"Metaspace","replacement":"▁","prepend_scheme":"sometimes"}"#,
            "unsupported pre_tokenizer.prepend_scheme sometimes")
        assertRefused(
            #","pre_tokenizer":{"type":"Metaspace","replacement":""}"#,
            "pre_tokenizer.replacement \"\" is not a single character")
        assertRefused(#","pre_tokenizer":{"type":"Metaspace","prepend_scheme":"always"}"#, "has no \"replacement\"")
        assertRefused(
            #","pre_tokenizer":{"type":"Metaspace","replacement":"▁","add_prefix_space":false}"#,
            "add_prefix_space false does not match prepend_scheme always")
        assertRefused(#","pre_tokenizer":{"type":"Metaspace","replacement":"▁","split":"yes"}"#, "expected true or false")
        assertRefused(#","pre_tokenizer":{"type":"Whitespace"}"#, "unsupported pre_tokenizer type Whitespace")
        assertRefused(
            "", "model.byte_fallback is a number, expected true or false",
            model: #"{"type":"BPE","vocab":{"a":0},"merges":[],"byte_fallback":1}"#)
    }

    /// Odd but loadable files: nothing traps, results follow Hugging Face's rules.
    func testHostileValuesAreHandled() throws {
        // A "<0xZZ>" token is an ordinary token; "<0x+A>" is byte 0x0A by Rust's from_str_radix.
        let vocab = #"{"<0xZZ>":0,"<0x+A>":1,"<0x41>":2,"<0xC3>":3,"▁":4,"<unk>":5}"#
        let model = #"{"type":"BPE","vocab":"# + vocab + #","merges":[],"byte_fallback":true,"unk_token":"<unk>"}"#
        let strip = #"{"type":"Strip","content":"▁","start":1e300,"stop":4294967296}"#
        let decoder = #","decoder":{"type":"Sequence","decoders":[{"type":"ByteFallback"},"# + strip + "]}"
        let tok = try Tokenizer(jsonData: Data((#"{"model":"# + model + decoder + "}").utf8), source: "hostile")
        XCTAssertEqual(tok.decode([0, 1, 2]), "<0xZZ>\nA")
        XCTAssertEqual(tok.decode([3]), "\u{FFFD}")
        XCTAssertEqual(tok.decode([4, 4, 4]), "")  // every token stripped whole (HF would panic here)
        XCTAssertEqual(tok.decode([]), "")
        XCTAssertEqual(try tok.encode("A"), [2])  // byte fallback
        XCTAssertEqual(try tok.encode("é"), [5])  // <0xA9> missing: unk
        XCTAssertEqual(tok.tokenBytes(0), Array("<0xZZ>".utf8))
        XCTAssertEqual(tok.tokenBytes(1), [0x0A])
        // Metaspace with a multi-byte replacement and a non-space one.
        let meta = #","pre_tokenizer":{"type":"Metaspace","replacement":"😀","prepend_scheme":"first","split":true}"#
        let m = try Tokenizer(jsonData: Data((#"{"model":{"type":"BPE","vocab":{},"merges":[]}"# + meta + "}").utf8), source: "m")
        XCTAssertEqual(try m.preTokenize("a b"), ["😀a", "😀b"])
    }
}
