import DuoEngine
import Foundation

/// A text the user can open from the picker.
public enum TextChoice: Sendable, Equatable {
    case file(URL)
    /// Prompt for a typed or pasted text.
    case typed

    public var label: String {
        switch self {
        case .file(let url): return url.lastPathComponent
        case .typed: return "type or paste a text…"
        }
    }

    /// The sample texts bundled next to a model (MODEL/../texts/*.txt), sorted.
    public static func samples(near model: DuoModel) -> [URL] {
        guard let dir = model.directory?.deletingLastPathComponent().appendingPathComponent("texts"),
            let names = try? FileManager.default.contentsOfDirectory(atPath: dir.path)
        else { return [] }
        return names.filter { $0.hasSuffix(".txt") }.sorted().map { dir.appendingPathComponent($0) }
    }
}
