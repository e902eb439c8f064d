/// GPT-2's reversible byte <-> Unicode mapping: every byte gets a printable character, so a byte
/// string can be written as text (space is "Ġ", newline is "Ċ", ...). Byte-level BPE vocabularies
/// are written in this alphabet.
enum ByteLevel {
    /// The character standing for each byte.
    static let byteToScalar: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var printable = [Bool](repeating: false, count: 256)
        for b in 0x21...0x7E { printable[b] = true }
        for b in 0xA1...0xAC { printable[b] = true }
        for b in 0xAE...0xFF { printable[b] = true }
        var next: UInt32 = 256
        for b in 0..<256 {
            if printable[b] {
                table[b] = Unicode.Scalar(UInt32(b))!
            } else {
                table[b] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return table
    }()

    /// The byte each character of the alphabet stands for, indexed by scalar value (-1: none).
    static let scalarToByte: [Int16] = {
        var table = [Int16](repeating: -1, count: 0x144)
        for (b, s) in byteToScalar.enumerated() { table[Int(s.value)] = Int16(b) }
        return table
    }()

    /// The byte a character stands for, or nil if it is not in the byte-level alphabet.
    @inline(__always)
    static func byte(for scalar: Unicode.Scalar) -> UInt8? {
        let v = Int(scalar.value)
        guard v < scalarToByte.count else { return nil }
        let b = scalarToByte[v]
        return b < 0 ? nil : UInt8(b)
    }

    /// Appends the byte-level characters for the UTF-8 bytes of `scalars`.
    @inline(__always)
    static func appendMapped<S: Sequence>(_ scalars: S, to out: inout [Unicode.Scalar]) where S.Element == Unicode.Scalar {
        let table = byteToScalar
        for s in scalars {
            let v = s.value
            if v < 0x80 {
                out.append(table[Int(v)])
            } else if v < 0x800 {
                out.append(table[Int(0xC0 | (v >> 6))])
                out.append(table[Int(0x80 | (v & 0x3F))])
            } else if v < 0x10000 {
                out.append(table[Int(0xE0 | (v >> 12))])
                out.append(table[Int(0x80 | ((v >> 6) & 0x3F))])
                out.append(table[Int(0x80 | (v & 0x3F))])
            } else {
                out.append(table[Int(0xF0 | (v >> 18))])
                out.append(table[Int(0x80 | ((v >> 12) & 0x3F))])
                out.append(table[Int(0x80 | ((v >> 6) & 0x3F))])
                out.append(table[Int(0x80 | (v & 0x3F))])
            }
        }
    }

    /// The bytes a byte-level token string stands for; nil if a character is outside the
    /// alphabet (Hugging Face's ByteLevel decoder then uses the token's own UTF-8 bytes).
    static func decode<S: Sequence>(_ scalars: S) -> [UInt8]? where S.Element == Unicode.Scalar {
        var out: [UInt8] = []
        for s in scalars {
            guard let b = byte(for: s) else { return nil }
            out.append(b)
        }
        return out
    }
}

/// UTF-8 helpers over Unicode scalars.
enum UTF8Bytes {
    @inline(__always)
    static func append<S: Sequence>(_ scalars: S, to out: inout [UInt8]) where S.Element == Unicode.Scalar {
        for s in scalars {
            let v = s.value
            if v < 0x80 {
                out.append(UInt8(v))
            } else if v < 0x800 {
                out.append(UInt8(0xC0 | (v >> 6)))
                out.append(UInt8(0x80 | (v & 0x3F)))
            } else if v < 0x10000 {
                out.append(UInt8(0xE0 | (v >> 12)))
                out.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
                out.append(UInt8(0x80 | (v & 0x3F)))
            } else {
                out.append(UInt8(0xF0 | (v >> 18)))
                out.append(UInt8(0x80 | ((v >> 12) & 0x3F)))
                out.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
                out.append(UInt8(0x80 | (v & 0x3F)))
            }
        }
    }

    static func of<S: Sequence>(_ scalars: S) -> [UInt8] where S.Element == Unicode.Scalar {
        var out: [UInt8] = []
        append(scalars, to: &out)
        return out
    }
}

/// The character classes the pre-tokenizer regexes use, as Oniguruma defines them:
/// `\s` is the White_Space property, `\p{L}` the letter categories, `\p{N}` the number categories.
enum CharClass: UInt8 {
    case letter, number, space, other

    static let ascii: [CharClass] = (0..<128).map { v -> CharClass in
        classify(Unicode.Scalar(UInt8(v)))
    }

    @inline(__always)
    static func of(_ s: Unicode.Scalar) -> CharClass {
        if s.value < 128 { return ascii[Int(s.value)] }
        return classify(s)
    }

    /// The newest Unicode version whose characters Hugging Face's regex engine knows:
    /// `tokenizers` 0.23 bundles Oniguruma with Unicode 16 tables, while Swift 6.3 knows
    /// Unicode 17, so characters first assigned later are unassigned (neither L nor N) there.
    static let regexUnicodeMajorVersion = 16

    static func classify(_ s: Unicode.Scalar) -> CharClass {
        let p = s.properties
        if p.isWhitespace { return .space }
        let kind: CharClass
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            kind = .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            kind = .number
        default:
            return .other
        }
        if let age = p.age, age.major > regexUnicodeMajorVersion { return .other }
        return kind
    }

    /// Rust's `char::is_numeric`: general category Nd, Nl or No.
    static func isNumeric(_ s: Unicode.Scalar) -> Bool {
        if s.value < 128 { return s.value >= 0x30 && s.value <= 0x39 }
        switch s.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    /// Rust regex's Unicode `\w` (used by Hugging Face for `single_word` added tokens).
    static func isWordCharacter(_ s: Unicode.Scalar) -> Bool {
        if s.value < 128 {
            let v = s.value
            return (v >= 0x30 && v <= 0x39) || (v >= 0x41 && v <= 0x5A) || (v >= 0x61 && v <= 0x7A) || v == 0x5F
        }
        let p = s.properties
        if p.isAlphabetic || p.isJoinControl { return true }
        switch p.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation:
            return true
        default:
            return false
        }
    }
}
