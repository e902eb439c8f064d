import DuoEngine
import Foundation

extension Explorer {
    /// Loads a Duo model with its routers and opens the first of `textFiles` (or, with none, the
    /// sample `quotes.txt` next to the model); every given file and sample text is offered by
    /// the picker. `state` builds the user's starting choices once the model's shape is known.
    public static func open(
        modelDirectory: URL, textFiles: [URL] = [], randomTrials: Int = 100, truncate: Bool = false,
        snapshotFolder: URL = URL(fileURLWithPath: "duoscope-snapshots"), cache: ResultCache? = ResultCache.standard(),
        state: (ModelConfig) throws -> ExplorerState = { _ in ExplorerState() }
    ) throws -> Explorer {
        let model = try DuoModel.load(directory: modelDirectory)
        guard model.config.isDuo else { throw DuoError("the explorer needs a Duo model with a small FFN", file: modelDirectory.path) }
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
        if analyzer.routers.isEmpty && (initial.partner == .router || initial.primary == .router) {
            // Without routers the router policy has nothing to show: compare against the best fixed pattern.
            if initial.partner == .router { initial.partner = initial.primary == .fixed ? .oracle : .fixed }
            if initial.primary == .router { initial.primary = initial.partner == .oracle ? .fixed : .oracle }
            initial.message =
                "no routers in the model's routers/ folder: comparing \(initial.primary.rawValue) with \(initial.partner.rawValue)"
        }
        return Explorer(
            model: model, analyzer: analyzer, document: document, state: initial, choices: choices, snapshotFolder: snapshotFolder)
    }
}
