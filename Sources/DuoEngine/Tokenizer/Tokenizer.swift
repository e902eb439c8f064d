import Foundation

/// A byte-level BPE tokenizer read from a Hugging Face `tokenizer.json`, giving the same ids as
/// the `tokenizers` library (added tokens, normalizer, pre-tokenizer, BPE model, post-processor
/// template, ByteLevel decoder). Safe to use from several threads at once.
public final class Tokenizer: @unchecked Sendable {  // immutable apart from BPEModel's locked cache
    /// The path or label given when loading, used in messages.
    public let source: String
    /// max id + 1 over the model vocabulary and the added tokens.
    public let vocabSize: Int
    /// What the file configures, for display.
    public let summary: TokenizerSummary

    let model: BPEModel
    let added: AddedVocabulary
    let normalizer: Normalizer?
    let preTokenizer: PreTokenizer
    let postProcessor: PostProcessor
    let byteLevelDecoding: Bool
    /// The bytes each id decodes to, as Hugging Face's decoder produces them.
    private let decodeBytes: [Int: [UInt8]]

    /// Loads `tokenizer.json` from `url`; problems are reported as DuoError naming the file.
    public static func load(from url: URL) throws -> Tokenizer {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw DuoError(file: url, "cannot read tokenizer file (\((error as NSError).localizedDescription))")
        }
        return try Tokenizer(jsonData: data, source: url.path)
    }

    /// Parses the contents of a tokenizer.json; `source` names it in error messages.
    public convenience init(jsonData: Data, source: String) throws {
        try self.init(jsonData: jsonData, source: source, forceICURegex: false)
    }

    /// `forceICURegex` runs every pre-tokenizer regex through ICU instead of the native matchers
    /// (for tests that compare the two).
    init(jsonData: Data, source: String, forceICURegex: Bool) throws {
        var reader = TokenizerJSONReader(source: source)
        reader.forceICURegex = forceICURegex
        let def = try reader.read(jsonData)
        let model = def.model
        self.source = source
        self.model = model
        self.normalizer = def.normalizer
        self.preTokenizer = def.preTokenizer
        self.postProcessor = def.postProcessor
        self.byteLevelDecoding = def.byteLevelDecoding
        let added = AddedVocabulary(tokens: def.addedTokens, modelId: { model.vocab[$0] },
                                    modelVocabCount: model.vocab.count, normalizer: def.normalizer)
        self.added = added

        var decodeBytes: [Int: [UInt8]] = [:]
        decodeBytes.reserveCapacity(model.tokenById.count + added.tokenById.count)
        let byteLevel = def.byteLevelDecoding
        func bytes(of token: [UInt8]) -> [UInt8] {
            guard byteLevel else { return token }
            return ByteLevel.decode(String(decoding: token, as: UTF8.self).unicodeScalars) ?? token
        }
        for (id, token) in model.tokenById { decodeBytes[id] = bytes(of: token) }
        for (id, token) in added.tokenById {
            // Hugging Face decodes a `normalized` added token as its normalized form.
            var content = Array(token.content.unicodeScalars)
            if token.normalized, let normalizer = def.normalizer { content = normalizer.apply(content) }
            decodeBytes[id] = bytes(of: UTF8Bytes.of(content))
        }
        self.decodeBytes = decodeBytes

        let maxModel = model.tokenById.keys.max() ?? -1
        let maxAdded = added.tokenById.keys.max() ?? -1
        self.vocabSize = max(maxModel, maxAdded) + 1
        let addedSorted = added.tokenById.sorted { $0.key < $1.key }
        self.summary = TokenizerSummary(
            model: "BPE",
            vocabSize: max(maxModel, maxAdded) + 1,
            mergeCount: model.mergeCount,
            addedTokens: addedSorted.map(\.value.content),
            specialTokens: addedSorted.filter(\.value.special).map(\.value.content),
            preTokenizer: def.preTokenizer.description,
            normalizer: def.normalizer?.description ?? "none"
        )
    }

    /// The ids of `text`, like Hugging Face `encode(text, add_special_tokens=False).ids`.
    public func encode(_ text: String) -> [Int] {
        encode(text, addSpecialTokens: false)
    }

    /// The ids of `text`; with `addSpecialTokens` the post-processor's single-sequence template
    /// (e.g. a BOS token) is applied, like Hugging Face `encode(text, add_special_tokens=True)`.
    public func encode(_ text: String, addSpecialTokens: Bool) -> [Int] {
        var ids: [Int] = []
        ids.reserveCapacity(text.utf8.count / 3 + 4)
        let scalars = Array(text.unicodeScalars)
        for segment in added.split(scalars, with: added.rawMatcher) {
            switch segment {
            case .token(let id):
                ids.append(id)
            case .text(let range):
                var piece = range.count == scalars.count ? scalars : Array(scalars[range])
                if let normalizer { piece = normalizer.apply(piece) }
                if added.normalizedMatcher.isEmpty {
                    encodePiece(piece, into: &ids)
                    continue
                }
                for inner in added.split(piece, with: added.normalizedMatcher) {
                    switch inner {
                    case .token(let id): ids.append(id)
                    case .text(let r): encodePiece(Array(piece[r]), into: &ids)
                    }
                }
            }
        }
        return addSpecialTokens ? postProcessor.apply(ids) : ids
    }

    private func encodePiece(_ piece: [Unicode.Scalar], into ids: inout [Int]) {
        let model = self.model
        preTokenizer.forEachWord(piece) { word in
            model.encode(word: word, into: &ids)
        }
    }

    /// The text of `ids`, like Hugging Face `decode(ids, skip_special_tokens=False)`: token bytes
    /// concatenated, invalid UTF-8 replaced by U+FFFD; unknown ids are skipped.
    public func decode(_ ids: [Int]) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ids.count * 4)
        for id in ids {
            if let b = decodeBytes[id] { bytes.append(contentsOf: b) }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The raw bytes token `id` stands for (an added token: its UTF-8 content); [] for an unknown id.
    public func tokenBytes(_ id: Int) -> [UInt8] {
        if let token = added.tokenById[id] { return Array(token.content.utf8) }
        return decodeBytes[id] ?? []
    }

    /// `tokenBytes(id)` as text, invalid UTF-8 replaced by U+FFFD (for display).
    public func tokenText(_ id: Int) -> String {
        String(decoding: tokenBytes(id), as: UTF8.self)
    }

    /// The id of a vocabulary entry written as in the file (byte-level form, e.g. "Ġthe") or of
    /// an added token's content.
    public func id(forToken token: String) -> Int? {
        let key = Array(token.utf8)
        return added.idByContent[key] ?? model.vocab[key]
    }

    /// The pre-tokenizer's words for `text` (normalizer and added tokens not applied), like
    /// Hugging Face `pre_tokenizer.pre_tokenize_str(text)` without offsets.
    public func preTokenize(_ text: String) -> [String] {
        preTokenizer.pieces(text)
    }
}

/// What a tokenizer.json configures, in short (for `duoscope` output and reports).
public struct TokenizerSummary: Sendable, Codable, Equatable {
    /// The model type ("BPE").
    public var model: String
    /// max id + 1 over the model vocabulary and the added tokens.
    public var vocabSize: Int
    /// The number of BPE merges.
    public var mergeCount: Int
    /// Contents of all added tokens, in id order.
    public var addedTokens: [String]
    /// Contents of the added tokens marked special, in id order.
    public var specialTokens: [String]
    /// e.g. "ByteLevel(gpt2 regex)" or "Split(llama3 regex)+ByteLevel".
    public var preTokenizer: String
    /// e.g. "none", "NFC", "NFKC+Lowercase".
    public var normalizer: String

    public init(model: String, vocabSize: Int, mergeCount: Int, addedTokens: [String], specialTokens: [String],
                preTokenizer: String, normalizer: String) {
        self.model = model
        self.vocabSize = vocabSize
        self.mergeCount = mergeCount
        self.addedTokens = addedTokens
        self.specialTokens = specialTokens
        self.preTokenizer = preTokenizer
        self.normalizer = normalizer
    }
}
