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

    /// The worker team behind `Parallel.forEach`: every index exactly once over many short loops
    /// back to back (a helper that wakes late must not run an index of the next loop with the
    /// previous loop's body), with loops started from several threads at once and nested loops
    /// (which go to Dispatch while the team is busy), and after the helpers have gone to sleep.
    func testWorkerTeamRunsEveryIndexOnceUnderBackToBackConcurrentAndNestedLoops() {
        @Sendable func checkLoops(_ loops: Int, count: Int, nested: Bool) {
            for loop in 0..<loops {
                let hits = UnsafeMutableBufferPointer<Int>.allocate(capacity: count)
                hits.initialize(repeating: 0)
                defer { hits.deallocate() }
                let shared = UncheckedSendable(hits)
                Parallel.forEach(count) { i in
                    shared.value[i] += loop + 1
                    if nested {
                        var inner = [Int](repeating: 0, count: 3)
                        inner.withUnsafeMutableBufferPointer { p in
                            let innerShared = UncheckedSendable(p)
                            Parallel.forEach(3) { innerShared.value[$0] += 1 }
                        }
                        XCTAssertEqual(inner, [1, 1, 1])
                    }
                }
                XCTAssertTrue(hits.allSatisfy { $0 == loop + 1 }, "loop \(loop): every index once")
            }
        }
        checkLoops(20_000, count: 2, nested: false)
        checkLoops(2_000, count: 37, nested: false)
        checkLoops(200, count: 9, nested: true)
        DispatchQueue.concurrentPerform(iterations: 3) { _ in checkLoops(2_000, count: 5, nested: false) }
        usleep(20_000)  // the helpers sleep after 100 microseconds without a loop
        checkLoops(10, count: 4, nested: false)
    }
}

extension ParallelTests {
    /// A team's helpers take part in its very first loop. They used to read the loop generation
    /// when their thread got going, after the loop that created the team had begun, and slept
    /// through it: the first loop of a process (e.g. all 100 random trials of `route
    /// --policy random@4`) ran on one core. The team is kept for the life of the process: its
    /// helper threads never end.
    func testAFreshTeamRunsItsFirstLoopOnMoreThanOneThread() {
        let team = WorkerTeam(helpers: 1)
        Self.teams.append(team)
        let lock = NSLock()
        var threads = Set<UInt>()
        XCTAssertTrue(
            team.run(8) { _ in
                usleep(10_000)
                lock.lock()
                threads.insert(UInt(bitPattern: Int(pthread_self())))
                lock.unlock()
            })
        XCTAssertEqual(threads.count, 2, "the helper slept through the team's first loop")
    }

    nonisolated(unsafe) private static var teams: [WorkerTeam] = []
}
