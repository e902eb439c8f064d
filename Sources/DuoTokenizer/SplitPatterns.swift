import Foundation

/// The pre-tokenizer regexes that real tokenizer.json files use, matched by hand-written code
/// that follows Oniguruma's backtracking semantics exactly (and is much faster than ICU).
enum NativePattern: Equatable {
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    case gpt2
    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    /// (N = 3: Llama 3 / SmolLM; N = 1: Qwen 2).
    case llama3(maxDigits: Int)

    static let gpt2Source = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    static let llama3Source =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let qwen2Source =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// The native matcher for a regex source, if it is one of the known patterns.
    static func recognize(_ source: String) -> NativePattern? {
        if source == gpt2Source { return .gpt2 }
        if source == llama3Source { return .llama3(maxDigits: 3) }
        if source == qwen2Source { return .llama3(maxDigits: 1) }
        return nil
    }

    var name: String {
        switch self {
        case .gpt2: return "gpt2 regex"
        case .llama3(let n): return n == 3 ? "llama3 regex" : "qwen2 regex"
        }
    }

    /// The source text of the regex this matcher implements.
    var source: String {
        switch self {
        case .gpt2: return NativePattern.gpt2Source
        case .llama3(let n): return n == 3 ? NativePattern.llama3Source : NativePattern.qwen2Source
        }
    }

    /// All non-overlapping matches, left to right, as scalar index ranges.
    func matches(in s: [Unicode.Scalar]) -> [Range<Int>] {
        let n = s.count
        var out: [Range<Int>] = []
        out.reserveCapacity(n / 4 + 1)
        var cls = [CharClass]()
        cls.reserveCapacity(n)
        for c in s { cls.append(CharClass.of(c)) }
        var i = 0
        while i < n {
            let end: Int
            switch self {
            case .gpt2: end = matchGPT2(at: i, s, cls)
            case .llama3(let maxDigits): end = matchLlama3(at: i, s, cls, maxDigits: maxDigits)
            }
            if end > i {
                out.append(i..<end)
                i = end
            } else {
                i += 1  // cannot happen: the alternatives cover every character
            }
        }
        return out
    }

    @inline(__always)
    private static func isCRLF(_ s: Unicode.Scalar) -> Bool { s.value == 0x0A || s.value == 0x0D }

    @inline(__always)
    private static func run(_ kind: CharClass, from start: Int, _ cls: [CharClass]) -> Int {
        var j = start
        let n = cls.count
        while j < n && cls[j] == kind { j += 1 }
        return j
    }

    /// `'s|'t|'re|'ve|'m|'ll|'d`, case-sensitive or (for `(?i:...)`) with Unicode simple case
    /// folding, under which only ASCII capitals and U+017F LATIN SMALL LETTER LONG S fold onto
    /// these letters. Returns the end of the match or -1.
    @inline(__always)
    private static func contraction(at i: Int, _ s: [Unicode.Scalar], foldCase: Bool) -> Int {
        let n = s.count
        guard s[i].value == 0x27, i + 1 < n else { return -1 }
        @inline(__always) func fold(_ v: UInt32) -> UInt32 {
            guard foldCase else { return v }
            if v >= 0x41 && v <= 0x5A { return v + 32 }
            if v == 0x17F { return 0x73 }
            return v
        }
        let c1 = fold(s[i + 1].value)
        switch c1 {
        case 0x73, 0x74, 0x6D, 0x64: return i + 2  // s t m d
        case 0x72, 0x76, 0x6C:  // r v l
            guard i + 2 < n else { return -1 }
            let c2 = fold(s[i + 2].value)
            if (c1 == 0x72 || c1 == 0x76) && c2 == 0x65 { return i + 3 }  // re ve
            if c1 == 0x6C && c2 == 0x6C { return i + 3 }  // ll
            return -1
        default:
            return -1
        }
    }

    /// `\s+(?!\S)|\s+` at a whitespace character.
    @inline(__always)
    private static func trailingSpace(at i: Int, _ cls: [CharClass]) -> Int {
        let j = run(.space, from: i, cls)
        if j == cls.count { return j }
        if j - 1 > i { return j - 1 }  // leave the last space to the next word
        return j
    }

    private func matchGPT2(at i: Int, _ s: [Unicode.Scalar], _ cls: [CharClass]) -> Int {
        let c = NativePattern.contraction(at: i, s, foldCase: false)
        if c > 0 { return c }
        let n = s.count
        if s[i].value == 0x20 && i + 1 < n {
            let k1 = cls[i + 1]
            if k1 != .space { return NativePattern.run(k1, from: i + 1, cls) }  // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`
        }
        let k = cls[i]
        if k != .space { return NativePattern.run(k, from: i, cls) }
        return NativePattern.trailingSpace(at: i, cls)
    }

    private func matchLlama3(at i: Int, _ s: [Unicode.Scalar], _ cls: [CharClass], maxDigits: Int) -> Int {
        let c = NativePattern.contraction(at: i, s, foldCase: true)
        if c > 0 { return c }
        let n = s.count
        let k = cls[i]
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if k == .letter { return NativePattern.run(.letter, from: i, cls) }
        if k != .number && !NativePattern.isCRLF(s[i]) && i + 1 < n && cls[i + 1] == .letter {
            return NativePattern.run(.letter, from: i + 1, cls)
        }
        // \p{N}{1,maxDigits}
        if k == .number {
            var j = i + 1
            while j < n && j - i < maxDigits && cls[j] == .number { j += 1 }
            return j
        }
        // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
        var otherStart = -1
        if s[i].value == 0x20 && i + 1 < n && cls[i + 1] == .other { otherStart = i + 1 } else if k == .other { otherStart = i }
        if otherStart >= 0 {
            var j = NativePattern.run(.other, from: otherStart, cls)
            while j < n && NativePattern.isCRLF(s[j]) { j += 1 }
            return j
        }
        // \s*[\r\n]+ : through the last CR/LF of this whitespace run
        var j = i
        var lastNewline = -1
        while j < n && cls[j] == .space {
            if NativePattern.isCRLF(s[j]) { lastNewline = j }
            j += 1
        }
        if lastNewline >= 0 { return lastNewline + 1 }
        // \s+(?!\S)|\s+
        return NativePattern.trailingSpace(at: i, cls)
    }
}

/// Any other Split regex, run with Foundation's NSRegularExpression (ICU). Oniguruma and ICU
/// agree on the usual syntax (`\p{L}`, `(?i:...)`, lookahead); `\s`/`\S` are rewritten to the
/// White_Space property, which is what Oniguruma means by them (ICU's `\s` leaves out U+000B
/// and U+0085).
/// A Split regex gave up: its matching cost passed the budget (catastrophic backtracking).
struct RegexBudgetExceeded: Error {
    let pattern: String
    let length: Int
}

final class ICURegex: @unchecked Sendable {  // NSRegularExpression is immutable and thread-safe
    let source: String
    private let regex: NSRegularExpression

    init(_ source: String) throws {
        self.source = source
        regex = try NSRegularExpression(pattern: ICURegex.translate(source), options: [])
    }

    static func translate(_ pattern: String) -> String {
        var out = ""
        var it = pattern.unicodeScalars.makeIterator()
        while let c = it.next() {
            if c == "\\" {
                guard let e = it.next() else {
                    out.unicodeScalars.append(c)
                    break
                }
                switch e {
                case "s": out += "\\p{White_Space}"
                case "S": out += "\\P{White_Space}"
                default:
                    out.unicodeScalars.append(c)
                    out.unicodeScalars.append(e)
                }
            } else {
                out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// Progress reports ICU may make before a match is abandoned: a fixed allowance plus one per
    /// 100 UTF-16 units. Ordinary patterns report a few dozen times on 100,000 characters; a
    /// catastrophically backtracking one (e.g. `(a+)+$`) passes the allowance within 0.2 s.
    static func progressBudget(length: Int) -> Int { 1000 + length / 100 }

    /// All non-overlapping matches, left to right, as scalar index ranges; throws
    /// `RegexBudgetExceeded` when matching runs past `progressBudget`.
    func matches(in s: [Unicode.Scalar]) throws -> [Range<Int>] {
        if s.isEmpty { return [] }
        var text = String()
        text.unicodeScalars.append(contentsOf: s)
        // UTF-16 offset -> scalar index
        var scalarIndex = [Int](repeating: 0, count: text.utf16.count + 1)
        var u = 0
        for (k, c) in s.enumerated() {
            scalarIndex[u] = k
            if c.value >= 0x10000 {
                scalarIndex[u + 1] = k
                u += 2
            } else {
                u += 1
            }
        }
        scalarIndex[u] = s.count
        var found: [NSRange] = []
        var progress = 0
        let budget = Self.progressBudget(length: u)
        regex.enumerateMatches(in: text, options: [.reportProgress], range: NSRange(location: 0, length: u)) { match, _, stop in
            if let match {
                found.append(match.range)
            } else {
                progress += 1
                if progress > budget { stop.pointee = true }
            }
        }
        if progress > budget { throw RegexBudgetExceeded(pattern: source, length: s.count) }
        return found.map { m in
            scalarIndex[m.location]..<scalarIndex[m.location + m.length]
        }
    }
}
