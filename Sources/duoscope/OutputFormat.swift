import ArgumentParser
import DuoEngine

/// `--format`, one set of names for every command that prints results: `table` (for people at a
/// terminal), `json`, `csv` and `md` (Markdown), plus `snapshot`'s `ansi` and `svg`. The older
/// spellings stay accepted: `markdown` for `md`, `text` and `txt` for `table`. Every other word
/// parses too, so that each command refuses it in its `validate()` with one line naming the
/// formats it has (`check`), rather than with a usage screen.
enum OutputFormat: Hashable, ExpressibleByArgument, CustomStringConvertible {
    case table, json, csv, md, ansi, svg
    /// A word that names no format (refused by `check`).
    case unknown(String)

    static let all: [OutputFormat] = [.table, .json, .csv, .md, .ansi, .svg]
    /// Old spellings, still accepted.
    static let aliases: [(name: String, format: OutputFormat)] = [("markdown", .md), ("text", .table), ("txt", .table)]

    init(argument: String) {
        let word = argument.lowercased()
        self = Self.all.first { $0.description == word } ?? Self.aliases.first { $0.name == word }?.format ?? .unknown(argument)
    }

    var description: String {
        switch self {
        case .table: return "table"
        case .json: return "json"
        case .csv: return "csv"
        case .md: return "md"
        case .ansi: return "ansi"
        case .svg: return "svg"
        case .unknown(let word): return word
        }
    }

    static var defaultCompletionKind: CompletionKind { .list(all.map(\.description)) }

    /// "table, json or csv".
    static func list(_ formats: [OutputFormat]) -> String { or(formats.map(\.description)) }

    private static func or(_ words: [String]) -> String {
        guard let last = words.last, words.count > 1 else { return words.joined() }
        return words.dropLast().joined(separator: ", ") + " or " + last
    }

    /// A command's `--format` help: its formats, what each is when `notes` says, and the old
    /// spellings that still work for them.
    static func help(_ formats: [OutputFormat], notes: [OutputFormat: String] = [:]) -> ArgumentHelp {
        let named = formats.map { format in notes[format].map { "\(format) (\($0))" } ?? format.description }
        let old = formats.compactMap { format -> String? in
            let names = aliases.filter { $0.format == format }.map(\.name)
            return names.isEmpty ? nil : "\(names.joined(separator: " or ")) for \(format)"
        }
        let also = old.isEmpty ? "" : " (older spellings: \(old.joined(separator: ", ")))"
        return ArgumentHelp("Output format: \(or(named))\(also).")
    }

    /// Refuses a format `command` cannot write, in one line that lists the ones it can.
    func check(_ formats: [OutputFormat], command: String) throws {
        guard !formats.contains(self) else { return }
        throw DuoError("--format \(TerminalSafe.escape(description)): \(command) writes \(Self.list(formats))")
    }
}
