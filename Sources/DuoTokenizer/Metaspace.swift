/// When the Metaspace pre-tokenizer puts its replacement character in front of a piece
/// (tokenizer.json `prepend_scheme`).
enum PrependScheme: String {
    /// In front of every piece that does not start with it.
    case always
    /// Only in front of the piece that starts the input text (not after an added token).
    case first
    /// Never.
    case never
}

/// SentencePiece-style word marking (tokenizer.json `Metaspace`, pre-tokenizer and decoder):
/// spaces become `replacement` ("▁"), which may be prepended and split on; decoding turns it
/// back into spaces. Behaves exactly like Hugging Face `tokenizers`.
struct Metaspace {
    var replacement: Unicode.Scalar
    var prependScheme: PrependScheme
    var split: Bool

    var description: String {
        "Metaspace(\(replacement), \(prependScheme.rawValue)\(split ? "" : ", no split"))"
    }

    /// The pieces of one pre-tokenizer piece, each with whether it begins at the start of the
    /// input text. `atStart`: whether `piece` does.
    func pieces(_ piece: [Unicode.Scalar], atStart: Bool) -> [(piece: [Unicode.Scalar], atStart: Bool)] {
        var s = piece
        for i in s.indices where s[i] == " " { s[i] = replacement }
        if let first = s.first, first != replacement {
            switch prependScheme {
            case .always: s.insert(replacement, at: 0)
            case .first: if atStart { s.insert(replacement, at: 0) }
            case .never: break
            }
        }
        guard split else { return [(s, atStart)] }
        let matches = s.indices.filter { s[$0] == replacement }.map { $0..<($0 + 1) }
        let ranges = PreTokenizer.splitRanges(count: s.count, matches: matches, behavior: .mergedWithNext, invert: false)
        return ranges.map { (Array(s[$0]), atStart && $0.lowerBound == 0) }
    }

    /// The decoder: `replacement` becomes a space, except in the first token, where it is
    /// dropped unless the scheme is `never`.
    func decode(_ tokens: [[Unicode.Scalar]]) -> [[Unicode.Scalar]] {
        tokens.enumerated().map { i, token in
            let dropFirst = i == 0 && prependScheme != .never
            var out: [Unicode.Scalar] = []
            out.reserveCapacity(token.count)
            for c in token {
                if c == replacement {
                    if !dropFirst { out.append(" ") }
                } else {
                    out.append(c)
                }
            }
            return out
        }
    }
}
