import Foundation

/// Text to score, from `--text` or a file, validated: UTF-8, not empty, and within the context.
public struct TextSource: Sendable {
    /// What errors name: the file path, or "--text".
    public let label: String
    public let text: String

    public init(text: String, label: String = "--text") throws {
        guard !text.isEmpty else { throw DuoError("empty text", file: label) }
        self.text = text
        self.label = label
    }

    /// Reads a UTF-8 text file.
    public init(file url: URL) throws {
        try self.init(data: InputFile.contents(url, what: "a text file"), label: url.path)
    }

    /// Decodes bytes as UTF-8, naming the offset of the first invalid byte.
    public init(data: Data, label: String) throws {
        guard let text = String(validatingUTF8Data: data) else {
            throw DuoError("not valid UTF-8 (first bad byte at offset \(Self.firstInvalidUTF8Offset(data)))", file: label)
        }
        try self.init(text: text, label: label)
    }

    /// Tokenizes the text and checks it fits the model: at least 2 tokens (one to score) and
    /// at most the context length, unless `truncate` keeps the first `maxPositions` tokens.
    public func tokenize(for model: DuoModel, truncate: Bool = false) throws -> [Int] {
        var ids = try tokens(for: model)
        let context = model.config.maxPositions
        if ids.count > context {
            guard truncate else {
                throw DuoError(
                    "text is \(ids.count) tokens, longer than the model's context of \(context) (use --truncate to keep the first "
                        + "\(context))",
                    file: label)
            }
            ids = Array(ids.prefix(context))
        }
        return ids
    }

    /// The text's ids as scored by every command and view (the scoring convention): the
    /// tokenizer's encoding of the whole text, nothing inserted or appended (no end-of-text);
    /// every token after the first is scored, predicted from its prefix. At least 2 tokens.
    public func tokens(for model: DuoModel) throws -> [Int] {
        guard let tokenizer = model.tokenizer else { throw DuoError("model has no tokenizer.json", file: model.directory?.path) }
        let ids = try tokenizer.encode(text)
        guard ids.count >= 2 else {
            throw DuoError("text is \(ids.count) token; at least 2 are needed to score a next token", file: label)
        }
        return ids
    }

    /// Byte offset of the first invalid UTF-8 sequence (the data's length when all is valid).
    static func firstInvalidUTF8Offset(_ data: Data) -> Int {
        var iterator = data.makeIterator()
        var parser = Unicode.UTF8.ForwardParser()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let encoded): offset += encoded.count
            case .error: return offset
            case .emptyInput: return offset
            }
        }
    }
}

extension String {
    /// Strict UTF-8 decoding: nil when any byte sequence is invalid (no replacement characters).
    init?(validatingUTF8Data data: Data) {
        guard TextSource.firstInvalidUTF8Offset(data) == data.count else { return nil }
        self = String(decoding: data, as: UTF8.self)
    }
}
