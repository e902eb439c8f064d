import Foundation

/// One step of a tokenizer.json `normalizer` (a `Sequence` is flattened into its steps).
enum NormalizerStep: String {
    case nfc = "NFC"
    case nfd = "NFD"
    case nfkc = "NFKC"
    case nfkd = "NFKD"
    case lowercase = "Lowercase"
}

/// Unicode normalization applied to the text between added tokens before pre-tokenization.
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
        steps.isEmpty ? "none" : steps.map(\.rawValue).joined(separator: "+")
    }

    func apply(_ scalars: [Unicode.Scalar]) -> [Unicode.Scalar] {
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
            }
        }
        return current
    }

    static func normalize(_ scalars: [Unicode.Scalar], _ form: NormalizerStep) -> [Unicode.Scalar] {
        // Fast paths: ASCII never changes; below U+0300 there is nothing NFC would compose.
        if form == .nfc ? scalars.allSatisfy({ $0.value < 0x300 }) : scalars.allSatisfy({ $0.value < 0x80 }) {
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
        let compatibility = form == .nfkc || form == .nfkd
        let decomposedText = compatibility ? text.decomposedStringWithCompatibilityMapping : text.decomposedStringWithCanonicalMapping
        var decomposed = Array(decomposedText.unicodeScalars)
        canonicalReorder(&decomposed)
        if form == .nfd || form == .nfkd { return decomposed }
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
            if ccc == 0 { i += 1; continue }
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
