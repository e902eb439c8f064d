import Foundation
import XCTest

@testable import DuoEngine

/// The on-disk result cache: round trips, and every way an entry can be wrong is a miss.
final class ResultCacheTests: XCTestCase {
    struct Value: Codable, Equatable {
        var name: String
        var losses: [Double]
    }

    private func cache() throws -> ResultCache {
        ResultCache(directory: try Fixtures.temporaryDirectory(self).appendingPathComponent("cache"))
    }

    private func entries(_ cache: ResultCache) throws -> [URL] {
        try FileManager.default.contentsOfDirectory(at: cache.directory, includingPropertiesForKeys: nil)
    }

    func testRoundTripAndMisses() throws {
        let cache = try cache()
        let value = Value(name: "oracle@4", losses: [1.25, 0.5, .pi])
        XCTAssertNil(cache.value(Value.self, for: ["a", "1"]))
        cache.store(value, for: ["a", "1"])
        XCTAssertEqual(cache.value(Value.self, for: ["a", "1"]), value)
        XCTAssertNil(cache.value(Value.self, for: ["a", "2"]))
        XCTAssertNil(cache.value(Value.self, for: ["a1"]), "keys are compared part by part")
        XCTAssertEqual(try entries(cache).count, 1)
        // Another build of duoscope never reads this build's results.
        XCTAssertNil(ResultCache(directory: cache.directory, build: "another build").value(Value.self, for: ["a", "1"]))
        XCTAssertEqual(ResultCache(directory: cache.directory).value(Value.self, for: ["a", "1"]), value)
    }

    func testCorruptTruncatedAndForeignEntriesAreMisses() throws {
        let cache = try cache()
        cache.store(Value(name: "x", losses: [1, 2, 3]), for: ["k"])
        let file = try XCTUnwrap(try entries(cache).first)
        let good = try Data(contentsOf: file)
        // A flipped digit inside the JSON: the checksum no longer matches.
        var flipped = good
        let index = try XCTUnwrap(flipped.lastIndex(of: UInt8(ascii: "2")))
        flipped[index] = UInt8(ascii: "7")
        for bad in [flipped, good.prefix(good.count / 2), Data(), Data("garbage".utf8)] {
            try bad.write(to: file)
            XCTAssertNil(cache.value(Value.self, for: ["k"]))
            XCTAssertFalse(FileManager.default.fileExists(atPath: file.path), "a corrupt entry is removed")
        }
        // Another key's entry under this key's file name (a hash collision) is not returned.
        cache.store(Value(name: "other", losses: []), for: ["other"])
        let otherFile = try XCTUnwrap(try entries(cache).first)
        try FileManager.default.moveItem(at: otherFile, to: file)
        XCTAssertNil(cache.value(Value.self, for: ["k"]))
        // A FIFO where an entry belongs is a miss, not a hang.
        try FileManager.default.removeItem(at: file)
        XCTAssertEqual(mkfifo(file.path, 0o644), 0)
        XCTAssertNil(cache.value(Value.self, for: ["k"]))
    }

    func testConcurrentWritersLeaveOneWholeEntry() throws {
        let cache = try cache()
        let values = (0..<16).map { Value(name: "writer \($0)", losses: Array(repeating: Double($0), count: 5_000)) }
        DispatchQueue.concurrentPerform(iterations: 64) { i in
            cache.store(values[i % 16], for: ["shared"])
            if let read = cache.value(Value.self, for: ["shared"]) { XCTAssertTrue(values.contains(read)) }
        }
        XCTAssertTrue(values.contains(try XCTUnwrap(cache.value(Value.self, for: ["shared"]))))
        XCTAssertEqual(try entries(cache).count, 1, "no temporary files are left behind")
    }

    func testPruningRemovesTheLeastRecentlyUsedDownToThreeQuartersOfTheLimit() throws {
        let roomy = try cache()
        let value = Value(name: "entry", losses: Array(repeating: 0.25, count: 100))
        for i in 0..<10 { roomy.store(value, for: ["entry", "\(i)"]) }
        let files = try entries(roomy)
        XCTAssertEqual(files.count, 10)
        let bytes = try XCTUnwrap(try files[0].resourceValues(forKeys: [.fileSizeKey]).fileSize)
        // Entry i last used i hours ago; entry 9 is then read, which renews it.
        func file(_ i: Int) throws -> URL {
            try XCTUnwrap(files.first { (try? Data(contentsOf: $0))?.range(of: Data("\"\(i)\"]".utf8)) != nil })
        }
        for i in 0..<10 {
            try FileManager.default.setAttributes(
                [.modificationDate: Date(timeIntervalSinceNow: -3600 * Double(i + 1))], ofItemAtPath: try file(i).path)
        }
        let renewed = try file(9)
        XCTAssertEqual(roomy.value(Value.self, for: ["entry", "9"]), value)
        // Temporary files of writers: one left two hours ago, one being written now.
        let stale = roomy.directory.appendingPathComponent(".abc.json.tmp-1-2")
        let fresh = roomy.directory.appendingPathComponent(".def.json.tmp-3-4")
        for temporary in [stale, fresh] { try Data("partial".utf8).write(to: temporary) }
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -7200)], ofItemAtPath: stale.path)

        // A cache that holds at most eight entries stores an eleventh: it prunes to six.
        let bounded = ResultCache(directory: roomy.directory, byteLimit: 8 * bytes)
        bounded.store(value, for: ["entry", "x"])
        XCTAssertEqual(bounded.value(Value.self, for: ["entry", "x"]), value)
        XCTAssertEqual(bounded.value(Value.self, for: ["entry", "9"]), value, "the entry read last is kept")
        XCTAssertTrue(FileManager.default.fileExists(atPath: renewed.path))
        for i in 0..<4 { XCTAssertEqual(bounded.value(Value.self, for: ["entry", "\(i)"]), value, "entry \(i) is kept") }
        for i in 4..<9 { XCTAssertNil(bounded.value(Value.self, for: ["entry", "\(i)"]), "entry \(i), the least recently used, is gone") }
        XCTAssertFalse(FileManager.default.fileExists(atPath: stale.path), "a writer's file of two hours ago is removed")
        XCTAssertTrue(FileManager.default.fileExists(atPath: fresh.path), "a file being written is left alone")
        XCTAssertEqual(try entries(bounded).filter { $0.pathExtension == "json" }.count, 6)
    }

    func testModelFingerprintFollowsTheWeights() throws {
        let a = try Fixtures.model("tiny-model")
        XCTAssertEqual(a.fingerprint, try DuoModel.load(directory: Fixtures.url("tiny-model")).fingerprint)
        XCTAssertNotEqual(a.fingerprint, try Fixtures.model("tiny-model-f16-sharded").fingerprint)
        let weights = RandomInit.weights(a.config, seed: 1)
        let b = DuoModel(config: a.config, weights: weights, tokenizer: nil)
        let before = b.fingerprint
        let c = DuoModel(config: a.config, weights: weights, tokenizer: nil)
        weights.layers[2].big.up.data[17] += 1e-3
        XCTAssertNotEqual(before, c.fingerprint)
    }
}
