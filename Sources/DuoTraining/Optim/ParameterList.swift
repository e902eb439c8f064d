import DuoEngine

/// A list of tensors (a model's parameters, their gradients or moments) walked as if laid end to
/// end, in slices across the cores: most of a model's tensors (q, k, v, o, the small FFN, the
/// norms) are too small to share out one at a time, and a loop per tensor leaves a core idle.
public struct ParameterList {
    public let tensors: [Tensor]
    /// Where each tensor starts end to end, and the total count last.
    let offsets: [Int]

    public init(_ tensors: [Tensor]) {
        self.tensors = tensors
        offsets = tensors.reduce(into: [0]) { $0.append($0.last! + $1.count) }
    }

    public var count: Int { offsets.last! }

    /// Calls `body(tensor, elements)` for the pieces of `range` (end-to-end indices): the
    /// elements of tensor `tensor` that the range covers, in order.
    func forEachPiece(of range: Range<Int>, _ body: (Int, Range<Int>) -> Void) {
        guard !range.isEmpty else { return }
        var tensor = offsets.lastIndex { $0 <= range.lowerBound }!
        var start = range.lowerBound
        while start < range.upperBound {
            let end = min(offsets[tensor + 1], range.upperBound)
            if end > start { body(tensor, (start - offsets[tensor])..<(end - offsets[tensor])) }
            start = end
            tensor += 1
        }
    }

    /// `body(tensor, elements)` over every element once, in slices across the cores.
    func forEachPiece(_ body: (Int, Range<Int>) -> Void) {
        Parallel.forEachSlice(count, minimum: 1 << 16) { range in forEachPiece(of: range, body) }
    }

    /// Sets every element to 0.
    public func zero() {
        forEachPiece { t, r in (tensors[t].data + r.lowerBound).update(repeating: 0, count: r.count) }
    }

    /// The L2 norm of all the elements together: fixed slices of the list, each summed by
    /// `Ops.dot`, added in order, so the result does not depend on the number of cores or on timing.
    public func norm() -> Double {
        let slices = 64
        var partials = [Double](repeating: 0, count: slices)
        partials.withUnsafeMutableBufferPointer { out in
            Parallel.forEach(slices) { s in
                var sum = 0.0
                forEachPiece(of: (count * s / slices)..<(count * (s + 1) / slices)) { t, r in
                    let x = tensors[t].data + r.lowerBound
                    sum += Double(Ops.dot(x, x, count: r.count))
                }
                out[s] = sum
            }
        }
        return partials.reduce(0, +).squareRoot()
    }
}
