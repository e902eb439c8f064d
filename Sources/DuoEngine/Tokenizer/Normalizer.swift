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
struct Normalizer {
    var steps: [NormalizerStep]

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
                if current.allSatisfy({ $0.value < 0x80 }) { continue }  // ASCII is invariant
                var text = String()
                text.unicodeScalars.append(contentsOf: current)
                let normalized: String
                switch step {
                case .nfc: normalized = text.precomposedStringWithCanonicalMapping
                case .nfd: normalized = text.decomposedStringWithCanonicalMapping
                case .nfkc: normalized = text.precomposedStringWithCompatibilityMapping
                default: normalized = text.decomposedStringWithCompatibilityMapping
                }
                current = Array(normalized.unicodeScalars)
            }
        }
        return current
    }
}
