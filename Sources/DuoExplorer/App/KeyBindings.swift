import DuoEngine

/// What a key does in the explorer's main screen.
enum ExplorerAction: Equatable, Sendable {
    case quit, cancelGeneration
    case tokenLeft, tokenRight, layerUp, layerDown, pageBack, pageForward, firstToken, lastToken
    case nextView, previousView
    case view(ViewKind)
    case primary(PolicyKind)
    case partner(PolicyKind)
    case swapPolicies
    case budgetUp, budgetDown, toggleContext, toggleMetric, transpose
    case help, find, findNext, openText, typeText, command, generate, export
}

/// Where a binding's short hint is shown.
enum HintPlace: Sendable {
    /// The tab bar's right end, after "k=K".
    case tabBar
    /// The status line's right end.
    case statusLine
    /// The status line's right end, among the `statusLine` hints, where the line has room.
    case statusLineIfRoom
}

/// One row of the key table: the keys, how the help overlay writes them, what they do (given
/// the key pressed), the help text, and the short hint shown on screen (if any). The table drives
/// the controller, the `?` overlay and the hints, as lazygit's does, so they cannot disagree.
struct KeyBinding: Sendable {
    let keys: [KeyPress]
    let label: String
    let help: String
    let hint: (text: String, place: HintPlace)?
    let action: (@Sendable (KeyPress) -> ExplorerAction)?

    init(
        _ keys: [KeyPress], _ label: String, _ help: String, hint: (String, HintPlace)? = nil,
        action: (@Sendable (KeyPress) -> ExplorerAction)?
    ) {
        self.keys = keys
        self.label = label
        self.help = help
        self.hint = hint.map { (text: $0.0, place: $0.1) }
        self.action = action
    }

    init(_ keys: [KeyPress], _ label: String, _ help: String, hint: (String, HintPlace)? = nil, _ action: ExplorerAction) {
        self.init(keys, label, help, hint: hint, action: { _ in action })
    }
}

enum KeyBindings {
    private static func characters(_ text: String) -> [KeyPress] { text.map { KeyPress.character($0) } }
    /// The catalogue's policy keys, e.g. "o r f x b s".
    private static func policyKeys(_ separator: String) -> String {
        PolicyKind.allCases.map { String($0.key) }.joined(separator: separator)
    }

    /// The key table, in the order the help overlay lists it. A row may bind several keys, each
    /// to its own action (e.g. ← and → in one row).
    static let all: [KeyBinding] = [
        KeyBinding(
            [.tab, .backTab] + characters("12345"), "Tab / 1-5", "switch view: Routes, Compare, Difficulty, Layers, Summary",
            hint: ("1-5 views", .statusLine),
            action: { key in
                if key == .backTab { return .previousView }
                guard case .character(let c) = key, let n = Int(String(c)), let view = ViewKind(rawValue: n - 1) else { return .nextView }
                return .view(view)
            }),
        KeyBinding(
            [.left, .character("h"), .right, .character("l")], "← → h l", "previous / next token",
            action: { $0 == .left || $0 == .character("h") ? .tokenLeft : .tokenRight }),
        KeyBinding(
            [.up, .character("k"), .down, .character("j")], "↑ ↓ k j", "previous / next layer",
            action: { $0 == .up || $0 == .character("k") ? .layerUp : .layerDown }),
        KeyBinding(
            [.pageUp, .pageDown], "PgUp PgDn", "a page of tokens back / forward", action: { $0 == .pageUp ? .pageBack : .pageForward }),
        KeyBinding([.home, .end], "Home End", "first / last token", action: { $0 == .home ? .firstToken : .lastToken }),
        KeyBinding([], "mouse", "click a token, a cell, a layer or a tab", action: nil),
        KeyBinding(
            PolicyKind.allCases.map { .character($0.key) }, policyKeys(" "),
            "primary: " + PolicyKind.allCases.map(\.rawValue).joined(separator: ", "), hint: (policyKeys("/") + " policy", .statusLine),
            action: { key in
                guard case .character(let c) = key, let kind = PolicyKind(key: c) else { return .primary(.oracle) }
                return .primary(kind)
            }),
        KeyBinding(
            PolicyKind.allCases.map { .character(Character($0.key.uppercased())) }, policyKeys(" ").uppercased(),
            "partner in Compare (default: oracle vs router)", hint: ("O/R… partner", .statusLine),
            action: { key in
                guard case .character(let c) = key, let kind = PolicyKind(key: Character(c.lowercased())) else { return .partner(.router) }
                return .partner(kind)
            }),
        KeyBinding([.character(" ")], "space", "swap primary and partner (toggle oracle / router)", .swapPolicies),
        KeyBinding(
            characters("+=-_"), "+ -", "budget k: big layers per token", hint: ("[+/-] budget", .tabBar),
            action: { $0 == .character("+") || $0 == .character("=") ? .budgetUp : .budgetDown }),
        KeyBinding([.character("c")], "c", "oracle context: causal / fixed (all-big)", .toggleContext),
        KeyBinding([.character("d")], "d", "difficulty by raw loss / potential loss reduction", .toggleMetric),
        KeyBinding([.character("t")], "t", "transpose the heatmap (tokens as rows)", .transpose),
        KeyBinding(characters("/n"), "/  n", "find a token / find next", action: { $0 == .character("/") ? .find : .findNext }),
        KeyBinding(
            characters("pi"), "p  i", "open another text (samples, files) / type or paste one",
            action: { $0 == .character("p") ? .openText : .typeText }),
        KeyBinding(
            [.character(":")], ":", "command: k, trials, open, router, policy, compare (:help)", hint: (": command", .statusLineIfRoom),
            .command),
        KeyBinding(
            [.character("g"), .escape], "g", "generate a continuation under the primary policy",
            action: { $0 == .escape ? .cancelGeneration : .generate }),
        KeyBinding([.character("e")], "e", "export a snapshot (txt, ansi, svg, json)", hint: ("e export", .statusLine), .export),
        KeyBinding([.character("?")], "?", "this help (any key closes)", hint: ("? help", .statusLine), .help),
        KeyBinding([.character("q"), .interrupt], "q  Ctrl-C", "quit", hint: ("q quit", .statusLine), .quit),
    ]

    /// What `key` does, if it is bound.
    static func action(for key: KeyPress) -> ExplorerAction? {
        all.first { $0.keys.contains(key) }?.action?(key)
    }

    /// The hints shown at `place`, in table order, two spaces apart; on the status line those
    /// that are only shown where there is room when all of them fit in `room` columns.
    static func hints(_ place: HintPlace, room: Int = .max) -> String {
        let hints = all.compactMap { $0.hint }
        func line(_ places: [HintPlace]) -> String {
            hints.filter { places.contains($0.place) }.map(\.text).joined(separator: "  ")
        }
        guard place == .statusLine else { return line([place]) }
        let full = line([.statusLine, .statusLineIfRoom])
        return full.count <= room ? full : line([.statusLine])
    }
}
