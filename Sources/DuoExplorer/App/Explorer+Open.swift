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
        var initial = try state(model.config)
        // A policy this model cannot run (the router without routers) is replaced, with the reason shown once.
        let evaluator = analyzer.evaluator
        if let reason = initial.primary.unavailable(in: evaluator) ?? initial.partner.unavailable(in: evaluator) {
            func replacement(avoiding other: PolicyKind) -> PolicyKind {
                PolicyKind.budgetKinds.first { $0 != other && $0.unavailable(in: evaluator) == nil } ?? .allBig
            }
            if initial.partner.unavailable(in: evaluator) != nil { initial.partner = replacement(avoiding: initial.primary) }
            if initial.primary.unavailable(in: evaluator) != nil { initial.primary = replacement(avoiding: initial.partner) }
            initial.message = "\(reason): comparing \(initial.primary.rawValue) with \(initial.partner.rawValue)"
        }
        return Explorer(
            model: model, analyzer: analyzer, document: document, state: initial, choices: choices, snapshotFolder: snapshotFolder)
    }
}
