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
