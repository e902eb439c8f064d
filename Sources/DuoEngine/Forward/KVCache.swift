/// Keys and values of every layer for the positions run so far (after RoPE), so later
/// tokens can attend to them without recomputing. Attention runs at every layer for every
/// token (skip bypasses only the FFN), so the cache is always complete.
public final class KVCache: @unchecked Sendable {  // raw buffers, written by its one session
    public let capacity: Int
    public let width: Int
    /// Positions filled so far.
    public internal(set) var count = 0
    let keys: [Tensor]
    let values: [Tensor]

    public init(config: ModelConfig, capacity: Int? = nil) {
        let rows = min(capacity ?? config.maxPositions, config.maxPositions)
        self.capacity = rows
        width = config.kvWidth
        keys = (0..<config.numLayers).map { _ in Tensor(shape: [rows, config.kvWidth]) }
        values = (0..<config.numLayers).map { _ in Tensor(shape: [rows, config.kvWidth]) }
    }

    public func reset() { count = 0 }
}
