#if TOKSTUB
import Foundation
public final class Tokenizer: @unchecked Sendable {
    public static func load(from url: URL) throws -> Tokenizer { Tokenizer() }
    public var vocabSize: Int { 0 }
    public func encode(_ text: String) -> [Int] { [] }
    public func decode(_ ids: [Int]) -> String { "" }
    public func tokenText(_ id: Int) -> String { "" }
}
#endif
#if TOKSTUB
public struct TokenizerSummary: Sendable, Codable { public var model = ""; public var vocabSize = 0; public var mergeCount = 0; public var addedTokens: [String] = []; public var specialTokens: [String] = []; public var preTokenizer = ""; public var normalizer = "" }
extension Tokenizer { public var summary: TokenizerSummary { TokenizerSummary() } }
#endif
