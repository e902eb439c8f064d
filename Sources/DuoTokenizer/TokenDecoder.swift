/// One step of a tokenizer.json `decoder` (a `Sequence` is flattened into its steps). Each step
/// turns the list of token strings into a new list, as Hugging Face's `decode_chain` does.
enum DecoderStep {
    /// Byte-level characters back to bytes, all tokens fused into one text (invalid UTF-8 becomes
    /// U+FFFD); a token with a character outside the alphabet contributes its own UTF-8.
    case byteLevel
    /// Runs of `<0xAB>` tokens become the text of their bytes, or one U+FFFD per byte when those
    /// bytes are not valid UTF-8.
    case byteFallback
    /// All tokens joined into one.
    case fuse
    /// Every occurrence of `pattern` in each token replaced by `content`.
    case replace(pattern: [Unicode.Scalar], content: [Unicode.Scalar])
    /// Up to `start` leading and `stop` trailing `content` characters removed from each token.
    case strip(content: Unicode.Scalar, start: Int, stop: Int)
    case metaspace(Metaspace)

    var description: String {
        switch self {
        case .byteLevel: return "ByteLevel"
        case .byteFallback: return "ByteFallback"
        case .fuse: return "Fuse"
        case .replace(let p, let c): return "Replace(\(Normalizer.quoted(p))→\(Normalizer.quoted(c)))"
        case .strip(let c, let start, let stop): return "Strip(\(Normalizer.quoted([c])), \(start), \(stop))"
        case .metaspace(let m): return m.description
        }
    }
}

/// Turns token strings back into text (tokenizer.json `decoder`), like Hugging Face's
/// `decode(ids, skip_special_tokens=False)`: the steps run in order over the list of tokens and
/// the result is concatenated. Without a decoder Hugging Face joins the tokens with spaces.
struct TokenDecoder {
    /// nil: the file has no decoder.
    var steps: [DecoderStep]?

    var description: String {
        guard let steps else { return "none" }
        return steps.isEmpty ? "Sequence[]" : steps.map(\.description).joined(separator: "+")
    }

    var startsWithByteLevel: Bool {
        if case .byteLevel? = steps?.first { return true }
        return false
    }

    /// The text of `tokens`. `byteLevelBytes`, when the first step is ByteLevel, gives the bytes
    /// of all tokens under it (precomputed by the caller for speed).
    func decode(_ tokens: [[Unicode.Scalar]], byteLevelBytes: (() -> [UInt8])? = nil) -> String {
        guard let steps else {
            return tokens.map { TokenDecoder.string($0) }.joined(separator: " ")
        }
        var list = tokens
        var remaining = steps[...]
        if startsWithByteLevel, let byteLevelBytes {
            list = [Array(String(decoding: byteLevelBytes(), as: UTF8.self).unicodeScalars)]
            remaining = steps.dropFirst()
        }
        for step in remaining { list = TokenDecoder.apply(step, list) }
        var out = String()
        for token in list { out.unicodeScalars.append(contentsOf: token) }
        return out
    }

    static func string(_ scalars: [Unicode.Scalar]) -> String {
        var s = String()
        s.unicodeScalars.append(contentsOf: scalars)
        return s
    }

    static func apply(_ step: DecoderStep, _ tokens: [[Unicode.Scalar]]) -> [[Unicode.Scalar]] {
        switch step {
        case .byteLevel:
            var bytes: [UInt8] = []
            for token in tokens { bytes += byteLevelBytes(token) }
            return [Array(String(decoding: bytes, as: UTF8.self).unicodeScalars)]
        case .fuse:
            return [tokens.flatMap { $0 }]
        case .replace(let pattern, let content):
            return tokens.map { replace($0, pattern, content) }
        case .strip(let content, let start, let stop):
            return tokens.map { strip($0, content, start, stop) }
        case .metaspace(let m):
            return m.decode(tokens)
        case .byteFallback:
            var out: [[Unicode.Scalar]] = []
            out.reserveCapacity(tokens.count)
            var pending: [UInt8] = []
            func flush() {
                if pending.isEmpty { return }
                if let text = validUTF8(pending) {
                    out.append(text)
                } else {
                    for _ in pending { out.append(["\u{FFFD}"]) }
                }
                pending.removeAll()
            }
            for token in tokens {
                if let b = fallbackByte(token) {
                    pending.append(b)
                } else {
                    flush()
                    out.append(token)
                }
            }
            flush()
            return out
        }
    }

    /// The byte a `<0xAB>` token stands for, by Hugging Face's rule: six UTF-8 bytes, `<0x`, two
    /// characters Rust's `u8::from_str_radix(_, 16)` accepts (hex digits of either case, or `+`
    /// and one digit), `>`.
    static func fallbackByte(_ token: [Unicode.Scalar]) -> UInt8? {
        guard token.count == 6 || token.count == 5 else { return nil }
        let bytes = UTF8Bytes.of(token)
        guard bytes.count == 6, bytes[0] == UInt8(ascii: "<"), bytes[1] == UInt8(ascii: "0"),
            bytes[2] == UInt8(ascii: "x"), bytes[5] == UInt8(ascii: ">")
        else { return nil }
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
            default: return nil
            }
        }
        if bytes[3] == UInt8(ascii: "+") { return hex(bytes[4]) }
        guard let hi = hex(bytes[3]), let lo = hex(bytes[4]) else { return nil }
        return hi << 4 | lo
    }

    /// The characters of `bytes` if they are valid UTF-8, else nil (Rust's `String::from_utf8`).
    static func validUTF8(_ bytes: [UInt8]) -> [Unicode.Scalar]? {
        var scalars: [Unicode.Scalar] = []
        var decoder = UTF8()
        var it = bytes.makeIterator()
        while true {
            switch decoder.decode(&it) {
            case .scalarValue(let s): scalars.append(s)
            case .emptyInput: return scalars
            case .error: return nil
            }
        }
    }

    /// A token's bytes under ByteLevel: its characters' bytes, or its UTF-8 if one is outside the alphabet.
    static func byteLevelBytes(_ token: [Unicode.Scalar]) -> [UInt8] {
        ByteLevel.decode(token) ?? UTF8Bytes.of(token)
    }

    static func replace(_ token: [Unicode.Scalar], _ pattern: [Unicode.Scalar], _ content: [Unicode.Scalar]) -> [Unicode.Scalar] {
        let matches = SplitPattern.literalMatches(pattern, in: token)
        if matches.isEmpty { return token }
        var out: [Unicode.Scalar] = []
        var prev = 0
        for m in matches {
            out += token[prev..<m.lowerBound]
            out += content
            prev = m.upperBound
        }
        out += token[prev...]
        return out
    }

    /// Hugging Face's Strip decoder. Where it would index out of range (all characters stripped
    /// from both ends, or `stop` past the start), the result is empty.
    static func strip(_ token: [Unicode.Scalar], _ content: Unicode.Scalar, _ start: Int, _ stop: Int) -> [Unicode.Scalar] {
        let n = token.count
        var startCut = 0
        for i in 0..<min(start, n) {
            guard token[i] == content else { break }
            startCut = i + 1
        }
        var stopCut = n
        for i in 0..<min(stop, n) {
            let index = n - i - 1
            guard token[index] == content else { break }
            stopCut = index
        }
        return startCut <= stopCut ? Array(token[startCut..<stopCut]) : []
    }

    /// The bytes one model token stands for inside a text: the per-token steps applied (ByteLevel
    /// characters to bytes, `<0xAB>` to the byte 0xAB, Replace, Metaspace's replacement to a
    /// space as for a token that is not first); Fuse and Strip, which act on the whole text, are
    /// skipped. Without a decoder: the token's UTF-8, or its byte-level bytes when
    /// `byteLevelWithoutDecoder`.
    func displayBytes(_ token: [Unicode.Scalar], byteLevelWithoutDecoder: Bool) -> [UInt8] {
        guard let steps else {
            return byteLevelWithoutDecoder ? TokenDecoder.byteLevelBytes(token) : UTF8Bytes.of(token)
        }
        var text = token
        for step in steps {
            switch step {
            case .byteLevel:
                return TokenDecoder.byteLevelBytes(text)
            case .byteFallback:
                if let b = TokenDecoder.fallbackByte(text) { return [b] }
            case .replace(let pattern, let content):
                text = TokenDecoder.replace(text, pattern, content)
            case .metaspace(let m):
                text = text.map { $0 == m.replacement ? " " : $0 }
            case .fuse, .strip:
                continue
            }
        }
        return UTF8Bytes.of(text)
    }
}
