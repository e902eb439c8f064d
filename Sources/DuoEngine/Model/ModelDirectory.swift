import Foundation

/// A model directory and its conventions, known here and nowhere else: `config.json`, the
/// checkpoint, `tokenizer.json`, trained routers as `routers/NAME.safetensors`, and the sample
/// texts bundled beside it (`MODEL/../texts/*.txt`).
public struct ModelDirectory: Sendable, Equatable {
    public let url: URL

    public init(_ url: URL) {
        self.url = url
    }

    public var config: URL { url.appendingPathComponent("config.json") }
    public var tokenizer: URL { url.appendingPathComponent("tokenizer.json") }
    public var routersFolder: URL { url.appendingPathComponent("routers") }

    /// Where the router called `name` lives (or is written).
    public func router(named name: String) -> URL { routersFolder.appendingPathComponent("\(name).safetensors") }

    /// Every router file, sorted by name (none without a routers folder).
    public var routerFiles: [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: routersFolder.path)) ?? []
        return names.filter { $0.hasSuffix(".safetensors") }.sorted().map { routersFolder.appendingPathComponent($0) }
    }

    /// Every router, by name; one that cannot be loaded (corrupt, made for another model, not a
    /// regular file) is an error naming it, not a router silently missing.
    public func routers(for config: ModelConfig) throws -> [(name: String, weights: RouterWeights)] {
        try routerFiles.map { ($0.deletingPathExtension().lastPathComponent, try RouterWeights.read(from: $0, config: config)) }
    }

    /// The sample texts bundled next to the model, sorted.
    public var sampleTexts: [URL] {
        let folder = url.deletingLastPathComponent().appendingPathComponent("texts")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { $0.hasSuffix(".txt") }.sorted().map { folder.appendingPathComponent($0) }
    }
}
