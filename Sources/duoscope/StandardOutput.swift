#if canImport(Glibc)
    @preconcurrency import Glibc
#elseif canImport(Darwin)
    @preconcurrency import Darwin
#endif

/// Standard output, line-buffered, so that lines reach a pipe or a log file as they happen
/// (long jobs: train, train-router, eval). Called once, first thing, on the main thread.
enum StandardOutput {
    static func lineBuffered() {
        setvbuf(stdout, nil, _IOLBF, 0)
    }
}
