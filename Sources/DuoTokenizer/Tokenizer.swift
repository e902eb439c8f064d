import Foundation

#if canImport(DuoSupport)  // false in the fuzz build, which compiles DuoSupport in with this module (Makefile)
    import DuoSupport
#endif

/// A BPE tokenizer read from a Hugging Face `tokenizer.json` (byte-level like GPT-2 / Llama 3, or
/// SentencePiece-style with byte fallback like Llama 2 / Mistral), giving the same ids and
/// decoded text as the `tokenizers` library (added tokens, normalizer, pre-tokenizer, BPE model,
/// post-processor template, decoder). Safe to use from several threads at once.
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
    let decoder: TokenDecoder
    /// The string Hugging Face's decoder gets for each id (an added token: its normalized form
    /// when it is `normalized`), as characters.
    private let decodeTokens: [Int: [Unicode.Scalar]]
    /// With a decoder that starts with ByteLevel: each id's bytes under it.
    private let byteLevelBytes: [Int: [UInt8]]
    /// `tokenBytes` of each model token.
    private let displayBytes: [Int: [UInt8]]

    /// Loads `tokenizer.json` from `url`; problems are reported as DuoError naming the file.
    public static func load(from url: URL) throws -> Tokenizer {
        try Tokenizer(jsonData: InputFile.contents(url, what: "a tokenizer file"), source: url.path)
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
        self.decoder = def.decoder
        let added = AddedVocabulary(
            tokens: def.addedTokens, modelId: { model.vocab[$0] },
            modelVocabCount: model.vocab.count, normalizer: def.normalizer)
        self.added = added

        var decodeTokens: [Int: [Unicode.Scalar]] = [:]
        decodeTokens.reserveCapacity(model.tokenById.count + added.tokenById.count)
        var displayBytes: [Int: [UInt8]] = [:]
        displayBytes.reserveCapacity(model.tokenById.count)
        let byteLevelWithoutDecoder = def.preTokenizer.usesByteLevel
        for (id, token) in model.tokenById {
            let scalars = Array(String(decoding: token, as: UTF8.self).unicodeScalars)
            decodeTokens[id] = scalars
            displayBytes[id] = def.decoder.displayBytes(scalars, byteLevelWithoutDecoder: byteLevelWithoutDecoder)
        }
        for (id, token) in added.tokenById {
            // Hugging Face decodes a `normalized` added token as its normalized form.
            var content = Array(token.content.unicodeScalars)
            if token.normalized, let normalizer = def.normalizer { content = normalizer.apply(content) }
            decodeTokens[id] = content
        }
        self.decodeTokens = decodeTokens
        self.displayBytes = displayBytes
        var byteLevelBytes: [Int: [UInt8]] = [:]
        if def.decoder.startsWithByteLevel {
            byteLevelBytes.reserveCapacity(decodeTokens.count)
            for (id, token) in decodeTokens { byteLevelBytes[id] = TokenDecoder.byteLevelBytes(token) }
        }
        self.byteLevelBytes = byteLevelBytes

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
    public func encode(_ text: String) throws -> [Int] {
        try encode(text, addSpecialTokens: false)
    }

    /// The ids of `text`; with `addSpecialTokens` the post-processor's single-sequence template
    /// (e.g. a BOS token) is applied, like Hugging Face `encode(text, add_special_tokens=True)`.
    /// Throws a DuoError naming the file when a pre-tokenizer regex backtracks past its budget.
    public func encode(_ text: String, addSpecialTokens: Bool) throws -> [Int] {
        do {
            return try encodeUnchecked(text, addSpecialTokens: addSpecialTokens)
        } catch let e as RegexBudgetExceeded {
            throw DuoError(
                "pre_tokenizer regex \(TerminalSafe.escape(e.pattern)) gave up on a \(e.length)-character piece "
                    + "(catastrophic backtracking; the pattern cannot be matched in bounded time)", file: source)
        }
    }

    private func encodeUnchecked(_ text: String, addSpecialTokens: Bool) throws -> [Int] {
        var ids: [Int] = []
        ids.reserveCapacity(text.utf8.count / 3 + 4)
        let scalars = Array(text.unicodeScalars)
        for segment in added.split(scalars, with: added.rawMatcher) {
            switch segment {
            case .token(let id):
                ids.append(id)
            case .text(let range):
                var piece = range.count == scalars.count ? scalars : Array(scalars[range])
                // Whether the piece still begins where the text does (Metaspace "first").
                var startMoved = range.lowerBound > 0
                if let normalizer { piece = normalizer.apply(piece, startMoved: &startMoved) }
                if added.normalizedMatcher.isEmpty {
                    try encodePiece(piece, atStart: !startMoved, into: &ids)
                    continue
                }
                for inner in added.split(piece, with: added.normalizedMatcher) {
                    switch inner {
                    case .token(let id): ids.append(id)
                    case .text(let r): try encodePiece(Array(piece[r]), atStart: !startMoved && r.lowerBound == 0, into: &ids)
                    }
                }
            }
        }
        return addSpecialTokens ? postProcessor.apply(ids) : ids
    }

    private func encodePiece(_ piece: [Unicode.Scalar], atStart: Bool, into ids: inout [Int]) throws {
        let model = self.model
        try preTokenizer.forEachWord(piece, atStart: atStart) { word in
            model.encode(word: word, into: &ids)
        }
    }

    /// The text of `ids`, like Hugging Face `decode(ids, skip_special_tokens=False)`: the token
    /// strings run through the decoder (ByteLevel, ByteFallback, Replace, Strip, Metaspace, Fuse;
    /// invalid UTF-8 becomes U+FFFD as Hugging Face does it) and are concatenated; without a
    /// decoder they are joined with spaces. Unknown ids are skipped.
    public func decode(_ ids: [Int]) -> String {
        let known = ids.filter { decodeTokens[$0] != nil }
        if decoder.startsWithByteLevel {
            return decoder.decode([]) {
                var bytes: [UInt8] = []
                bytes.reserveCapacity(known.count * 4)
                for id in known { bytes += self.byteLevelBytes[id] ?? [] }
                return bytes
            }
        }
        return decoder.decode(known.map { decodeTokens[$0] ?? [] })
    }

    /// The bytes token `id` stands for on its own, for display; [] for an unknown id.
    /// An added token: its UTF-8 content. A model token: as it reads inside a decoded text, i.e.
    /// through the decoder's per-token steps: a byte-level token's bytes ("Ġthe" → " the"), a
    /// byte-fallback token's byte (`<0x0A>` → 0x0A, possibly a lone byte of a longer character),
    /// "▁" as a space (Replace or Metaspace decoder: "▁the" → " the"), without the steps that act
    /// on the whole text (Strip, dropping the first token's Metaspace prefix). Without a decoder:
    /// the token's bytes under ByteLevel when the pre-tokenizer is byte-level, else its UTF-8.
    public func tokenBytes(_ id: Int) -> [UInt8] {
        if let token = added.tokenById[id] { return Array(token.content.utf8) }
        return displayBytes[id] ?? []
    }

    /// `tokenBytes(id)` as text, invalid UTF-8 replaced by U+FFFD (for display).
    public func tokenText(_ id: Int) -> String {
        String(decoding: tokenBytes(id), as: UTF8.self)
    }

    /// The id of a vocabulary entry written as in the file (e.g. "Ġthe", "▁the", "<0x0A>") or of
    /// an added token's content.
    public func id(forToken token: String) -> Int? {
        let key = Array(token.utf8)
        return added.idByContent[key] ?? model.vocab[key]
    }

    /// The pre-tokenizer's words for `text` (normalizer and added tokens not applied), like
    /// Hugging Face `pre_tokenizer.pre_tokenize_str(text)` without offsets.
    public func preTokenize(_ text: String) throws -> [String] {
        try preTokenizer.pieces(text)
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

    public init(
        model: String, vocabSize: Int, mergeCount: Int, addedTokens: [String], specialTokens: [String],
        preTokenizer: String, normalizer: String
    ) {
        self.model = model
        self.vocabSize = vocabSize
        self.mergeCount = mergeCount
        self.addedTokens = addedTokens
        self.specialTokens = specialTokens
        self.preTokenizer = preTokenizer
        self.normalizer = normalizer
    }
}
