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
        model.directory.map { ModelDirectory($0).sampleTexts } ?? []
    }
}
