import DuoEngine
import Foundation

extension Explorer {
    /// Loads a model (Duo, or plain Llama-family: then the policies choose big or skip) with its
    /// routers and opens the first of `textFiles` (or, with none, the
    /// sample `quotes.txt` next to the model); every given file and sample text is offered by
    /// the picker. `state` builds the user's starting choices once the model's shape is known.
    public static func open(
        modelDirectory: URL, textFiles: [URL] = [], randomTrials: Int = 100, truncate: Bool = false,
        snapshotFolder: URL = URL(fileURLWithPath: "duoscope-snapshots"), cache: ResultCache? = ResultCache.standard(),
        state: (ModelConfig) throws -> ExplorerState = { _ in ExplorerState() }
    ) throws -> Explorer {
        let model = try DuoModel.load(directory: modelDirectory)
        let samples = TextChoice.samples(near: model)
        guard let first = textFiles.first ?? samples.first(where: { $0.lastPathComponent == "quotes.txt" }) ?? samples.first else {
            throw DuoError("no text given and no sample texts next to the model", file: modelDirectory.path)
        }
        let ids = try TextSource(file: first).tokenize(for: model, truncate: truncate)
        let document = ExplorerDocument(ids: ids, label: first.lastPathComponent, model: model, revision: 0)
        let analyzer = Analyzer(
            model: model, routers: try Analyzer.loadRouters(for: model), randomTrials: randomTrials,
            cache: cache)
        let choices = (textFiles + samples.filter { !textFiles.contains($0) }).map(TextChoice.file) + [.typed]
        let explorer = Explorer(
            model: model, analyzer: analyzer, document: document, state: try state(model.config), choices: choices,
            snapshotFolder: snapshotFolder)
        if let router = explorer.state.router {
            do {
                try explorer.chooseRouter(router)
            } catch {
                explorer.state.router = nil
                explorer.state.message = "ignored the remembered router: " + TerminalSafe.describe(error)
            }
        }
        explorer.replaceUnavailablePolicies()
        return explorer
    }

    /// A primary or partner this model cannot run (the router without routers) is replaced, with
    /// the reason shown once.
    func replaceUnavailablePolicies() {
        let evaluator = analyzer.evaluator
        guard let reason = state.primary.unavailable(in: evaluator) ?? state.partner.unavailable(in: evaluator) else { return }
        func replacement(avoiding other: PolicyKind) -> PolicyKind {
            PolicyKind.budgetKinds.first { $0 != other && $0.unavailable(in: evaluator) == nil } ?? .allBig
        }
        if state.partner.unavailable(in: evaluator) != nil { state.partner = replacement(avoiding: state.primary) }
        if state.primary.unavailable(in: evaluator) != nil { state.primary = replacement(avoiding: state.partner) }
        let note = "\(reason): comparing \(state.primary.rawValue) with \(state.partner.rawValue)"
        state.message = state.message.map { "\($0); \(note)" } ?? note
    }
}
