import Foundation

/// A dense row-major Float32 tensor that owns its storage (zero-initialised).
/// A reference type so that large weights are never copied; hot loops use `data` directly.
public final class Tensor: @unchecked Sendable {  // a raw buffer: parallel loops write disjoint rows (Parallel.forEach)
    public let shape: [Int]
    public let count: Int
    public let data: UnsafeMutablePointer<Float>
    /// The packed copy of a weight (`packedPanels()`), guarded by `packingLock`.
    var packed: PackedWeights?
    static let packingLock = NSLock()

    public init(shape: [Int]) {
        self.shape = shape
        count = shape.reduce(1, *)
        data = Tensor.allocateFloats(max(count, 1))
        data.initialize(repeating: 0, count: max(count, 1))
    }

    /// Room for `count` floats (uninitialised) starting on a cache line, freed by `deallocate()`.
    /// malloc puts a large block 16 bytes past a page boundary, so that every 64-byte vector
    /// load of a weight panel straddled two cache lines (measured in docs/benchmarks.md).
    static func allocateFloats(_ count: Int) -> UnsafeMutablePointer<Float> {
        UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<Float>.stride, alignment: 64)
            .bindMemory(to: Float.self, capacity: count)
    }

    public convenience init(shape: [Int], values: [Float]) {
        self.init(shape: shape)
        precondition(values.count == count, "Tensor: \(values.count) values for shape \(shape)")
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: count) }
    }

    deinit { data.deallocate() }

    /// Rows x columns of a 2-D tensor (a 1-D tensor is one row).
    public var rows: Int { shape.count >= 2 ? shape[0] : 1 }
    public var columns: Int { shape.last ?? 1 }

    public var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: data, count: count) }
    public var array: [Float] { Array(buffer) }

    /// Pointer to the start of row `r` of a 2-D tensor.
    @inline(__always) public func row(_ r: Int) -> UnsafeMutablePointer<Float> { data + r * columns }

    public func zero() { data.update(repeating: 0, count: count) }

    /// A new 2-D tensor of rows `indices` of this one, in that order.
    public func rows(_ indices: [Int]) -> Tensor {
        let gathered = Tensor(shape: [indices.count, columns])
        for (j, i) in indices.enumerated() { gathered.row(j).update(from: row(i), count: columns) }
        return gathered
    }
}
