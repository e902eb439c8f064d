import Foundation

/// Every failure duoscope reports to a user: one line naming the file (when there is one) and the problem.
public struct DuoError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file or input the problem is in (a path, or a label such as "--text").
    public var file: String?
    /// What is wrong, in one line.
    public var problem: String

    public init(_ problem: String, file: String? = nil) {
        self.file = file
        self.problem = problem
    }

    public init(file: URL, _ problem: String) {
        self.init(problem, file: file.path)
    }

    /// The one-line message: `FILE: PROBLEM`, newlines flattened, and anything else that could
    /// act on a terminal (a path or a quoted value holding an escape sequence) made visible.
    public var description: String {
        let line = TerminalSafe.escapeControls(problem.replacingOccurrences(of: "\n", with: " "))
        guard let file else { return line }
        return "\(TerminalSafe.escapeControls(file)): \(line)"
    }
}
