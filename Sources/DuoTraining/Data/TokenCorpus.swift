import DuoEngine
import Foundation

/// A corpus as one stream of token ids: documents (separated by blank lines) encoded with the
/// model's tokenizer and joined by its end-of-text token. The ids are cached in a binary file
/// keyed by a fingerprint of the text and the tokenizer, so a rerun skips tokenization.
public struct TokenCorpus: Sendable {
    public let source: String
    public let tokens: [Int32]

    public init(source: String, tokens: [Int32]) {
        self.source = source
        self.tokens = tokens
    }

    /// The training stream of a corpus: documents separated by blank lines, each followed by
    /// `<|endoftext|>` when the tokenizer has it. (Scoring uses `TextSource.tokens`: the text as is.)
    static func documentTokens(_ text: String, tokenizer: Tokenizer) throws -> [Int] {
        let separator = tokenizer.id(forToken: "<|endoftext|>")
        var ids: [Int] = []
        for document in text.components(separatedBy: "\n\n") where !document.isEmpty {
            ids += try tokenizer.encode(document)
            if let separator { ids.append(separator) }
        }
        return ids
    }

    static let magic = Array("DUOTOK01".utf8)

    /// Tokenizes `file` (or reads the cache at `cache` when it matches).
    public static func load(file: URL, tokenizer: Tokenizer, tokenizerJSON: Data, cache: URL?) throws -> TokenCorpus {
        let text = try TextSource(file: file)
        var hasher = FNV1a()
        hasher.add(Data(text.text.utf8))
        hasher.add(tokenizerJSON)
        let fingerprint = hasher.value
        if let cache, let cached = readCache(cache, fingerprint: fingerprint) {
            return TokenCorpus(source: file.path, tokens: cached)
        }
        let tokens = try documentTokens(text.text, tokenizer: tokenizer).map { Int32($0) }
        guard !tokens.isEmpty else { throw DuoError(file: file, "corpus holds no tokens") }
        // A cache that cannot be written costs the next run a tokenization, nothing more.
        if let cache { try? writeCache(cache, tokens: tokens, fingerprint: fingerprint) }
        return TokenCorpus(source: file.path, tokens: tokens)
    }

    /// Where the user's cache folder (`UserDirectory.cache`) keeps the ids of `file`: one file per
    /// corpus path, whose fingerprint says whether it still matches the text and tokenizer; nil
    /// when caching is off or the folder cannot be made.
    public static func userCache(for file: URL) -> URL? {
        guard let root = UserDirectory.cache.url() else { return nil }
        let folder = root.appendingPathComponent("corpora")
        guard (try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)) != nil else { return nil }
        var hasher = FNV1a()
        hasher.add(Data(file.standardizedFileURL.path.utf8))
        return folder.appendingPathComponent(String(format: "%016llx.tokens", hasher.value))
    }

    private static func readCache(_ url: URL, fingerprint: UInt64) -> [Int32]? {
        guard let data = try? InputFile.contents(url), data.count >= 24, Array(data.prefix(8)) == magic else { return nil }
        return data.withUnsafeBytes { raw -> [Int32]? in
            let stored = raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
            let count = Int(raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
            guard stored == fingerprint, data.count == 24 + 4 * count else { return nil }
            return (0..<count).map { raw.loadUnaligned(fromByteOffset: 24 + 4 * $0, as: Int32.self) }
        }
    }

    private static func writeCache(_ url: URL, tokens: [Int32], fingerprint: UInt64) throws {
        var data = Data(magic)
        withUnsafeBytes(of: fingerprint) { data.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt64(tokens.count)) { data.append(contentsOf: $0) }
        tokens.withUnsafeBytes { data.append(contentsOf: $0) }
        try AtomicFile.write(data, to: url)
    }
}

/// 64-bit FNV-1a hash.
struct FNV1a {
    private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325
    mutating func add(_ data: Data) {
        for byte in data {
            value ^= UInt64(byte)
            value &*= 0x100_0000_01B3
        }
    }
}
