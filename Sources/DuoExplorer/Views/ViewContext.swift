import DuoEngine
import Foundation

/// A rectangle of the grid a view draws into.
public struct Rect: Equatable, Sendable {
    public var x: Int, y: Int, width: Int, height: Int
    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }
}

/// Everything a view reads: the user's choices, the results so far and the theme.
public struct ViewContext: Sendable {
    public var state: ExplorerState
    public var analysis: AnalysisSnapshot
    public var theme: Theme

    public init(state: ExplorerState, analysis: AnalysisSnapshot, theme: Theme) {
        self.state = state
        self.analysis = analysis
        self.theme = theme
    }

    public var document: ExplorerDocument { analysis.document }
    public var layers: Int { analysis.layers }
    public var primary: PolicyRun? { analysis.runs[state.primaryKey] }
    public var partner: PolicyRun? { analysis.runs[state.partnerKey] }
    public func run(_ kind: PolicyKind) -> PolicyRun? { analysis.runs[state.key(kind)] }

    /// The paper's token difficulty (`TokenDifficulty`) at the current budget.
    public func potential(_ t: Int) -> Double? {
        let runs = TokenDifficulty.policies(k: state.k, context: state.context)
        guard let small = analysis.runs[runs.allSmall]?.loss(t), let oracle = analysis.runs[runs.oracle]?.loss(t) else { return nil }
        return TokenDifficulty.potential(allSmall: small, oracle: oracle)
    }

    /// The difficulty view's metric for token t.
    public func metric(_ t: Int) -> Double? {
        state.metric == .potential ? potential(t) : primary?.loss(t)
    }

    /// How values map to 0...1 for coloring.
    public enum Scale: Sendable {
        /// 0 to the maximum (losses).
        case fromZero
        /// Minimum to maximum (difficulty: spreads the colors over what the text holds).
        case range
        /// Symmetric around 0 at 0.5 (differences between policies).
        case diverging
    }

    public static func scale(_ values: [Double], _ kind: Scale) -> (Double) -> Double {
        let finite = values.filter(\.isFinite)
        switch kind {
        case .diverging:
            let m = max(finite.map(abs).max() ?? 1, 1e-9)
            return { 0.5 + 0.5 * $0 / m }
        case .fromZero:
            let top = max(finite.max() ?? 1, 1e-9)
            return { $0 / top }
        case .range:
            let lo = finite.min() ?? 0
            let span = max((finite.max() ?? 1) - lo, 1e-9)
            return { ($0 - lo) / span }
        }
    }

    /// "token 4/30 ' fox' → ' jumps'" for the current token.
    public var currentTokenHeading: String {
        let t = state.token
        let doc = document
        let next = t + 1 < doc.count ? Format.quoted(doc.tokenTexts[t + 1]) : "(end of text)"
        return "token \(t + 1)/\(doc.count) \(Format.quoted(doc.tokenTexts[t], limit: 24)) → \(next)"
    }

    /// A predicted token's text, terminal-safe.
    public func tokenText(id: Int) -> String {
        TerminalSafe.escape(analysis.vocabulary?(id) ?? "#\(id)")
    }

    /// "oracle@4" with its perplexity if known.
    public func describe(_ key: PolicyKey) -> String {
        guard let run = analysis.runs[key] else { return key.description }
        return run.isComplete ? "\(key) ppl \(String(format: "%.1f", run.perplexity))" : "\(key) \(run.completed)/\(run.routes.tokens)"
    }
}

/// Formats used across views.
enum Format {
    /// A value that does not exist (e.g. the loss of the last token, which has no next token);
    /// "…" means a value still being computed.
    static let undefined = "—"

    static func number(_ v: Double?, digits: Int = 2) -> String {
        guard let v, v.isFinite else { return "…" }
        return String(format: "%.\(digits)f", v)
    }

    static func signed(_ v: Double?, digits: Int = 2) -> String {
        guard let v, v.isFinite else { return "…" }
        return String(format: "%+.\(digits)f", v)
    }

    static func percent(_ v: Double?) -> String {
        guard let v, v.isFinite else { return "…" }
        return "\(Int((v * 100).rounded()))%"
    }

    /// A token's text in quotes, clipped.
    static func quoted(_ text: String, limit: Int = 16) -> String {
        let clipped = text.count > limit ? String(text.prefix(limit - 1)) + "…" : text
        return "'" + clipped + "'"
    }
}
