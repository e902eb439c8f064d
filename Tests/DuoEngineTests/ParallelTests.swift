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

    func testJobsRunEveryIndexOnceWithTheirInnerLoopsOnTheirOwnThread() {
        let lock = NSLock()
        var seen: [Int] = []
        XCTAssertFalse(Parallel.isInsideJob)
        Parallel.forEachJob(40) { job in
            XCTAssertTrue(Parallel.isInsideJob)
            let outer = Thread.current
            var inner: [Int] = []
            Parallel.forEach(8) { i in
                XCTAssertTrue(Thread.current == outer, "an inner loop of a job stays on the job's thread")
                inner.append(i)
            }
            XCTAssertEqual(inner, Array(0..<8))
            lock.lock()
            seen.append(job)
            lock.unlock()
        }
        XCTAssertFalse(Parallel.isInsideJob)
        XCTAssertEqual(seen.sorted(), Array(0..<40))
    }

    func testJobControlKeepsTheFirstErrorAndStops() {
        struct Failure: Error, Equatable { let job: Int }
        var asked = 0
        var reported: [Int] = []
        let jobs = JobControl(
            shouldContinue: {
                asked += 1
                return asked <= 3
            }, progress: { done, _ in reported.append(done) })
        for job in 0..<6 {
            jobs.run {
                jobs.advance(total: 6)
                if job == 1 { throw Failure(job: job) }
            }
        }
        XCTAssertThrowsError(try jobs.finish()) { XCTAssertEqual($0 as? Failure, Failure(job: 1)) }
        XCTAssertEqual(reported, [1, 2], "no job runs after the first failure")
        let stopping = JobControl(shouldContinue: { false }, progress: { _, _ in })
        stopping.run { XCTFail("a stopped search runs no job") }
        XCTAssertThrowsError(try stopping.finish()) { XCTAssertTrue($0 is OracleStopped) }
    }
}
