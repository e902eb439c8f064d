import Foundation

/// Where the committed fixtures live (Tests/Fixtures, written by scripts/), for every test target.
public enum FixturePaths {
    /// Tests/Fixtures.
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")
    /// The repository's root.
    public static let repository = root.deletingLastPathComponent().deletingLastPathComponent()

    /// A fixture by its path under Tests/Fixtures (e.g. "tiny-model", "hf-checkpoints/qwen2").
    public static func url(_ path: String) -> URL { root.appendingPathComponent(path) }

    /// A JSON fixture decoded; a fixture that cannot be read stops the tests with its path and
    /// the reason (for fixtures held in a `static let`).
    public static func json<T: Decodable>(_ type: T.Type, at file: URL) -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(contentsOf: file))
        } catch {
            fatalError("cannot read \(file.path): \(error)")
        }
    }
}
