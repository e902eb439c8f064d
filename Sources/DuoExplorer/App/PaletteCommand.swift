import DuoEngine
import Foundation

/// A primary or partner policy as typed after `:policy` or `:compare`, in the policy grammar
/// (`PolicyKey.parse`): the kind, and whatever else the text gave (`oracle@4:fixed` gives the
/// budget and the context, `random@6x50` the trials); what it leaves out stays as it is.
struct PolicySetting: Equatable, Sendable {
    var kind: PolicyKind
    /// The budget, when given (`@K`).
    var k: Int?
    /// The oracle's context, when given (`:causal`, `:fixed`).
    var context: ContextMode?
    /// Trials behind best-of-N, when given (`xN`).
    var trials: Int?
}

/// What a command typed after `:` does: what has no key of its own.
enum PaletteCommand: Equatable, Sendable {
    /// `k N`: the budget, N big layers per token.
    case budget(Int)
    /// `trials N`: trials behind the random best-of-N baseline.
    case trials(Int)
    /// `open PATH`: a text file, as the picker opens one.
    case open(String)
    /// `router NAME|PATH`: the router the router policy uses at every k; nil (`router auto`):
    /// every router in the model's routers/ folder, the one trained nearest the budget.
    case router(String?)
    /// `policy P` and `compare P`: the primary and the partner.
    case policy(PolicySetting)
    case compare(PolicySetting)
    /// `gen N`: continuations of up to N tokens.
    case generationLength(Int)
    /// `temp T [SEED]`: sample continuations at temperature T (0: greedy).
    case temperature(Double, seed: UInt64?)
    /// `colors DEPTH`: truecolor, 256, 16, 8, none (glyphs) or auto (nil: the terminal's most).
    case colors(ColorDepth?)
    /// `help`: the list of commands.
    case help

    /// The largest number of random trials (as in the policy grammar's `random@KxN`).
    static let maximumTrials = 10_000

    /// Parses one command line for a model of `layers` layers; every error is one line.
    static func parse(_ line: String, layers: Int) throws -> PaletteCommand {
        let text = line.trimmingCharacters(in: .whitespaces)
        let word = String(text.prefix { !$0.isWhitespace })
        let argument = text.dropFirst(word.count).trimmingCharacters(in: .whitespaces)
        guard !word.isEmpty else { throw DuoError("no command (\(names))") }
        guard let entry = table.first(where: { $0.name == word.lowercased() }) else {
            throw DuoError("unknown command \"\(TerminalSafe.escape(word))\" (\(names))")
        }
        return try entry.parse(argument, layers)
    }

    /// One row of the command table: how the command is written and what it does (shown by
    /// `:help` and the `?` overlay) and how its argument is read.
    struct Entry: Sendable {
        let name: String
        /// What follows the name, e.g. "N" (empty: nothing).
        let argument: String
        let help: String
        let parse: @Sendable (_ argument: String, _ layers: Int) throws -> PaletteCommand

        /// "k N", "help".
        var usage: String { argument.isEmpty ? name : "\(name) \(argument)" }
    }

    /// The commands, in the order help lists them; the one table parsing and help read.
    static let table: [Entry] = [
        Entry(name: "k", argument: "N", help: "budget: N big layers per token (0 to the model's layers)") { argument, layers in
            .budget(try number(argument, of: "k", in: 0...layers, what: "a number of big layers"))
        },
        Entry(name: "trials", argument: "N", help: "trials behind random best-of-N (1 to 10000)") { argument, _ in
            .trials(try number(argument, of: "trials", in: 1...maximumTrials, what: "a number of trials"))
        },
        Entry(name: "open", argument: "PATH", help: "open a text file") { argument, _ in
            .open(try path(argument, of: "open", what: "the path of a text file"))
        },
        Entry(name: "router", argument: "FILE", help: "router at every k: a file, a name in routers/, or auto") { argument, _ in
            let name = try path(argument, of: "router", what: "a router file, a name in the model's routers/ folder or auto")
            return .router(name == "auto" ? nil : name)
        },
        Entry(name: "policy", argument: "P", help: "primary policy, e.g. oracle@4:fixed, random@4x50") { argument, layers in
            .policy(try policy(argument, of: "policy", layers: layers))
        },
        Entry(name: "compare", argument: "P", help: "partner in Compare, e.g. router, fixed@4 (@K sets k)") { argument, layers in
            .compare(try policy(argument, of: "compare", layers: layers))
        },
        Entry(name: "gen", argument: "N", help: "g continues by up to N tokens (1 to 4096)") { argument, _ in
            .generationLength(try number(argument, of: "gen", in: 1...4096, what: "a number of tokens"))
        },
        Entry(name: "temp", argument: "T [S]", help: "g samples at temperature T, seed S (0: greedy)") { argument, _ in
            let parts = argument.split(separator: " ", omittingEmptySubsequences: true)
            guard (1...2).contains(parts.count), let t = Double(parts[0]), t.isFinite, (0...10).contains(t) else {
                throw DuoError("temp: expected a temperature T in 0...10 and an optional seed, got \"\(TerminalSafe.escape(argument))\"")
            }
            guard parts.count == 1 || UInt64(parts[1]) != nil else {
                throw DuoError("temp: the seed \"\(TerminalSafe.escape(String(parts[1])))\" is not a non-negative integer")
            }
            return .temperature(t, seed: parts.count == 2 ? UInt64(parts[1]) : nil)
        },
        Entry(name: "colors", argument: "D", help: "colors: truecolor, 256, 16, 8, none (glyphs) or auto") { argument, _ in
            if argument.lowercased() == "auto" { return .colors(nil) }
            guard let depth = ColorDepth(rawValue: argument.lowercased()) else {
                throw DuoError("colors: expected truecolor, 256, 16, 8, none or auto, got \"\(TerminalSafe.escape(argument))\"")
            }
            return .colors(depth)
        },
        Entry(name: "help", argument: "", help: "this list of commands") { argument, _ in
            guard argument.isEmpty else { throw DuoError("help takes nothing after it") }
            return .help
        },
    ]

    /// "commands: k, trials, ..." for error messages.
    static var names: String { "commands: " + table.map(\.name).joined(separator: ", ") }

    private static func number(_ argument: String, of command: String, in range: ClosedRange<Int>, what: String) throws -> Int {
        guard let n = Int(argument), range.contains(n) else {
            let got = argument.isEmpty ? "nothing" : "\"\(TerminalSafe.escape(argument))\""
            throw DuoError("\(command): expected \(what) in \(range.lowerBound)...\(range.upperBound), got \(got)")
        }
        return n
    }

    /// The rest of the line, without one pair of surrounding quotes (for paths with spaces at the ends).
    private static func path(_ argument: String, of command: String, what: String) throws -> String {
        var path = argument
        if path.count >= 2, let first = path.first, first == "\"" || first == "'", path.last == first {
            path = String(path.dropFirst().dropLast())
        }
        guard !path.isEmpty else { throw DuoError("\(command): expected \(what)") }
        return path
    }

    private static func policy(_ argument: String, of command: String, layers: Int) throws -> PolicySetting {
        let label = "\(command) \"\(TerminalSafe.escape(argument))\""
        guard !argument.isEmpty else { throw DuoError("\(command): expected a policy: \(PolicyKey.grammar)") }
        let key = try PolicyKey.parse(argument, defaultK: 0, label: label)
        let givesK = argument.contains("@")
        if givesK, key.k > layers { throw DuoError("\(label): k = \(key.k) is outside 0...\(layers)") }
        return PolicySetting(
            kind: key.kind, k: givesK ? key.k : nil, context: argument.contains(":") ? key.context : nil, trials: key.trials)
    }

    /// A path as typed: `~` is the home folder, a relative path starts in the current folder.
    static func fileURL(_ path: String) -> URL {
        URL(fileURLWithPath: NSString(string: path).expandingTildeInPath)
    }
}
