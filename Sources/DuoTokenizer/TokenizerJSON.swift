import Foundation

#if canImport(DuoSupport)  // false in the fuzz build, which compiles DuoSupport in with this module (Makefile)
    import DuoSupport
#endif

/// Everything a tokenizer.json describes, checked and ready to use.
struct TokenizerDefinition {
    var model: BPEModel
    var addedTokens: [AddedToken]
    var normalizer: Normalizer?
    var preTokenizer: PreTokenizer
    var postProcessor: PostProcessor
    var decoder: TokenDecoder
}

/// Reads tokenizer.json (the Hugging Face `tokenizers` serialization, version 1.0). Anything it
/// does not support, or that is malformed, is reported as a DuoError naming the file.
struct TokenizerJSONReader {
    /// The path or label used in error messages.
    let source: String
    /// Run every Split regex with ICU, even the known ones (tests compare both paths).
    var forceICURegex = false

    func fail(_ problem: String) -> DuoError {
        DuoError(problem, file: source)
    }

    func read(_ data: Data) throws -> TokenizerDefinition {
        let root: ExactJSON
        do {
            root = try ExactJSONParser.parse(data)
        } catch let e as ExactJSONSyntaxError {
            throw fail("not valid JSON: \(e.message) at byte \(e.offset)")
        }
        guard case .object(let top) = root else {
            throw fail("not a tokenizer.json: the top level is \(root.kindName), not an object")
        }
        guard let modelValue = top["model"], !modelValue.isNull else {
            throw fail("not a tokenizer.json: missing \"model\"")
        }
        let normalizer = try readNormalizer(top["normalizer"] ?? .null)
        let model = try readModel(modelValue)
        let addedTokens = try readAddedTokens(top["added_tokens"] ?? .null)
        let preSteps = try readPreTokenizer(top["pre_tokenizer"] ?? .null, path: "pre_tokenizer")
        let preTokenizer = PreTokenizer(steps: preSteps)
        let postProcessor = try readPostProcessor(top["post_processor"] ?? .null, path: "post_processor")
        let decoderValue = top["decoder"] ?? .null
        let decoder = TokenDecoder(steps: decoderValue.isNull ? nil : try readDecoder(decoderValue, path: "decoder"))
        return TokenizerDefinition(
            model: model,
            addedTokens: addedTokens,
            normalizer: normalizer.steps.isEmpty ? nil : normalizer,
            preTokenizer: preTokenizer,
            postProcessor: postProcessor,
            decoder: decoder
        )
    }

    // MARK: - Field helpers

    private func object(_ v: ExactJSON, _ path: String) throws -> ExactJSONObject {
        guard case .object(let o) = v else { throw fail("\(path) is \(v.kindName), expected an object") }
        return o
    }

    private func array(_ v: ExactJSON, _ path: String) throws -> [ExactJSON] {
        guard case .array(let a) = v else { throw fail("\(path) is \(v.kindName), expected an array") }
        return a
    }

    private func string(_ v: ExactJSON, _ path: String) throws -> String {
        guard case .string(let s) = v else { throw fail("\(path) is \(v.kindName), expected a string") }
        return s
    }

    private func optionalString(_ o: ExactJSONObject, _ key: String, _ path: String) throws -> String? {
        guard let v = o[key], !v.isNull else { return nil }
        return try string(v, "\(path).\(key)")
    }

    private func bool(_ o: ExactJSONObject, _ key: String, _ path: String, default def: Bool) throws -> Bool {
        guard let v = o[key], !v.isNull else { return def }
        guard case .bool(let b) = v else { throw fail("\(path).\(key) is \(v.kindName), expected true or false") }
        return b
    }

    /// A string of exactly one character (Rust's `char`).
    private func character(_ o: ExactJSONObject, _ key: String, _ path: String) throws -> Unicode.Scalar {
        guard let v = o[key] else { throw fail("\(path) has no \"\(key)\"") }
        let s = try string(v, "\(path).\(key)")
        guard s.unicodeScalars.count == 1, let c = s.unicodeScalars.first else {
            throw fail("\(path).\(key) \(Normalizer.quoted(Array(s.unicodeScalars))) is not a single character")
        }
        return c
    }

    /// A required non-negative integer (a count); values past Int32.max count as Int32.max.
    private func count(_ o: ExactJSONObject, _ key: String, _ path: String) throws -> Int {
        guard let v = o[key] else { throw fail("\(path) has no \"\(key)\"") }
        guard case .number(let d) = v, d == d.rounded(), d >= 0 else {
            throw fail("\(path).\(key) is not a non-negative integer")
        }
        return d >= Double(Int32.max) ? Int(Int32.max) : Int(d)
    }

    private func requiredBool(_ o: ExactJSONObject, _ key: String, _ path: String) throws -> Bool {
        guard let v = o[key], !v.isNull else { throw fail("\(path) has no \"\(key)\"") }
        return try bool(o, key, path, default: false)
    }

    /// The `{"String": ...}` pattern and the content of a Replace normalizer or decoder.
    private func replacePair(_ o: ExactJSONObject, _ path: String) throws -> ([Unicode.Scalar], [Unicode.Scalar]) {
        guard let patternValue = o["pattern"] else { throw fail("\(path) Replace has no \"pattern\"") }
        let p = try object(patternValue, "\(path).pattern")
        let pattern: String
        if let str = p["String"] {
            pattern = try string(str, "\(path).pattern.String")
        } else if p["Regex"] != nil {
            throw fail("unsupported \(path).pattern Regex (Replace supports only {\"String\": ...} patterns)")
        } else {
            throw fail("\(path).pattern is neither {\"Regex\": ...} nor {\"String\": ...}")
        }
        if pattern.isEmpty { throw fail("unsupported \(path).pattern String \"\" (an empty Replace pattern)") }
        guard let contentValue = o["content"] else { throw fail("\(path) Replace has no \"content\"") }
        let content = try string(contentValue, "\(path).content")
        return (Array(pattern.unicodeScalars), Array(content.unicodeScalars))
    }

    private func tokenId(_ v: ExactJSON, _ path: String) throws -> Int {
        guard case .number(let d) = v, d == d.rounded(), d >= 0, d <= Double(Int32.max) else {
            throw fail("\(path) is not a token id (an integer from 0 to \(Int32.max))")
        }
        return Int(d)
    }

    private func type(_ o: ExactJSONObject, _ path: String) throws -> String {
        guard let t = o["type"] else { throw fail("\(path) has no \"type\"") }
        return try string(t, "\(path).type")
    }

    // MARK: - Model

    private func readModel(_ v: ExactJSON) throws -> BPEModel {
        let m = try object(v, "model")
        let kind: String
        if let t = m["type"] {
            kind = try string(t, "model.type")
        } else {
            kind = m["merges"] != nil ? "BPE" : "unknown"
        }
        guard kind == "BPE" else {
            throw fail("unsupported model type \(kind) (only BPE is supported)")
        }
        if let d = m["dropout"], !d.isNull {
            guard case .number(let p) = d else { throw fail("model.dropout is \(d.kindName), expected a number or null") }
            if p != 0 { throw fail("unsupported model.dropout \(p) (BPE dropout is not supported)") }
        }
        guard let vocabValue = m["vocab"] else { throw fail("model has no \"vocab\"") }
        let vocabObject = try object(vocabValue, "model.vocab")
        var vocab: [([UInt8], Int)] = []
        vocab.reserveCapacity(vocabObject.keys.count)
        for (token, idValue) in vocabObject.members {
            vocab.append((Array(token.utf8), try tokenId(idValue, "model.vocab[\"\(token)\"]")))
        }
        guard let mergesValue = m["merges"] else { throw fail("model has no \"merges\"") }
        var merges: [([UInt8], [UInt8])] = []
        let mergeItems = try array(mergesValue, "model.merges")
        merges.reserveCapacity(mergeItems.count)
        for (k, item) in mergeItems.enumerated() {
            switch item {
            case .string(let line):
                if line.hasPrefix("#version") { continue }
                let parts = line.utf8.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
                guard parts.count == 2 else {
                    throw fail("model.merges[\(k)] \"\(line)\" is not two tokens separated by one space")
                }
                merges.append((Array(parts[0]), Array(parts[1])))
            case .array(let pair):
                guard pair.count == 2, case .string(let a) = pair[0], case .string(let b) = pair[1] else {
                    throw fail("model.merges[\(k)] is not a pair of strings")
                }
                merges.append((Array(a.utf8), Array(b.utf8)))
            default:
                throw fail("model.merges[\(k)] is \(item.kindName), expected \"a b\" or [a, b]")
            }
        }
        var config = BPEModel.Config(vocab: vocab, merges: merges)
        config.unkToken = try optionalString(m, "unk_token", "model").map { Array($0.utf8) }
        config.fuseUnk = try bool(m, "fuse_unk", "model", default: false)
        config.continuingSubwordPrefix = try optionalString(m, "continuing_subword_prefix", "model").map { Array($0.utf8) }
        config.endOfWordSuffix = try optionalString(m, "end_of_word_suffix", "model").map { Array($0.utf8) }
        config.ignoreMerges = try bool(m, "ignore_merges", "model", default: false)
        config.byteFallback = try bool(m, "byte_fallback", "model", default: false)
        do {
            return try BPEModel(config)
        } catch let e as BPEModel.BuildError {
            throw fail("model: \(e.message)")
        }
    }

    // MARK: - Added tokens

    private func readAddedTokens(_ v: ExactJSON) throws -> [AddedToken] {
        if v.isNull { return [] }
        var out: [AddedToken] = []
        for (k, item) in try array(v, "added_tokens").enumerated() {
            let path = "added_tokens[\(k)]"
            let o = try object(item, path)
            guard let content = o["content"] else { throw fail("\(path) has no \"content\"") }
            var token = AddedToken(content: try string(content, "\(path).content"))
            if let id = o["id"] { _ = try tokenId(id, "\(path).id") }  // checked; Hugging Face reassigns ids on load
            token.singleWord = try bool(o, "single_word", path, default: false)
            token.lstrip = try bool(o, "lstrip", path, default: false)
            token.rstrip = try bool(o, "rstrip", path, default: false)
            token.normalized = try bool(o, "normalized", path, default: true)
            token.special = try bool(o, "special", path, default: false)
            out.append(token)
        }
        return out
    }

    // MARK: - Normalizer

    private func readNormalizer(_ v: ExactJSON, path: String = "normalizer") throws -> Normalizer {
        if v.isNull { return Normalizer(steps: []) }
        let o = try object(v, path)
        let t = try type(o, path)
        switch t {
        case "Sequence":
            guard let list = o["normalizers"] else { throw fail("\(path) Sequence has no \"normalizers\"") }
            var steps: [NormalizerStep] = []
            for (k, item) in try array(list, "\(path).normalizers").enumerated() {
                steps += try readNormalizer(item, path: "\(path).normalizers[\(k)]").steps
            }
            return Normalizer(steps: steps)
        case "Prepend":
            guard let p = o["prepend"] else { throw fail("\(path) Prepend has no \"prepend\"") }
            return Normalizer(steps: [.prepend(Array(try string(p, "\(path).prepend").unicodeScalars))])
        case "Replace":
            let (pattern, content) = try replacePair(o, path)
            return Normalizer(steps: [.replace(pattern: pattern, content: content)])
        case "Strip":
            let left = try requiredBool(o, "strip_left", path)
            let right = try requiredBool(o, "strip_right", path)
            return Normalizer(steps: [.strip(left: left, right: right)])
        default:
            guard let step = NormalizerStep.simple[t] else {
                let supported = "NFC, NFD, NFKC, NFKD, Lowercase, Prepend, Replace, Strip, Sequence"
                throw fail("unsupported normalizer type \(t) (supported: \(supported))")
            }
            return Normalizer(steps: [step])
        }
    }

    // MARK: - Pre-tokenizer

    private func regexPattern(_ source: String, _ path: String) throws -> SplitPattern {
        if !forceICURegex, let native = NativePattern.recognize(source) { return .native(native) }
        do {
            return .regex(try ICURegex(source))
        } catch {
            throw fail("\(path): cannot compile regex \(source)")
        }
    }

    private func readPreTokenizer(_ v: ExactJSON, path: String) throws -> [PreTokenizerStep] {
        if v.isNull { return [] }
        let o = try object(v, path)
        let t = try type(o, path)
        switch t {
        case "Sequence":
            guard let list = o["pretokenizers"] else { throw fail("\(path) Sequence has no \"pretokenizers\"") }
            var steps: [PreTokenizerStep] = []
            for (k, item) in try array(list, "\(path).pretokenizers").enumerated() {
                steps += try readPreTokenizer(item, path: "\(path).pretokenizers[\(k)]")
            }
            return steps
        case "ByteLevel":
            let prefix = try bool(o, "add_prefix_space", path, default: true)
            let useRegex = try bool(o, "use_regex", path, default: true)
            let regex = useRegex ? try regexPattern(NativePattern.gpt2Source, path) : nil
            return [.byteLevel(addPrefixSpace: prefix, regex: regex)]
        case "Split":
            guard let patternValue = o["pattern"] else { throw fail("\(path) Split has no \"pattern\"") }
            let p = try object(patternValue, "\(path).pattern")
            let pattern: SplitPattern
            if let r = p["Regex"] {
                pattern = try regexPattern(try string(r, "\(path).pattern.Regex"), path)
            } else if let s = p["String"] {
                pattern = .literal(Array(try string(s, "\(path).pattern.String").unicodeScalars))
            } else {
                throw fail("\(path).pattern is neither {\"Regex\": ...} nor {\"String\": ...}")
            }
            guard let b = o["behavior"] else { throw fail("\(path) Split has no \"behavior\"") }
            let name = try string(b, "\(path).behavior")
            guard let behavior = SplitBehavior(rawValue: name) else {
                throw fail("unsupported \(path).behavior \(name)")
            }
            let invert = try bool(o, "invert", path, default: false)
            return [.split(pattern, behavior, invert: invert)]
        case "Digits":
            let individual = try bool(o, "individual_digits", path, default: false)
            return [.split(.numericCharacter, individual ? .isolated : .contiguous, invert: false)]
        case "Metaspace":
            return [.metaspace(try readMetaspace(o, path))]
        default:
            throw fail("unsupported pre_tokenizer type \(t) (supported: ByteLevel, Split, Digits, Metaspace, Sequence)")
        }
    }

    /// A Metaspace pre-tokenizer or decoder, with Hugging Face's defaults and legacy
    /// `add_prefix_space` (false means prepend_scheme "never").
    private func readMetaspace(_ o: ExactJSONObject, _ path: String) throws -> Metaspace {
        let replacement = try character(o, "replacement", path)
        var scheme = PrependScheme.always
        if let name = try optionalString(o, "prepend_scheme", path) {
            guard let s = PrependScheme(rawValue: name) else {
                throw fail("unsupported \(path).prepend_scheme \(name) (supported: always, first, never)")
            }
            scheme = s
        }
        if let v = o["add_prefix_space"], !v.isNull, try !bool(o, "add_prefix_space", path, default: true) {
            guard scheme == .never else {  // as in Hugging Face, also when prepend_scheme is left out
                throw fail("\(path): add_prefix_space false does not match prepend_scheme \(scheme.rawValue)")
            }
            scheme = .never
        }
        let split = try bool(o, "split", path, default: true)
        return Metaspace(replacement: replacement, prependScheme: scheme, split: split)
    }

    // MARK: - Post-processor

    private func specialPair(_ o: ExactJSONObject, _ key: String, _ path: String) throws -> Int {
        guard let v = o[key] else { throw fail("\(path) has no \"\(key)\"") }
        let a = try array(v, "\(path).\(key)")
        guard a.count == 2 else { throw fail("\(path).\(key) is not [token, id]") }
        _ = try string(a[0], "\(path).\(key)[0]")
        return try tokenId(a[1], "\(path).\(key)[1]")
    }

    private func readPostProcessor(_ v: ExactJSON, path: String) throws -> PostProcessor {
        if v.isNull { return PostProcessor(single: nil) }
        let o = try object(v, path)
        let t = try type(o, path)
        switch t {
        case "ByteLevel":
            return PostProcessor(single: nil)
        case "Sequence":
            guard let list = o["processors"] else { throw fail("\(path) Sequence has no \"processors\"") }
            var parts: [PostProcessor] = []
            for (k, item) in try array(list, "\(path).processors").enumerated() {
                parts.append(try readPostProcessor(item, path: "\(path).processors[\(k)]"))
            }
            return PostProcessor.chain(parts)
        case "BertProcessing", "RobertaProcessing":
            let cls = try specialPair(o, "cls", path)
            let sep = try specialPair(o, "sep", path)
            return PostProcessor(single: [.ids([cls]), .sequence, .ids([sep])])
        case "TemplateProcessing":
            var specials: [String: [Int]] = [:]
            if let st = o["special_tokens"], !st.isNull {
                for (name, entry) in try object(st, "\(path).special_tokens").members {
                    let e = try object(entry, "\(path).special_tokens[\"\(name)\"]")
                    guard let idsValue = e["ids"] else { throw fail("\(path).special_tokens[\"\(name)\"] has no \"ids\"") }
                    specials[name] = try array(idsValue, "\(path).special_tokens[\"\(name)\"].ids").map {
                        try tokenId($0, "\(path).special_tokens[\"\(name)\"].ids[]")
                    }
                }
            }
            guard let singleValue = o["single"] else { throw fail("\(path) TemplateProcessing has no \"single\"") }
            var pieces: [PostProcessor.Piece] = []
            for (k, item) in try array(singleValue, "\(path).single").enumerated() {
                let piecePath = "\(path).single[\(k)]"
                let p = try object(item, piecePath)
                if let s = p["SpecialToken"] {
                    let so = try object(s, "\(piecePath).SpecialToken")
                    guard let idValue = so["id"] else { throw fail("\(piecePath).SpecialToken has no \"id\"") }
                    let name = try string(idValue, "\(piecePath).SpecialToken.id")
                    guard let ids = specials[name] else {
                        throw fail("\(piecePath): special token \(name) is not in \(path).special_tokens")
                    }
                    pieces.append(.ids(ids))
                } else if let s = p["Sequence"] {
                    let so = try object(s, "\(piecePath).Sequence")
                    let which = try so["id"].map { try string($0, "\(piecePath).Sequence.id") } ?? "A"
                    if which == "A" { pieces.append(.sequence) }  // "B" has no place in a single sequence
                } else {
                    throw fail("\(piecePath) is neither SpecialToken nor Sequence")
                }
            }
            return PostProcessor(single: pieces)
        default:
            throw fail(
                "unsupported post_processor type \(t) (supported: TemplateProcessing, BertProcessing, RobertaProcessing, "
                    + "ByteLevel, Sequence)"
            )
        }
    }

    // MARK: - Decoder

    private func readDecoder(_ v: ExactJSON, path: String) throws -> [DecoderStep] {
        let o = try object(v, path)
        let t = try type(o, path)
        switch t {
        case "ByteLevel":
            return [.byteLevel]
        case "Sequence":
            guard let list = o["decoders"] else { throw fail("\(path) Sequence has no \"decoders\"") }
            var steps: [DecoderStep] = []
            for (k, item) in try array(list, "\(path).decoders").enumerated() {
                steps += try readDecoder(item, path: "\(path).decoders[\(k)]")
            }
            return steps
        case "ByteFallback":
            return [.byteFallback]
        case "Fuse":
            return [.fuse]
        case "Replace":
            let (pattern, content) = try replacePair(o, path)
            return [.replace(pattern: pattern, content: content)]
        case "Strip":
            let content = try character(o, "content", path)
            return [.strip(content: content, start: try count(o, "start", path), stop: try count(o, "stop", path))]
        case "Metaspace":
            return [.metaspace(try readMetaspace(o, path))]
        default:
            throw fail("unsupported decoder type \(t) (supported: ByteLevel, ByteFallback, Fuse, Replace, Strip, Metaspace, Sequence)")
        }
    }
}
