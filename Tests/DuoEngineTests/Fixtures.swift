import Foundation
import TestSupport
import XCTest

@testable import DuoEngine

/// Paths and loaders for the committed fixtures under Tests/Fixtures (written by scripts/).
enum Fixtures {
    static let root = FixturePaths.root

    static func url(_ name: String) -> URL { root.appendingPathComponent(name) }

    static let modelNames = ["tiny-model", "tiny-model-f16-sharded", "tiny-model-bf16-llama"]

    nonisolated(unsafe) private static var cache: [String: DuoModel] = [:]
    private static let lock = NSLock()

    static func model(_ name: String = "tiny-model") throws -> DuoModel {
        lock.lock()
        defer { lock.unlock() }
        if let model = cache[name] { return model }
        let model = try DuoModel.load(directory: url(name))
        cache[name] = model
        return model
    }

    struct GoldenCase: Decodable {
        let name: String
        let routes: [[Int]]
        let losses: [Double]
        let mean_loss: Double
        let logits_first3: [[Double]]?
        let top5_last: [Int]?

        var matrix: RouteMatrix { RouteMatrix(rows: routes.map { $0.map { Route(rawValue: UInt8($0))! } }) }
    }

    struct GoldenText: Decodable {
        let text: String
        let ids: [Int]
        let cases: [GoldenCase]
    }

    static func golden() throws -> [String: [GoldenText]] {
        try JSONDecoder().decode([String: [GoldenText]].self, from: Data(contentsOf: url("golden.json")))
    }

    /// A fresh temporary directory, removed at the end of the test.
    static func temporaryDirectory(_ test: XCTestCase) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("duoscope-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }
}
