import Foundation
import XCTest

@testable import DuoEngine

/// OpenBLAS's process-wide thread count under concurrent single-threaded sections (finding 7 of
/// the reliability audit: each caller saved and restored it, so two lanes could leave BLAS stuck
/// at one thread).
final class ParallelTests: XCTestCase {
    func testConcurrentSingleThreadedSectionsRestoreTheThreadCount() {
        let before = Parallel.blasThreads
        for _ in 0..<20 {
            DispatchQueue.concurrentPerform(iterations: 16) { i in
                Parallel.withSingleThreadedBLAS {
                    XCTAssertEqual(Parallel.blasThreads, 1)
                    usleep(UInt32(50 + 37 * (i % 5)))
                    Parallel.withSingleThreadedBLAS { XCTAssertEqual(Parallel.blasThreads, 1) }
                }
            }
            XCTAssertEqual(Parallel.blasThreads, before)
        }
    }
}
