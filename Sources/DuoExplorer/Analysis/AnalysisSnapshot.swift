import DuoEngine
import Foundation

/// What the views read: the document and every result computed for it so far.
public struct AnalysisSnapshot: Sendable {
    public var document: ExplorerDocument
    public var modelName: String
    public var layers: Int
    public var runs: [PolicyKey: PolicyRun] = [:]
    /// Loss with one layer's route flipped, per (policy, token): one value per layer.
    public var flips: [FlipKey: [Double]] = [:]
    /// Work that failed, by job, with its one-line error.
    public var failures: [String: String] = [:]
    /// The jobs running now, by worker lane.
    public var progress: [String: JobProgress] = [:]
    /// Decodes a token id (for predictions that are not in the text).
    public var vocabulary: (@Sendable (Int) -> String)?

    public init(document: ExplorerDocument, modelName: String, layers: Int) {
        self.document = document
        self.modelName = modelName
        self.layers = layers
    }

    public func run(_ key: PolicyKey) -> PolicyRun? { runs[key] }
}

/// Identifies a flip computation: a policy run and the token whose routes are flipped.
public struct FlipKey: Hashable, Sendable {
    public var policy: PolicyKey
    public var token: Int
    public init(policy: PolicyKey, token: Int) {
        self.policy = policy
        self.token = token
    }
}
