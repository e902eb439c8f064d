import Foundation

/// A model ready to run: its config, Float32 weights, tokenizer and RoPE table.
public final class DuoModel: @unchecked Sendable {  // immutable weights in raw buffers; fingerprint under a lock
    /// The model directory, when loaded from disk.
    public let directory: URL?
    public let config: ModelConfig
    public let weights: ModelWeights
    public let tokenizer: Tokenizer?
    public let rope: RoPETable
    public let cost: ComputeCost
    /// The dtype of the checkpoint on disk.
    public let storedDType: DType?

    public init(config: ModelConfig, weights: ModelWeights, tokenizer: Tokenizer?, directory: URL? = nil, storedDType: DType? = nil) {
        self.config = config
        self.weights = weights
        self.tokenizer = tokenizer
        self.directory = directory
        self.storedDType = storedDType
        rope = RoPETable(config: config, positions: config.maxPositions)
        cost = ComputeCost(config)
    }

    /// Loads `config.json`, the safetensors checkpoint and `tokenizer.json` from a model directory.
    public static func load(directory: URL, requireTokenizer: Bool = true) throws -> DuoModel {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory) else {
            throw DuoError(file: directory, "model directory not found")
        }
        guard isDirectory.boolValue else { throw DuoError(file: directory, "not a model directory") }
        let layout = ModelDirectory(directory)
        let config = try ConfigFile.read(layout.config)
        let checkpoint = try Checkpoint(directory: directory)
        let weights = try ModelWeights(checkpoint: checkpoint, config: config)
        let tokenizerURL = layout.tokenizer
        var tokenizer: Tokenizer?
        if requireTokenizer || FileManager.default.fileExists(atPath: tokenizerURL.path) {
            guard FileManager.default.fileExists(atPath: tokenizerURL.path) else {
                throw DuoError(file: tokenizerURL, "file not found")
            }
            let loaded = try Tokenizer.load(from: tokenizerURL)
            guard loaded.vocabSize <= config.vocabSize else {
                throw DuoError(
                    file: tokenizerURL, "tokenizer has \(loaded.vocabSize) ids but config.json vocab_size is \(config.vocabSize)")
            }
            tokenizer = loaded
        }
        return DuoModel(
            config: config, weights: weights, tokenizer: tokenizer, directory: directory,
            storedDType: checkpoint.dominantDType)
    }

    private let fingerprintLock = NSLock()
    private var cachedFingerprint: String?

    /// A hash of the config and every weight (as computed with, in Float32): what cached results
    /// of this model are keyed by. Computed once, on first use.
    public var fingerprint: String {
        fingerprintLock.lock()
        defer { fingerprintLock.unlock() }
        if let cachedFingerprint { return cachedFingerprint }
        var hasher = ContentHash.Hasher128()
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        if let json = try? encoder.encode(config) { json.withUnsafeBytes { hasher.add($0) } }
        hasher.add(tensors: weights.named(config))
        cachedFingerprint = hasher.hex
        return hasher.hex
    }

    /// A name for display: the directory's last component.
    public var name: String { directory?.lastPathComponent ?? "model" }

    /// Parameter counts by part.
    public var parameterCounts: ParameterCounts { ParameterCounts(config) }
}

/// Parameter counts of a model, by part.
public struct ParameterCounts: Sendable, Codable, Equatable {
    public var embedding: Int
    public var lmHead: Int
    public var attention: Int
    public var norms: Int
    public var bigFFN: Int
    public var smallFFN: Int
    public var total: Int { embedding + lmHead + attention + norms + bigFFN + smallFFN }

    public init(_ c: ModelConfig) {
        let d = c.hiddenSize
        embedding = c.vocabSize * d
        lmHead = c.tieWordEmbeddings ? 0 : c.vocabSize * d
        attention = c.numLayers * (d * c.qWidth * 2 + d * c.kvWidth * 2 + (c.family.hasQKVBias ? c.qWidth + 2 * c.kvWidth : 0))
        norms = c.numLayers * 2 * d + d
        bigFFN = c.numLayers * 3 * d * c.intermediateSize
        smallFFN = c.numLayers * 3 * d * (c.smallIntermediateSize ?? 0)
    }
}
