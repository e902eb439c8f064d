/// Where one token goes at one layer's FFN: skipped, the small module, or the big one.
public enum Route: UInt8, Sendable, CaseIterable, Codable, Comparable {
    case skip = 0
    case small = 1
    case big = 2

    /// One-letter code used in patterns and tables: K (skip), S (small), B (big).
    public var letter: Character {
        switch self {
        case .skip: return "K"
        case .small: return "S"
        case .big: return "B"
        }
    }

    public var name: String {
        switch self {
        case .skip: return "skip"
        case .small: return "small"
        case .big: return "big"
        }
    }

    public init?(letter: Character) {
        switch letter.uppercased() {
        case "K", "-", ".": self = .skip
        case "S": self = .small
        case "B": self = .big
        default: return nil
        }
    }

    public static func < (a: Route, b: Route) -> Bool { a.rawValue < b.rawValue }
}

/// Routes for a sequence: `tokens` x `layers`, row-major (one row per token).
public struct RouteMatrix: Sendable, Equatable, Codable {
    public let tokens: Int
    public let layers: Int
    public private(set) var values: [Route]

    private enum CodingKeys: String, CodingKey { case tokens, layers, values }

    /// Decodes a stored matrix, checking its shape.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        tokens = try c.decode(Int.self, forKey: .tokens)
        layers = try c.decode(Int.self, forKey: .layers)
        values = try c.decode([Route].self, forKey: .values)
        guard tokens >= 0, layers >= 0, values.count == tokens * layers else {
            throw DecodingError.dataCorruptedError(forKey: .values, in: c, debugDescription: "route matrix shape")
        }
    }

    public init(tokens: Int, layers: Int, fill: Route) {
        self.tokens = tokens
        self.layers = layers
        values = Array(repeating: fill, count: tokens * layers)
    }

    public init(rows: [[Route]]) {
        tokens = rows.count
        layers = rows.first?.count ?? 0
        values = rows.flatMap { $0 }
    }

    public subscript(token: Int, layer: Int) -> Route {
        get { values[token * layers + layer] }
        set { values[token * layers + layer] = newValue }
    }

    public func row(_ token: Int) -> ArraySlice<Route> { values[token * layers..<(token + 1) * layers] }

    /// A token's pattern as letters, layer 0 first (e.g. "BBSK").
    public func pattern(_ token: Int) -> String { String(row(token).map(\.letter)) }
}
