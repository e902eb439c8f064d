import Foundation
import TestSupport
import XCTest

/// Runs the built `duoscope` binary and captures its exit status and output.
struct CLIRunner {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        /// The run was killed after `timeout` seconds.
        var timedOut = false
    }

    static var binary: URL {
        // The test bundle sits beside the products (.build/<config>/duoscopePackageTests.xctest).
        var dir = Bundle.main.bundleURL
        for _ in 0..<3 {
            let candidate = dir.appendingPathComponent("duoscope")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            let candidate = bundle.bundleURL.deletingLastPathComponent().appendingPathComponent("duoscope")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return Bundle.main.bundleURL.appendingPathComponent("duoscope")
    }

    static let fixtures = FixturePaths.root

    @discardableResult
    static func run(
        _ arguments: [String], stdin: Data? = nil, timeout: TimeInterval = 300,
        environment: [String: String] = [:]
    ) throws -> Result {
        let process = Process()
        // Results go to a folder of this run's own (removed after it) unless the caller names one,
        // so no test reads another's results or writes into the user's cache.
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("duoscope-cli-cache-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: cache) }
        let isolated = ["DUOSCOPE_CACHE_DIR": cache.path].merging(environment) { _, given in given }
        process.environment = ProcessInfo.processInfo.environment.merging(isolated) { _, new in new }
        process.executableURL = binary
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        if let stdin {
            let input = Pipe()
            process.standardInput = input
            try process.run()
            input.fileHandleForWriting.write(stdin)
            try input.fileHandleForWriting.close()
        } else {
            process.standardInput = FileHandle.nullDevice
            try process.run()
        }
        let killed = LockedFlag()
        let killer = DispatchWorkItem {
            guard process.isRunning else { return }
            killed.set()
            kill(process.processIdentifier, SIGKILL)
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: killer)
        defer { killer.cancel() }
        let stdoutData = out.fileHandleForReading.readDataToEndOfFile()
        let stderrData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, stdout: String(decoding: stdoutData, as: UTF8.self),
            stderr: String(decoding: stderrData, as: UTF8.self), timedOut: killed.isSet)
    }
}

/// A flag set from another thread.
final class LockedFlag: @unchecked Sendable {  // `value` is guarded by `lock`
    private let lock = NSLock()
    private var value = false
    func set() {
        lock.lock()
        value = true
        lock.unlock()
    }
    var isSet: Bool {
        lock.lock()
        defer { lock.unlock() }
        return value
    }
}
