/// Float buffers reused across the iterations of a loop whose temporaries change size (the
/// oracle tree's frontier grows every layer): each slot keeps its largest allocation, so after
/// the first few searches nothing is allocated, zeroed or faulted in. Contents are left as the
/// last user wrote them. One owner at a time (not thread-safe).
final class ScratchBuffers {
    private var buffers: [UnsafeMutablePointer<Float>?]
    private var capacities: [Int]

    init(slots: Int) {
        buffers = Array(repeating: nil, count: slots)
        capacities = Array(repeating: 0, count: slots)
    }

    deinit { for buffer in buffers { buffer?.deallocate() } }

    /// Slot `slot` with room for at least `count` floats (its earlier contents are not kept
    /// when it has to grow).
    func buffer(_ slot: Int, count: Int) -> UnsafeMutablePointer<Float> {
        if let buffer = buffers[slot], capacities[slot] >= count { return buffer }
        buffers[slot]?.deallocate()
        // Some headroom, so that a frontier a few rows larger than the last does not reallocate.
        let capacity = max(count, capacities[slot] + capacities[slot] / 2, 1)
        let buffer = Tensor.allocateFloats(capacity)
        buffers[slot] = buffer
        capacities[slot] = capacity
        return buffer
    }
}
