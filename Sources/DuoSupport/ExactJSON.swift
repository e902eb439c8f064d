import Foundation

/// A parsed JSON value as tokenizer.json needs it: object members keep their file order and
/// strings keep their exact Unicode scalars (Foundation's JSONSerialization would hand back
/// dictionaries keyed by `String`, whose equality is canonical equivalence, not identity).
package enum ExactJSON {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([ExactJSON])
    case object(ExactJSONObject)

    /// A short name of the value's kind, for error messages.
    package var kindName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    package var isNull: Bool {
        if case .null = self { return true }
        return false
    }
}

/// A JSON object: its members in file order. Lookup by key returns the last member with that
/// key, as serde (which Hugging Face `tokenizers` uses) does.
package struct ExactJSONObject {
    package var keys: [String] = []
    package var values: [ExactJSON] = []

    /// (key, value) pairs in file order.
    package var members: Zip2Sequence<[String], [ExactJSON]> { zip(keys, values) }

    package subscript(key: String) -> ExactJSON? {
        for k in keys.indices.reversed() where keys[k].utf8.elementsEqual(key.utf8) {
            return values[k]
        }
        return nil
    }
}

/// Why a document is not valid JSON, and the byte offset where that was noticed.
package struct ExactJSONSyntaxError: Error {
    package var message: String
    package var offset: Int
}

/// A strict JSON (RFC 8259) parser over UTF-8 bytes.
package enum ExactJSONParser {
    static let maxDepth = 256

    package static func parse(_ data: Data) throws -> ExactJSON {
        try data.withUnsafeBytes { raw -> ExactJSON in
            let bytes = raw.bindMemory(to: UInt8.self)
            if let bad = firstInvalidUTF8(bytes) {
                throw ExactJSONSyntaxError(message: "invalid UTF-8", offset: bad)
            }
            var reader = Reader(bytes: bytes)
            reader.skipWhitespace()
            let value = try reader.parseValue(depth: 0)
            reader.skipWhitespace()
            if reader.pos != bytes.count {
                throw ExactJSONSyntaxError(message: "unexpected data after the JSON value", offset: reader.pos)
            }
            return value
        }
    }

    /// The offset of the first byte that is not part of a well-formed UTF-8 sequence, if any.
    static func firstInvalidUTF8(_ b: UnsafeBufferPointer<UInt8>) -> Int? {
        var i = 0
        let n = b.count
        while i < n {
            let c = b[i]
            if c < 0x80 {
                i += 1
                continue
            }
            var need = 0
            var minValue: UInt32 = 0
            var value: UInt32 = 0
            if c & 0xE0 == 0xC0 {
                need = 1
                minValue = 0x80
                value = UInt32(c & 0x1F)
            } else if c & 0xF0 == 0xE0 {
                need = 2
                minValue = 0x800
                value = UInt32(c & 0x0F)
            } else if c & 0xF8 == 0xF0 {
                need = 3
                minValue = 0x10000
                value = UInt32(c & 0x07)
            } else {
                return i
            }
            if i + need >= n { return i }
            for k in 1...need {
                let cc = b[i + k]
                if cc & 0xC0 != 0x80 { return i }
                value = (value << 6) | UInt32(cc & 0x3F)
            }
            if value < minValue || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF) { return i }
            i += need + 1
        }
        return nil
    }

    private struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        var pos = 0

        init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

        mutating func skipWhitespace() {
            while pos < bytes.count {
                let c = bytes[pos]
                if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { pos += 1 } else { break }
            }
        }

        func fail(_ message: String) -> ExactJSONSyntaxError {
            ExactJSONSyntaxError(message: message, offset: pos)
        }

        mutating func parseValue(depth: Int) throws -> ExactJSON {
            guard pos < bytes.count else { throw fail("unexpected end of data") }
            switch bytes[pos] {
            case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
            case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
            case UInt8(ascii: "\""): return .string(try parseString())
            case UInt8(ascii: "t"):
                try expectWord("true")
                return .bool(true)
            case UInt8(ascii: "f"):
                try expectWord("false")
                return .bool(false)
            case UInt8(ascii: "n"):
                try expectWord("null")
                return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
            default: throw fail("unexpected character")
            }
        }

        mutating func expectWord(_ word: StaticString) throws {
            let w = UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
            guard pos + w.count <= bytes.count else { throw fail("unexpected end of data") }
            for k in 0..<w.count where bytes[pos + k] != w[k] { throw fail("unexpected character") }
            pos += w.count
        }

        mutating func parseObject(depth: Int) throws -> ExactJSON {
            guard depth <= ExactJSONParser.maxDepth else { throw fail("nested too deeply") }
            pos += 1
            var members = ExactJSONObject()
            skipWhitespace()
            if pos < bytes.count && bytes[pos] == UInt8(ascii: "}") {
                pos += 1
                return .object(members)
            }
            while true {
                skipWhitespace()
                guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
                let key = try parseString()
                skipWhitespace()
                guard pos < bytes.count, bytes[pos] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                pos += 1
                skipWhitespace()
                let value = try parseValue(depth: depth)
                members.keys.append(key)
                members.values.append(value)
                skipWhitespace()
                guard pos < bytes.count else { throw fail("unexpected end of data") }
                if bytes[pos] == UInt8(ascii: ",") {
                    pos += 1
                    continue
                }
                if bytes[pos] == UInt8(ascii: "}") {
                    pos += 1
                    return .object(members)
                }
                throw fail("expected ',' or '}'")
            }
        }

        mutating func parseArray(depth: Int) throws -> ExactJSON {
            guard depth <= ExactJSONParser.maxDepth else { throw fail("nested too deeply") }
            pos += 1
            var items: [ExactJSON] = []
            skipWhitespace()
            if pos < bytes.count && bytes[pos] == UInt8(ascii: "]") {
                pos += 1
                return .array(items)
            }
            while true {
                skipWhitespace()
                items.append(try parseValue(depth: depth))
                skipWhitespace()
                guard pos < bytes.count else { throw fail("unexpected end of data") }
                if bytes[pos] == UInt8(ascii: ",") {
                    pos += 1
                    continue
                }
                if bytes[pos] == UInt8(ascii: "]") {
                    pos += 1
                    return .array(items)
                }
                throw fail("expected ',' or ']'")
            }
        }

        mutating func parseString() throws -> String {
            pos += 1  // opening quote
            let start = pos
            // Fast path: no escapes.
            while pos < bytes.count {
                let c = bytes[pos]
                if c == UInt8(ascii: "\"") {
                    let s = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<pos]), as: UTF8.self)
                    pos += 1
                    return s
                }
                if c == UInt8(ascii: "\\") { break }
                if c < 0x20 { throw fail("control character in string") }
                pos += 1
            }
            guard pos < bytes.count else { throw fail("unterminated string") }
            var buffer = Array(UnsafeBufferPointer(rebasing: bytes[start..<pos]))
            while pos < bytes.count {
                let c = bytes[pos]
                if c == UInt8(ascii: "\"") {
                    pos += 1
                    return String(decoding: buffer, as: UTF8.self)
                }
                if c < 0x20 { throw fail("control character in string") }
                if c != UInt8(ascii: "\\") {
                    buffer.append(c)
                    pos += 1
                    continue
                }
                pos += 1
                guard pos < bytes.count else { throw fail("unterminated string") }
                let e = bytes[pos]
                pos += 1
                switch e {
                case UInt8(ascii: "\""): buffer.append(0x22)
                case UInt8(ascii: "\\"): buffer.append(0x5C)
                case UInt8(ascii: "/"): buffer.append(0x2F)
                case UInt8(ascii: "b"): buffer.append(0x08)
                case UInt8(ascii: "f"): buffer.append(0x0C)
                case UInt8(ascii: "n"): buffer.append(0x0A)
                case UInt8(ascii: "r"): buffer.append(0x0D)
                case UInt8(ascii: "t"): buffer.append(0x09)
                case UInt8(ascii: "u"):
                    var value = try parseHex4()
                    if value >= 0xD800 && value <= 0xDBFF {
                        guard pos + 1 < bytes.count, bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u") else {
                            throw fail("lone surrogate in \\u escape")
                        }
                        pos += 2
                        let low = try parseHex4()
                        guard low >= 0xDC00 && low <= 0xDFFF else { throw fail("lone surrogate in \\u escape") }
                        value = 0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00)
                    } else if value >= 0xDC00 && value <= 0xDFFF {
                        throw fail("lone surrogate in \\u escape")
                    }
                    guard let scalar = Unicode.Scalar(value) else { throw fail("invalid \\u escape") }
                    buffer.append(contentsOf: UTF8.encode(scalar)!)
                default:
                    throw fail("invalid escape")
                }
            }
            throw fail("unterminated string")
        }

        mutating func parseHex4() throws -> UInt32 {
            guard pos + 4 <= bytes.count else { throw fail("invalid \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = bytes[pos]
                let d: UInt32
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
                default: throw fail("invalid \\u escape")
                }
                v = v * 16 + d
                pos += 1
            }
            return v
        }

        mutating func parseNumber() throws -> Double {
            let start = pos
            var isInteger = true
            if bytes[pos] == UInt8(ascii: "-") { pos += 1 }
            guard pos < bytes.count, isDigit(bytes[pos]) else { throw fail("invalid number") }
            if bytes[pos] == UInt8(ascii: "0") {
                pos += 1
            } else {
                while pos < bytes.count && isDigit(bytes[pos]) { pos += 1 }
            }
            if pos < bytes.count && bytes[pos] == UInt8(ascii: ".") {
                isInteger = false
                pos += 1
                guard pos < bytes.count, isDigit(bytes[pos]) else { throw fail("invalid number") }
                while pos < bytes.count && isDigit(bytes[pos]) { pos += 1 }
            }
            if pos < bytes.count && (bytes[pos] == UInt8(ascii: "e") || bytes[pos] == UInt8(ascii: "E")) {
                isInteger = false
                pos += 1
                if pos < bytes.count && (bytes[pos] == UInt8(ascii: "+") || bytes[pos] == UInt8(ascii: "-")) { pos += 1 }
                guard pos < bytes.count, isDigit(bytes[pos]) else { throw fail("invalid number") }
                while pos < bytes.count && isDigit(bytes[pos]) { pos += 1 }
            }
            let digits = pos - start
            if isInteger && digits <= 15 {
                var v = 0
                var k = start
                let negative = bytes[k] == UInt8(ascii: "-")
                if negative { k += 1 }
                while k < pos {
                    v = v * 10 + Int(bytes[k] - UInt8(ascii: "0"))
                    k += 1
                }
                return Double(negative ? -v : v)
            }
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<pos]), as: UTF8.self)
            guard let v = Double(text) else { throw fail("invalid number") }
            return v
        }

        @inline(__always) func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }
    }
}

extension ExactJSON {
    /// Parses `data`, or returns nil when it is not JSON.
    package static func parseOrNil(_ data: Data) -> ExactJSON? { try? ExactJSONParser.parse(data) }

    /// The member `key` of an object, unless absent or null.
    package subscript(key: String) -> ExactJSON? {
        if case .object(let members) = self, let value = members[key], !value.isNull { return value }
        return nil
    }

    package var object: ExactJSONObject? { if case .object(let v) = self { return v } else { return nil } }
    package var array: [ExactJSON]? { if case .array(let v) = self { return v } else { return nil } }
    package var string: String? { if case .string(let v) = self { return v } else { return nil } }
    package var bool: Bool? { if case .bool(let v) = self { return v } else { return nil } }
    package var double: Double? { if case .number(let v) = self { return v } else { return nil } }

    /// The value as an exact integer (no fraction, within ±2^53).
    package var int: Int? {
        guard case .number(let v) = self, v == v.rounded(), abs(v) <= 9_007_199_254_740_992 else { return nil }
        return Int(v)
    }
}
