import DuoEngine
import XCTest

@testable import DuoTraining

final class ParameterListTests: XCTestCase {
    /// Tensors of awkward sizes (empty, one element, larger than a slice) laid end to end.
    private func tensors() -> [Tensor] {
        var rng = SplitMix64(seed: 11)
        return [0, 1, 70_000, 0, 3, 200_001, 17].map { n in
            let t = Tensor(shape: [n])
            for i in 0..<n { t.data[i] = Float.random(in: -2..<2, using: &rng) }
            return t
        }
    }

    func testEveryElementIsVisitedOnceInItsOwnTensor() {
        let list = ParameterList(tensors())
        XCTAssertEqual(list.count, 270_022)
        var visits = list.tensors.map { [Int](repeating: 0, count: $0.count) }
        // Every way of cutting the list: pieces stay inside their tensor and cover the range.
        for cut in [1, 2, 3, 64, 1000] {
            for t in visits.indices { visits[t] = [Int](repeating: 0, count: visits[t].count) }
            for s in 0..<cut {
                list.forEachPiece(of: (list.count * s / cut)..<(list.count * (s + 1) / cut)) { t, r in
                    XCTAssertTrue(r.lowerBound >= 0 && r.upperBound <= list.tensors[t].count && !r.isEmpty)
                    for i in r { visits[t][i] += 1 }
                }
            }
            XCTAssertTrue(visits.allSatisfy { $0.allSatisfy { $0 == 1 } }, "cut into \(cut)")
        }
    }

    func testNormAndZero() {
        let list = ParameterList(tensors())
        var sum = 0.0
        for t in list.tensors { for i in 0..<t.count { sum += Double(t.data[i]) * Double(t.data[i]) } }
        XCTAssertEqual(list.norm(), sum.squareRoot(), accuracy: 1e-5 * sum.squareRoot())
        XCTAssertEqual(GradientClipping.norm(list.tensors), list.norm())
        list.zero()
        XCTAssertTrue(list.tensors.allSatisfy { t in (0..<t.count).allSatisfy { t.data[$0] == 0 } })
        XCTAssertEqual(list.norm(), 0)
    }
}
