import CKernels
import Foundation
import Synchronization

/// The helper threads behind `Parallel`'s loops: `Parallel.workers - 1` threads that stay awake
/// for a moment after each loop, so that the next one (a prefill runs one per matrix product,
/// tens of microseconds apart) starts on every core at once instead of waiting for a sleeping
/// thread to be woken. They spin on one atomic word for up to `spinSeconds`, then sleep on a
/// condition variable until the next loop. One loop runs on the team at a time; a loop started
/// while it is busy (from another thread, or nested inside a loop) goes to Dispatch instead.
///
/// The loop's state is one 64-bit word, `ticket`: a generation (24 bits), the iteration count
/// (20 bits) and the next unclaimed iteration (20 bits). A thread claims an iteration by a
/// compare-and-swap on the word it read, so a helper that wakes late can never claim an
/// iteration of a later loop with an earlier loop's body: the body is read only after a claim
/// succeeds, and the caller waits until every claimed iteration has finished before it returns.
final class WorkerTeam: @unchecked Sendable {  // `body` is guarded by the ticket protocol above
    /// The team, when there is more than one core.
    static let shared: WorkerTeam? = Parallel.workers > 1 ? WorkerTeam(helpers: Parallel.workers - 1) : nil

    /// Loops with more iterations than this go to Dispatch (the count has 20 bits in `ticket`).
    static let maximumCount = (1 << countBits) - 1
    private static let countBits: UInt64 = 20
    private static let mask: UInt64 = (1 << countBits) - 1
    /// The generation's place in `ticket`, above the count and the next index (24 bits).
    private static let generationShift = 2 * countBits

    /// The generation of a `ticket` word.
    private static func generation(of word: UInt64) -> UInt64 { word >> generationShift }
    /// How long a helper spins for the next loop before it sleeps. A training step has serial
    /// stretches of a few hundred microseconds between its loops (copies, zeroing): a helper that
    /// slept through them started the next loop late. 1 ms measured 3-7% faster steps than
    /// 100 µs (one process, interleaved, docs/benchmarks.md); 3 and 10 ms no faster than 1.
    private static let spinSeconds = 1e-3

    private let ticket = Atomic<UInt64>(0)
    private let unfinished = Atomic<Int>(0)
    private let busy = Atomic<Bool>(false)
    private let sleepers = Atomic<Int>(0)
    private var body: ((Int) -> Void)?
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    init(helpers: Int) {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(wake, nil)
        // A helper starts from the generation of the team's creation, not from what it reads
        // when its thread gets going: the first loop (often the one that created the team) may
        // have begun by then, and a helper that took its generation as already seen slept
        // through it (the first loop of a process, e.g. all 100 random trials, ran on one core).
        let created = Self.generation(of: ticket.load(ordering: .acquiring))
        for _ in 0..<helpers {
            let thread = Thread { [unowned self] in helperLoop(seen: created) }
            thread.stackSize = 8 << 20
            thread.name = "duoscope-worker"
            thread.start()
        }
    }

    /// Runs `body(i)` for i in 0..<count on the calling thread and the helpers; returns false
    /// (running nothing) when the team is busy or `count` is too large.
    func run(_ count: Int, _ body: (Int) -> Void) -> Bool {
        guard count <= Self.maximumCount, busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged
        else { return false }
        defer { busy.store(false, ordering: .releasing) }
        withoutActuallyEscaping(body) { body in
            self.body = body
            unfinished.store(count, ordering: .relaxed)
            // The next generation, wrapping within its 24 bits.
            let generation = (Self.generation(of: ticket.load(ordering: .relaxed)) &+ 1) & (UInt64.max >> Self.generationShift)
            let start = (generation << Self.generationShift) | (UInt64(count) << Self.countBits)
            ticket.store(start, ordering: .sequentiallyConsistent)
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                pthread_mutex_lock(mutex)
                pthread_cond_broadcast(wake)
                pthread_mutex_unlock(mutex)
            }
            work(generation: generation)
            while unfinished.load(ordering: .acquiring) > 0 { duo_spin_pause() }
            self.body = nil
        }
        return true
    }

    /// Claims and runs iterations of the loop `generation` until none is left.
    private func work(generation: UInt64) {
        var current = ticket.load(ordering: .acquiring)
        while Self.generation(of: current) == generation {
            let next = current & Self.mask
            guard next < (current >> Self.countBits) & Self.mask else { return }
            let (exchanged, original) = ticket.compareExchange(expected: current, desired: current + 1, ordering: .acquiringAndReleasing)
            if exchanged {
                invoke(Int(next))
                unfinished.subtract(1, ordering: .releasing)
                current = ticket.load(ordering: .acquiring)
            } else {
                current = original
            }
        }
    }

    /// Calls the loop's body; its own function so that the helper's reference to the closure
    /// ends before the iteration is counted finished (the caller then clears `body`).
    @inline(never)
    private func invoke(_ i: Int) { body!(i) }

    private func helperLoop(seen initial: UInt64) {
        var seen = initial
        while true {
            var spins = 0
            var deadline = 0.0
            var generation = Self.generation(of: ticket.load(ordering: .acquiring))
            while generation == seen {
                spins += 1
                if spins & 63 == 0 {
                    let now = Self.seconds()
                    if deadline == 0 {
                        deadline = now + Self.spinSeconds
                    } else if now > deadline {
                        sleep(whileGeneration: seen)
                        deadline = 0
                    }
                }
                duo_spin_pause()
                generation = Self.generation(of: ticket.load(ordering: .acquiring))
            }
            seen = generation
            work(generation: generation)
        }
    }

    private func sleep(whileGeneration seen: UInt64) {
        pthread_mutex_lock(mutex)
        sleepers.add(1, ordering: .sequentiallyConsistent)
        while Self.generation(of: ticket.load(ordering: .sequentiallyConsistent)) == seen {
            pthread_cond_wait(wake, mutex)
        }
        sleepers.subtract(1, ordering: .sequentiallyConsistent)
        pthread_mutex_unlock(mutex)
    }

    private static func seconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
    }
}
