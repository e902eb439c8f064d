import DuoEngine

/// Everything one snapshot export needs: the view shown, the user's choices, the results, and
/// the view drawn twice (with color for ANSI and SVG, without color for plain text).
public struct SnapshotContent: Sendable {
    public var view: ViewKind
    public var state: ExplorerState
    public var analysis: AnalysisSnapshot
    /// The view rendered with color.
    public var colorGrid: CellGrid
    /// The same view rendered without color, routes as glyphs.
    public var plainGrid: CellGrid

    public init(view: ViewKind, state: ExplorerState, analysis: AnalysisSnapshot, colorGrid: CellGrid, plainGrid: CellGrid) {
        self.view = view
        self.state = state
        self.analysis = analysis
        self.colorGrid = colorGrid
        self.plainGrid = plainGrid
    }

    /// The view's policies first (primary, then partner, at `state.k`), then every other policy
    /// with a run in `analysis.runs`, sorted by description. No key appears twice.
    public func policies() -> [PolicyKey] {
        let viewKeys = state.primaryKey == state.partnerKey ? [state.primaryKey] : [state.primaryKey, state.partnerKey]
        let others = analysis.runs.keys.filter { !viewKeys.contains($0) }.sorted { $0.description < $1.description }
        return viewKeys + others
    }

    /// The primary policy's run, if computed.
    var primaryRun: PolicyRun? { analysis.run(state.primaryKey) }
    /// The partner policy's run, if computed.
    var partnerRun: PolicyRun? { analysis.run(state.partnerKey) }

    /// Per token: loss all-small minus loss oracle@k (the paper's difficulty), nil where either
    /// run has no loss for the token (including the last token, which has no target).
    func difficulty() -> [Double?] {
        let context = ViewContext(state: state, analysis: analysis, theme: Theme(color: false))
        return (0..<analysis.document.count).map(context.potential)
    }
}
