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
