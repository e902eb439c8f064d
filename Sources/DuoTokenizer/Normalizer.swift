import Foundation

/// One step of a tokenizer.json `normalizer` (a `Sequence` is flattened into its steps).
enum NormalizerStep {
    case nfc, nfd, nfkc, nfkd
    case lowercase
    /// `Prepend`: the string goes in front of any non-empty text.
    case prepend([Unicode.Scalar])
    /// `Replace` with a `{"String": ...}` pattern: every occurrence, left to right, without overlaps.
    case replace(pattern: [Unicode.Scalar], content: [Unicode.Scalar])
    /// `Strip`: leading and/or trailing whitespace (Unicode White_Space) removed.
    case strip(left: Bool, right: Bool)

    /// The steps named only by their type.
    static let simple: [String: NormalizerStep] = [
        "NFC": .nfc, "NFD": .nfd, "NFKC": .nfkc, "NFKD": .nfkd, "Lowercase": .lowercase,
    ]

    var description: String {
        switch self {
        case .nfc: return "NFC"
        case .nfd: return "NFD"
        case .nfkc: return "NFKC"
        case .nfkd: return "NFKD"
        case .lowercase: return "Lowercase"
        case .prepend(let p): return "Prepend(\(Normalizer.quoted(p)))"
        case .replace(let p, let c): return "Replace(\(Normalizer.quoted(p))→\(Normalizer.quoted(c)))"
        case .strip(let l, let r): return l && r ? "Strip" : (l ? "Strip(left)" : (r ? "Strip(right)" : "Strip(none)"))
        }
    }
}

/// Unicode normalization and string edits applied to the text between added tokens before
/// pre-tokenization.
///
/// Matches Hugging Face `tokenizers`, whose normalization tables are Unicode 9.0: characters
/// assigned later are left alone and act as starters that nothing composes with. Decomposition
/// uses Foundation followed by canonical reordering (Foundation on Linux skips it in places),
/// composition the standard library's NFC (Foundation's composes non-BMP characters wrongly).
struct Normalizer {
    var steps: [NormalizerStep]

    /// The Unicode version of Hugging Face's normalization tables.
    static let unicodeMajorVersion = 9

    var description: String {
        steps.isEmpty ? "none" : steps.map(\.description).joined(separator: "+")
    }

    static func quoted(_ s: [Unicode.Scalar]) -> String {
        var t = String()
        t.unicodeScalars.append(contentsOf: s)
        return "\"" + t.unicodeScalars.map { $0.value < 0x20 ? String(format: "\\u{%X}", $0.value) : String($0) }.joined() + "\""
    }

    func apply(_ scalars: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var moved = false
        return apply(scalars, startMoved: &moved)
    }

    /// Applies the steps; `startMoved` becomes true when the first character of the result no
    /// longer comes from the first character of `scalars` (a Strip or an empty Replace removed
    /// it), which is what Hugging Face's Metaspace `prepend_scheme: "first"` looks at.
    func apply(_ scalars: [Unicode.Scalar], startMoved: inout Bool) -> [Unicode.Scalar] {
        var current = scalars
        for step in steps {
            switch step {
            case .lowercase:
                // Per character, without context (Rust's `char::to_lowercase`): full mappings
                // such as "İ" -> "i̇", and "Σ" always -> "σ".
                var out: [Unicode.Scalar] = []
                out.reserveCapacity(current.count)
                for s in current {
                    if s.value < 128 {
                        out.append(s.value >= 0x41 && s.value <= 0x5A ? Unicode.Scalar(s.value + 32)! : s)
                    } else {
                        out.append(contentsOf: s.properties.lowercaseMapping.unicodeScalars)
                    }
                }
                current = out
            case .nfc, .nfd, .nfkc, .nfkd:
                current = Normalizer.normalize(current, step)
            case .prepend(let p):
                if !current.isEmpty { current.insert(contentsOf: p, at: 0) }
            case .replace(let pattern, let content):
                let matches = SplitPattern.literalMatches(pattern, in: current)
                if matches.isEmpty { continue }
                if content.isEmpty && matches[0].lowerBound == 0 { startMoved = true }
                var out: [Unicode.Scalar] = []
                out.reserveCapacity(current.count + matches.count * max(0, content.count - pattern.count))
                var prev = 0
                for m in matches {
                    out.append(contentsOf: current[prev..<m.lowerBound])
                    out.append(contentsOf: content)
                    prev = m.upperBound
                }
                out.append(contentsOf: current[prev...])
                current = out
            case .strip(let left, let right):
                // Rust's `char::is_whitespace`: the White_Space property.
                var lo = 0
                var hi = current.count
                if left { while lo < hi && current[lo].properties.isWhitespace { lo += 1 } }
                if right { while hi > lo && current[hi - 1].properties.isWhitespace { hi -= 1 } }
                if lo > 0 { startMoved = true }
                if lo > 0 || hi < current.count { current = Array(current[lo..<hi]) }
            }
        }
        return current
    }

    static func normalize(_ scalars: [Unicode.Scalar], _ form: NormalizerStep) -> [Unicode.Scalar] {
        // Fast paths: ASCII never changes; below U+0300 there is nothing NFC would compose.
        if case .nfc = form {
            if scalars.allSatisfy({ $0.value < 0x300 }) { return scalars }
        } else if scalars.allSatisfy({ $0.value < 0x80 }) {
            return scalars
        }
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(scalars.count + 8)
        var segmentStart = 0
        for (i, s) in scalars.enumerated() where s.value >= 0x300 && isUnknownToTables(s) {
            out += normalizeSegment(scalars[segmentStart..<i], form)
            out.append(s)
            segmentStart = i + 1
        }
        out += normalizeSegment(scalars[segmentStart...], form)
        return out
    }

    @inline(__always)
    private static func isUnknownToTables(_ s: Unicode.Scalar) -> Bool {
        guard let age = s.properties.age else { return false }
        return age.major > unicodeMajorVersion
    }

    private static func normalizeSegment(_ segment: ArraySlice<Unicode.Scalar>, _ form: NormalizerStep) -> [Unicode.Scalar] {
        if segment.isEmpty { return [] }
        var text = String()
        text.unicodeScalars.append(contentsOf: segment)
        var compatibility = false
        var composed = false
        switch form {
        case .nfkc:
            compatibility = true
            composed = true
        case .nfkd: compatibility = true
        case .nfc: composed = true
        default: break
        }
        let decomposedText = compatibility ? text.decomposedStringWithCompatibilityMapping : text.decomposedStringWithCanonicalMapping
        var decomposed = Array(decomposedText.unicodeScalars)
        canonicalReorder(&decomposed)
        if !composed { return decomposed }
        var d = String()
        d.unicodeScalars.append(contentsOf: decomposed)
        return Array(String(decoding: d._nfcCodeUnits, as: UTF8.self).unicodeScalars)
    }

    /// Stable sort of every run of non-starters by canonical combining class.
    static func canonicalReorder(_ a: inout [Unicode.Scalar]) {
        var i = 0
        let n = a.count
        while i < n {
            let ccc = a[i].properties.canonicalCombiningClass.rawValue
            if ccc == 0 {
                i += 1
                continue
            }
            var j = i + 1
            while j < n && a[j].properties.canonicalCombiningClass.rawValue != 0 { j += 1 }
            if j - i > 1 {
                // insertion sort (runs are short)
                for k in (i + 1)..<j {
                    let x = a[k]
                    let cx = x.properties.canonicalCombiningClass.rawValue
                    var m = k - 1
                    while m >= i && a[m].properties.canonicalCombiningClass.rawValue > cx {
                        a[m + 1] = a[m]
                        m -= 1
                    }
                    a[m + 1] = x
                }
            }
            i = j
        }
    }
}
