/// An entry of tokenizer.json `added_tokens`: text that is cut out of the input before
/// normalization/pre-tokenization and always encodes to its own id.
struct AddedToken {
    var content: String
    var singleWord = false
    var lstrip = false
    var rstrip = false
    var normalized = true
    var special = false

    /// Exact (scalar by scalar) equality of every field, as Hugging Face compares added tokens.
    func isSame(as other: AddedToken) -> Bool {
        content.unicodeScalars.elementsEqual(other.content.unicodeScalars)
            && singleWord == other.singleWord && lstrip == other.lstrip && rstrip == other.rstrip
            && normalized == other.normalized && special == other.special
    }
}

/// A piece of input after cutting out added tokens.
enum AddedTokenSegment {
    case token(Int)
    case text(Range<Int>)
}

/// Leftmost-longest matching of a set of added-token patterns (what Hugging Face does with an
/// Aho-Corasick automaton built with `MatchKind::LeftmostLongest`), over Unicode scalars.
struct AddedTokenMatcher {
    private var children: [[Unicode.Scalar: Int32]] = [[:]]
    private var terminal: [Int] = [-1]  // token id ending at this node, or -1
    private var firstASCII = [Bool](repeating: false, count: 128)
    private var anyNonASCIIFirst = false

    var isEmpty: Bool { children[0].isEmpty }

    /// Adds a pattern; when two patterns are the same text the first one added wins.
    mutating func add(_ pattern: [Unicode.Scalar], id: Int) {
        guard let first = pattern.first else { return }
        if first.value < 128 { firstASCII[Int(first.value)] = true } else { anyNonASCIIFirst = true }
        var node = 0
        for s in pattern {
            if let next = children[node][s] {
                node = Int(next)
            } else {
                children.append([:])
                terminal.append(-1)
                children[node][s] = Int32(children.count - 1)
                node = children.count - 1
            }
        }
        if terminal[node] < 0 { terminal[node] = id }
    }

    /// The leftmost match starting at or after `from` (the longest one among those starting there).
    func nextMatch(in s: [Unicode.Scalar], from: Int) -> (start: Int, end: Int, id: Int)? {
        let n = s.count
        var i = from
        while i < n {
            let c = s[i]
            let candidate = c.value < 128 ? firstASCII[Int(c.value)] : anyNonASCIIFirst
            if candidate, var node = children[0][c].map(Int.init) {
                var bestEnd = -1
                var bestId = -1
                var j = i + 1
                while true {
                    if terminal[node] >= 0 {
                        bestEnd = j
                        bestId = terminal[node]
                    }
                    guard j < n, let next = children[node][s[j]] else { break }
                    node = Int(next)
                    j += 1
                }
                if bestEnd >= 0 { return (i, bestEnd, bestId) }
            }
            i += 1
        }
        return nil
    }
}

/// The added tokens of a tokenizer, with the ids Hugging Face gives them when it loads
/// tokenizer.json, and the two matchers it splits input with (tokens matched against the raw
/// text, and `normalized` tokens matched against the normalized text).
struct AddedVocabulary {
    private(set) var idByContent: [[UInt8]: Int] = [:]
    private(set) var tokenById: [Int: AddedToken] = [:]
    private(set) var rawMatcher = AddedTokenMatcher()
    private(set) var normalizedMatcher = AddedTokenMatcher()

    var isEmpty: Bool { tokenById.isEmpty }

    /// Replays Hugging Face's `add_special_tokens`/`add_tokens` for each entry in file order.
    /// The `id` written in the file is only a hint there: a token already in the vocabulary keeps
    /// that id, a new one gets the next id after the model vocabulary and earlier added tokens.
    init(tokens: [AddedToken], modelId: ([UInt8]) -> Int?, modelVocabCount: Int, normalizer: Normalizer?) {
        var specialTokens: [AddedToken] = []
        var ordinaryTokens: [AddedToken] = []
        var specialSet = Set<[UInt8]>()
        for token in tokens {
            let key = Array(token.content.utf8)
            if token.special && !key.isEmpty && !specialSet.contains(key) {
                specialTokens.append(token)
                specialSet.insert(key)
            }
            if key.isEmpty || tokenById.values.contains(where: { $0.isSame(as: token) }) { continue }
            let id: Int
            if let existing = idByContent[key] ?? modelId(key) {
                id = existing
            } else if let maxAdded = idByContent.values.max() {
                id = (maxAdded >= modelVocabCount || modelVocabCount == 0) ? maxAdded + 1 : modelVocabCount
            } else {
                id = modelVocabCount
            }
            idByContent[key] = id
            tokenById[id] = token
            if !specialSet.contains(key) { ordinaryTokens.append(token) }
        }
        for token in specialTokens + ordinaryTokens {
            let key = Array(token.content.utf8)
            guard let id = idByContent[key] ?? modelId(key) else { continue }
            if token.normalized {
                var pattern = Array(token.content.unicodeScalars)
                if let normalizer { pattern = normalizer.apply(pattern) }
                normalizedMatcher.add(pattern, id: id)
            } else {
                rawMatcher.add(Array(token.content.unicodeScalars), id: id)
            }
        }
    }

    /// Cuts the added tokens out of `s` (Hugging Face's `AddedVocabulary::find_matches`,
    /// including `single_word`, `lstrip` and `rstrip`); the text segments between them are
    /// never empty.
    func split(_ s: [Unicode.Scalar], with matcher: AddedTokenMatcher) -> [AddedTokenSegment] {
        let n = s.count
        if matcher.isEmpty || n == 0 { return n == 0 ? [] : [.text(0..<n)] }
        var out: [AddedTokenSegment] = []
        var startOffset = 0
        var searchFrom = 0
        while let m = matcher.nextMatch(in: s, from: searchFrom) {
            searchFrom = m.end
            var start = m.start
            var stop = m.end
            guard let token = tokenById[m.id] else { continue }
            if token.singleWord {
                let startSpace = start == 0 || !CharClass.isWordCharacter(s[start - 1])
                let stopSpace = stop == n || !CharClass.isWordCharacter(s[stop])
                if !startSpace || !stopSpace { continue }
            }
            if token.lstrip {
                var k = start
                while k > 0 && s[k - 1].properties.isWhitespace { k -= 1 }
                start = max(k, startOffset)
            }
            if token.rstrip {
                while stop < n && s[stop].properties.isWhitespace { stop += 1 }
            }
            if startOffset < start { out.append(.text(startOffset..<start)) }
            out.append(.token(m.id))
            startOffset = stop
        }
        if startOffset < n { out.append(.text(startOffset..<n)) }
        return out
    }
}
