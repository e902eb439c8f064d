import DuoEngine
import Foundation

/// The text being explored: its tokens and what each token looks like on screen.
public struct ExplorerDocument: Sendable {
    /// Where the text came from ("quotes.txt", "typed text", ...).
    public let label: String
    public let ids: [Int]
    /// Each token's text, made safe for a terminal (`TerminalSafe.escape`).
    public let tokenTexts: [String]
    /// Each token's text as decoded (may hold control characters: never print it raw).
    public let rawTokenTexts: [String]
    /// Bumped on every change so results computed for older text are never shown.
    public let revision: Int

    public init(label: String, ids: [Int], rawTokenTexts: [String], revision: Int) {
        self.label = label
        self.ids = ids
        self.rawTokenTexts = rawTokenTexts
        tokenTexts = rawTokenTexts.map(TerminalSafe.escape)
        self.revision = revision
    }

    /// Tokenizes `text` with the model's tokenizer. Throws a one-line error naming `label`
    /// for an empty text, a single token or (unless `truncate`) a text longer than the context.
    public init(text: String, label: String, model: DuoModel, revision: Int = 0, truncate: Bool = false) throws {
        let ids = try TextSource(text: text, label: label).tokenize(for: model, truncate: truncate)
        self.init(ids: ids, label: label, model: model, revision: revision)
    }

    public init(ids: [Int], label: String, model: DuoModel, revision: Int) {
        let tokenizer = model.tokenizer
        self.init(label: label, ids: ids, rawTokenTexts: ids.map { tokenizer?.tokenText($0) ?? "#\($0)" }, revision: revision)
    }

    /// The same text under another revision (results computed for the old one are then dropped).
    public func revised(_ revision: Int) -> ExplorerDocument {
        ExplorerDocument(label: label, ids: ids, rawTokenTexts: rawTokenTexts, revision: revision)
    }

    public var count: Int { ids.count }
    /// The whole text as decoded.
    public var text: String { rawTokenTexts.joined() }
}
