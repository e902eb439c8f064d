/// How a Split pre-tokenizer treats the pieces its pattern matches (tokenizer.json `behavior`).
enum SplitBehavior: String {
    case isolated = "Isolated"
    case removed = "Removed"
    case mergedWithPrevious = "MergedWithPrevious"
    case mergedWithNext = "MergedWithNext"
    case contiguous = "Contiguous"
}

/// What a Split pre-tokenizer looks for.
enum SplitPattern {
    /// A `{"String": ...}` pattern: literal occurrences.
    case literal([Unicode.Scalar])
    /// A known `{"Regex": ...}` pattern matched natively.
    case native(NativePattern)
    /// Any other `{"Regex": ...}` pattern.
    case regex(ICURegex)
    /// Every numeric character (categories Nd, Nl, No) on its own (the Digits pre-tokenizer).
    case numericCharacter

    func matches(in s: [Unicode.Scalar]) throws -> [Range<Int>] {
        switch self {
        case .native(let p): return p.matches(in: s)
        case .regex(let r): return try r.matches(in: s)
        case .numericCharacter:
            var out: [Range<Int>] = []
            // Rust's `char::is_numeric` (current Unicode tables, unlike the regex engine's).
            for (i, c) in s.enumerated() where CharClass.isNumeric(c) { out.append(i..<(i + 1)) }
            return out
        case .literal(let lit):
            return SplitPattern.literalMatches(lit, in: s)
        }
    }

    /// Non-overlapping occurrences of `lit` in `s`, left to right.
    static func literalMatches(_ lit: [Unicode.Scalar], in s: [Unicode.Scalar]) -> [Range<Int>] {
        guard !lit.isEmpty, s.count >= lit.count else { return [] }
        var out: [Range<Int>] = []
        var i = 0
        let first = lit[0]
        while i + lit.count <= s.count {
            if s[i] == first && s[i..<(i + lit.count)].elementsEqual(lit) {
                out.append(i..<(i + lit.count))
                i += lit.count
            } else {
                i += 1
            }
        }
        return out
    }

    var description: String {
        switch self {
        case .literal: return "string"
        case .native(let p): return p.name
        case .regex: return "regex"
        case .numericCharacter: return "digits"
        }
    }
}

/// One step of a tokenizer.json `pre_tokenizer` (a `Sequence` is flattened into its steps).
enum PreTokenizerStep {
    /// `regex` is the GPT-2 pattern when `use_regex` is true.
    case byteLevel(addPrefixSpace: Bool, regex: SplitPattern?)
    case split(SplitPattern, SplitBehavior, invert: Bool)
    case metaspace(Metaspace)

    var description: String {
        switch self {
        case .metaspace(let m):
            return m.description
        case .byteLevel(let prefix, let regex):
            var parts: [String] = []
            if regex != nil { parts.append("gpt2 regex") }
            if prefix { parts.append("add_prefix_space") }
            return parts.isEmpty ? "ByteLevel" : "ByteLevel(\(parts.joined(separator: ", ")))"
        case .split(.numericCharacter, let behavior, _):
            return behavior == .isolated ? "Digits(individual)" : "Digits"
        case .split(let pattern, let behavior, let invert):
            var parts = [pattern.description]
            if behavior != .isolated { parts.append(behavior.rawValue) }
            if invert { parts.append("invert") }
            return "Split(\(parts.joined(separator: ", ")))"
        }
    }
}

/// Splits normalized text into the words the BPE model encodes one by one, like Hugging Face's
/// PreTokenizedString: each step applies to every piece the previous steps produced, and empty
/// pieces are dropped.
struct PreTokenizer {
    var steps: [PreTokenizerStep]

    var usesByteLevel: Bool {
        steps.contains { if case .byteLevel = $0 { return true } else { return false } }
    }

    var description: String {
        steps.isEmpty ? "none" : steps.map(\.description).joined(separator: "+")
    }

    /// The words of `text` as strings (Hugging Face's `pre_tokenize_str`, without offsets).
    func pieces(_ text: String) throws -> [String] {
        var out: [String] = []
        try forEachWord(Array(text.unicodeScalars), atStart: true) { word in
            var s = String()
            s.unicodeScalars.append(contentsOf: word)
            out.append(s)
        }
        return out
    }

    /// Calls `body` with each word of `piece`, in order. `atStart`: whether `piece` begins at the
    /// start of the input text (Metaspace's `prepend_scheme: "first"` prepends only there).
    /// Throws `RegexBudgetExceeded` when a Split regex backtracks past its budget.
    func forEachWord(_ piece: [Unicode.Scalar], atStart: Bool, _ body: ([Unicode.Scalar]) -> Void) throws {
        if piece.isEmpty { return }
        try run(piece, step: 0, atStart: atStart, body)
    }

    private func run(_ piece: [Unicode.Scalar], step: Int, atStart: Bool, _ body: ([Unicode.Scalar]) -> Void) throws {
        guard step < steps.count else {
            body(piece)
            return
        }
        switch steps[step] {
        case .byteLevel(let addPrefixSpace, let regex):
            var text = piece
            if addPrefixSpace && text.first != " " { text.insert(" ", at: 0) }
            var mapped: [Unicode.Scalar] = []
            if let regex {
                let ranges = PreTokenizer.splitRanges(
                    count: text.count, matches: try regex.matches(in: text),
                    behavior: .isolated, invert: false)
                for r in ranges {
                    mapped.removeAll(keepingCapacity: true)
                    ByteLevel.appendMapped(text[r], to: &mapped)
                    try run(mapped, step: step + 1, atStart: atStart && r.lowerBound == 0, body)
                }
            } else {
                ByteLevel.appendMapped(text, to: &mapped)
                try run(mapped, step: step + 1, atStart: atStart, body)
            }
        case .split(let pattern, let behavior, let invert):
            let ranges = PreTokenizer.splitRanges(
                count: piece.count, matches: try pattern.matches(in: piece),
                behavior: behavior, invert: invert)
            if ranges.count == 1 && ranges[0].count == piece.count {
                try run(piece, step: step + 1, atStart: atStart, body)
            } else {
                for r in ranges { try run(Array(piece[r]), step: step + 1, atStart: atStart && r.lowerBound == 0, body) }
            }
        case .metaspace(let m):
            for (word, wordAtStart) in m.pieces(piece, atStart: atStart) where !word.isEmpty {
                try run(word, step: step + 1, atStart: wordAtStart, body)
            }
        }
    }

    /// The pieces (non-empty, in order) a split with these matches produces; the same rules as
    /// Hugging Face's `NormalizedString::split`.
    static func splitRanges(count n: Int, matches: [Range<Int>], behavior: SplitBehavior, invert: Bool) -> [Range<Int>] {
        if n == 0 { return [] }
        var parts: [(range: Range<Int>, isMatch: Bool)] = []
        parts.reserveCapacity(matches.count * 2 + 1)
        var prev = 0
        for m in matches {
            if prev != m.lowerBound { parts.append((prev..<m.lowerBound, false)) }
            parts.append((m, true))
            prev = m.upperBound
        }
        if prev != n { parts.append((prev..<n, false)) }
        if invert {
            for k in parts.indices { parts[k].isMatch.toggle() }
        }
        var out: [Range<Int>] = []
        out.reserveCapacity(parts.count)
        switch behavior {
        case .isolated:
            out = parts.map(\.range)
        case .removed:
            out = parts.filter { !$0.isMatch }.map(\.range)
        case .contiguous:
            var previousMatch = false
            for p in parts {
                if p.isMatch == previousMatch, let last = out.last {
                    out[out.count - 1] = last.lowerBound..<p.range.upperBound
                } else {
                    out.append(p.range)
                }
                previousMatch = p.isMatch
            }
        case .mergedWithPrevious:
            var previousMatch = false
            for p in parts {
                if p.isMatch && !previousMatch, let last = out.last {
                    out[out.count - 1] = last.lowerBound..<p.range.upperBound
                } else {
                    out.append(p.range)
                }
                previousMatch = p.isMatch
            }
        case .mergedWithNext:
            var previousMatch = false
            for p in parts.reversed() {
                if p.isMatch && !previousMatch, let last = out.last {
                    out[out.count - 1] = p.range.lowerBound..<last.upperBound
                } else {
                    out.append(p.range)
                }
                previousMatch = p.isMatch
            }
            out.reverse()
        }
        return out.filter { !$0.isEmpty }
    }
}
