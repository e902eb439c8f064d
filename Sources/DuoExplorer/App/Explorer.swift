import DuoEngine
import Foundation

/// The explorer's controller: owns the model, the text, the user's choices and the background
/// work; turns key presses into state changes and asks the worker for the results the current
/// screen needs. Free of terminal I/O: the front end feeds it keys and draws its frames.
public final class Explorer: @unchecked Sendable {  // state is touched by the UI thread only; workers see the store
    public let model: DuoModel
    /// Replaced when `:trials` or `:router` changes what the policies may use.
    public internal(set) var analyzer: Analyzer
    public let store: AnalysisStore
    /// Long searches (oracle, fixed, random best-of-N) and quick passes run in separate lanes.
    public let searchWorker: BackgroundWorker
    public let quickWorker: BackgroundWorker
    public internal(set) var state: ExplorerState
    public internal(set) var document: ExplorerDocument
    public var choices: [TextChoice]
    public var snapshotFolder: URL
    /// The last frame drawn, for mouse hit-testing.
    private var lastFrame: CellGrid?
    private let generation = GenerationBuffer()
    /// The label of the text a continuation is being generated from.
    private var generationBase = ""
    /// The policy the current or last continuation was generated under (kept in the text's label).
    private var generationPolicy = ""
    /// The runs on the text a continuation grew from: policies that route a token from the tokens
    /// up to it keep them and compute only the new positions (`Analyzer.run(earlier:)`).
    private var earlierRuns: (ids: [Int], runs: [PolicyKey: PolicyRun])?

    public init(
        model: DuoModel, analyzer: Analyzer, document: ExplorerDocument, state: ExplorerState = ExplorerState(),
        choices: [TextChoice] = [], snapshotFolder: URL = URL(fileURLWithPath: "duoscope-snapshots")
    ) {
        self.model = model
        self.analyzer = analyzer
        self.document = document
        self.choices = choices
        self.snapshotFolder = snapshotFolder
        var state = state
        state.k = min(max(state.k, 0), model.config.numLayers)
        state.pickerChoices = choices.map(\.label)
        self.state = state
        let tokenizer = model.tokenizer
        store = AnalysisStore(
            document: document, modelName: model.name, layers: model.config.numLayers,
            vocabulary: { id in tokenizer?.tokenText(id) ?? "#\(id)" })
        searchWorker = BackgroundWorker(store: store, lane: "search")
        quickWorker = BackgroundWorker(store: store, lane: "quick")
    }

    /// Starts the background worker and asks for the first results.
    public func start() {
        searchWorker.start()
        quickWorker.start()
        requestWork()
    }

    public func stop() {
        generation.cancel()
        generation.waitUntilFinished()
        searchWorker.stop()
        quickWorker.stop()
    }

    public var layers: Int { model.config.numLayers }

    // MARK: Frames

    public func context(color: Bool) -> ViewContext {
        ViewContext(state: state, analysis: store.snapshot(), theme: Theme(color: color))
    }

    /// Draws the current screen.
    public func frame(width: Int, height: Int, color: Bool) -> CellGrid {
        let grid = ExplorerRenderer.render(context(color: color), width: width, height: height)
        lastFrame = grid
        return grid
    }

    // MARK: Work

    /// The jobs the current screen needs, most urgent first.
    public func wantedJobs() -> [ExplorerJob] {
        guard state.generating == nil else { return [] }
        var jobs = [state.primaryKey, state.partnerKey].map(ExplorerJob.run)
        if state.view == .layers, store.snapshot().runs[state.primaryKey]?.isComplete == true {
            jobs += [.flips(FlipKey(policy: state.primaryKey, token: state.token)), .lens(state.primaryKey)]
        }
        // Policies this model cannot run are asked for only as primary or partner (to say why).
        let runnable = PolicyKind.allCases.filter { $0.unavailable(in: analyzer.evaluator) == nil }
        var keys = ([PolicyKind.allSmall] + runnable).filter(runnable.contains).map(state.key)
        var sweeps: [ExplorerJob] = []
        if state.view == .summary {
            let budgeted = PolicyKind.budgetKinds.filter(runnable.contains)
            // A search that serves every k at once runs once for all of them.
            sweeps = budgeted.filter(\.sharesSearchAcrossK).map { .sweep($0, context: state.context, layers: layers) }
            for k in 0...layers {
                for kind in budgeted where !kind.sharesSearchAcrossK { keys.append(PolicyKey(kind, k: k, context: state.context)) }
            }
        }
        var seen = Set<ExplorerJob>()
        return (jobs + keys.map(ExplorerJob.run) + sweeps).filter { seen.insert($0).inserted }
    }

    /// The body that computes a job for the current document.
    public func request(_ job: ExplorerJob) -> BackgroundWorker.Request {
        let doc = document
        let analyzer = analyzer
        let store = store
        let earlier = earlierRuns
        return BackgroundWorker.Request(job: job, revision: doc.revision) { shouldContinue, progress in
            switch job {
            case .run(let key):
                let resume = earlier.flatMap { e in e.runs[key].map { (ids: e.ids, run: $0) } }
                let run = try analyzer.run(key, ids: doc.ids, shouldContinue: shouldContinue, progress: progress, earlier: resume) {
                    partial in store.store(partial, revision: doc.revision)
                }
                store.store(run, revision: doc.revision)
            case .sweep(let kind, let context, _):
                for run in try analyzer.runEveryK(kind, context: context, ids: doc.ids, shouldContinue: shouldContinue, progress: progress)
                {
                    store.store(run, revision: doc.revision)
                }
            case .flips(let key):
                guard let run = store.snapshot().runs[key.policy], run.isComplete else { return }
                let losses = try analyzer.flipLosses(run, ids: doc.ids, token: key.token)
                store.store(flips: losses, for: key, revision: doc.revision)
            case .lens(let key):
                guard let run = store.snapshot().runs[key], run.isComplete else { return }
                store.store(lens: try analyzer.lens(of: run, ids: doc.ids), for: key, revision: doc.revision)
            }
        }
    }

    func requestWork() {
        let jobs = wantedJobs()
        searchWorker.want(jobs.filter(\.isSearch).map(request))
        quickWorker.want(jobs.filter { !$0.isSearch }.map(request))
    }

    /// Computes everything the current screen needs, on this thread (headless snapshots).
    public func computeSynchronously(progress: @escaping (String, Int, Int) -> Void = { _, _, _ in }) {
        var attempts = 0
        while attempts < 3 {
            let pending = wantedJobs().filter { !store.isSettled($0) }
            if pending.isEmpty { return }
            for job in pending {
                let r = request(job)
                do {
                    try r.body({ true }, { progress(job.id, $0, $1) })
                } catch {
                    store.fail(job.id, message: "\(error)", revision: document.revision)
                }
            }
            attempts += 1  // flips and the lens become wanted once the primary run exists
        }
    }

    /// Picks up generated tokens; returns true when the screen changed.
    public func poll() -> Bool {
        guard let update = generation.take() else { return false }
        let label = generationBase + (update.generated > 0 ? " + \(update.generated) generated under \(generationPolicy)" : "")
        let next = ExplorerDocument(ids: update.ids, label: label, model: model, revision: document.revision + 1)
        setDocument(next)
        state.token = next.count - 1
        if update.finished {
            state.generating = nil
            state.message = update.error.map { "error: \($0)" } ?? "generated \(update.generated) tokens under \(generationPolicy)"
            requestWork()
        } else {
            let L = layers
            let rows =
                update.routes + Array(repeating: Array(repeating: Route.small, count: L), count: update.ids.count - update.routes.count)
            store.store(
                PolicyRun(
                    key: state.primaryKey, routes: RouteMatrix(rows: rows), completed: update.routes.count, losses: [],
                    top: [], lens: [], ffnFractions: rows.map { model.cost.ffnFraction(pattern: $0) },
                    note: "live preview while generating under \(state.generating ?? "")"), revision: next.revision)
        }
        return true
    }

    private func setDocument(_ doc: ExplorerDocument) {
        document = doc
        store.reset(document: doc)
        state.token = min(state.token, doc.count - 1)
    }

    // MARK: Keys

    /// Applies a key; returns false when the user quits.
    public func handle(_ key: KeyPress) -> Bool {
        state.message = nil
        if state.input != nil {
            handleInput(key)
            requestWork()
            return true
        }
        if state.showHelp {
            state.showHelp = false
            return true
        }
        if state.showPicker {
            handlePicker(key)
            requestWork()
            return true
        }
        if case .mouse(let x, let y) = key {
            click(x: x, y: y)
        } else if let action = KeyBindings.action(for: key) {
            if action == .quit { return false }
            perform(action)
        }
        requestWork()
        return true
    }

    /// Carries out a bound key's action (the key table is `KeyBindings.all`).
    private func perform(_ action: ExplorerAction) {
        let views = ViewKind.allCases.count
        switch action {
        case .quit: break
        case .cancelGeneration: if state.generating != nil { generation.cancel() }
        case .tokenLeft: moveToken(-1)
        case .tokenRight: moveToken(1)
        case .layerUp: state.layer = max(state.layer - 1, 0)
        case .layerDown: state.layer = min(state.layer + 1, layers - 1)
        case .pageBack: moveToken(-pageSize)
        case .pageForward: moveToken(pageSize)
        case .firstToken: state.token = 0
        case .lastToken: state.token = document.count - 1
        case .nextView: state.view = ViewKind(rawValue: (state.view.rawValue + 1) % views)!
        case .previousView: state.view = ViewKind(rawValue: (state.view.rawValue + views - 1) % views)!
        case .view(let view): state.view = view
        case .primary(let kind): state.primary = kind
        case .partner(let kind): state.partner = kind
        case .swapPolicies: (state.primary, state.partner) = (state.partner, state.primary)
        case .budgetUp: state.k = min(state.k + 1, layers)
        case .budgetDown: state.k = max(state.k - 1, 0)
        case .toggleContext: state.context = state.context.toggled
        case .toggleMetric: state.metric = state.metric == .potential ? .rawLoss : .potential
        case .transpose: state.transposed.toggle()
        case .help:
            state.showHelp = true
            state.helpPage = .keys
        case .find: state.input = InputLine(purpose: .find)
        case .findNext: find(state.lastFind)
        case .typeText: state.input = InputLine(purpose: .text)
        case .command: state.input = InputLine(purpose: .command)
        case .openText:
            state.showPicker = true
            state.pickerIndex = 0
        case .generate: startGeneration()
        case .export: exportSnapshot()
        }
    }

    private var pageSize: Int { max(document.count / 8, 10) }

    private func moveToken(_ delta: Int) {
        state.token = min(max(state.token + delta, 0), document.count - 1)
    }

    private func click(x: Int, y: Int) {
        switch lastFrame?.target(x: x, y: y) {
        case .token(let t): state.token = t
        case .cell(let t, let l):
            state.token = t
            state.layer = l
        case .layer(let l): state.layer = l
        case .view(let v): state.view = v
        case nil: break
        }
    }

    private func handleInput(_ key: KeyPress) {
        guard var input = state.input else { return }
        switch key {
        case .escape, .interrupt:
            state.input = nil
            return
        case .backspace: if !input.buffer.isEmpty { input.buffer.removeLast() }
        case .enter:
            state.input = nil
            switch input.purpose {
            case .find: find(input.buffer)
            case .text: open(text: input.buffer, label: "typed text")
            case .command: run(command: input.buffer)
            }
            return
        case .character(let c): input.buffer.append(c)
        case .tab: input.buffer.append(" ")
        default: break
        }
        state.input = input
    }

    private func handlePicker(_ key: KeyPress) {
        switch key {
        case .up, .character("k"): state.pickerIndex = max(state.pickerIndex - 1, 0)
        case .down, .character("j"): state.pickerIndex = min(state.pickerIndex + 1, choices.count - 1)
        case .enter:
            state.showPicker = false
            guard choices.indices.contains(state.pickerIndex) else { return }
            switch choices[state.pickerIndex] {
            case .typed: state.input = InputLine(purpose: .text)
            case .file(let url): open(file: url)
            }
        case .escape, .interrupt, .character("q"), .character("p"): state.showPicker = false
        default: break
        }
    }

    /// Moves to the next token (after the cursor, wrapping) where `query` starts, matching
    /// across token boundaries and ignoring case.
    func find(_ query: String) {
        guard !query.isEmpty else { return }
        state.lastFind = query
        let n = document.count
        for step in 1...n {
            let t = (state.token + step) % n
            if matchStarts(in: t, query) {
                state.token = t
                state.message = "found \(TerminalSafe.escape(query)) at token \(t + 1)"
                return
            }
        }
        state.message = "not found: \(TerminalSafe.escape(query))"
    }

    /// Whether an occurrence of `query` begins inside token `t`'s text.
    private func matchStarts(in t: Int, _ query: String) -> Bool {
        let texts = document.rawTokenTexts
        let first = texts[t]
        var window = first
        var next = t + 1
        while window.count < first.count + query.count, next < texts.count {
            window += texts[next]
            next += 1
        }
        guard let match = window.range(of: query, options: .caseInsensitive) else { return false }
        return window.distance(from: window.startIndex, to: match.lowerBound) < first.count
    }

    /// Replaces the text (a text longer than the context keeps its first tokens); errors
    /// (empty, invalid) go to the status line.
    public func open(text: String, label: String) {
        do {
            let doc = try ExplorerDocument(text: text, label: label, model: model, revision: document.revision + 1, truncate: true)
            earlierRuns = nil
            setDocument(doc)
            state.token = 0
            let total = try model.tokenizer?.encode(text).count ?? doc.count
            state.message =
                "opened \(TerminalSafe.escape(label)): \(doc.count) tokens"
                + (total > doc.count ? " (the first \(doc.count) of \(total))" : "")
        } catch {
            state.message = "error: " + TerminalSafe.describe(error)
        }
    }

    /// Opens a text file (the picker's files and `:open`); errors (missing, not a regular file,
    /// not UTF-8) go to the status line.
    public func open(file url: URL) {
        do {
            open(text: try TextSource(file: url).text, label: url.lastPathComponent)
        } catch {
            state.message = "error: " + TerminalSafe.describe(error)
        }
    }

    // MARK: Generation

    private func startGeneration() {
        guard state.generating == nil else { return }
        let room = model.config.maxPositions - document.count
        guard room > 0 else {
            state.message = "error: the text already fills the context of \(model.config.maxPositions) tokens"
            return
        }
        let routes = store.snapshot().runs[state.primaryKey].flatMap { $0.isComplete ? $0.routes : nil }
        let (policy, rule) = analyzer.generationPolicy(for: state.primaryKey, routes: routes)
        let label = state.generation.temperature == 0 ? rule : "\(rule), \(state.generation.sampling)"
        state.generating = label
        generationPolicy = label
        earlierRuns = (document.ids, store.snapshot().runs)
        generationBase = document.label
        let start = document.ids
        let buffer = generation
        let analyzer = analyzer
        buffer.begin(ids: start)
        var generationSettings = state.generation
        generationSettings.length = min(generationSettings.length, room)
        let settings = generationSettings
        let thread = Thread {
            do {
                try analyzer.generate(ids: start, settings: settings, policy: policy) { id, routes, _ in
                    buffer.append(id: id, routes: routes)
                }
                buffer.finish(error: nil)
            } catch {
                buffer.finish(error: "\(error)")
            }
        }
        thread.stackSize = 8 << 20
        thread.start()
        searchWorker.want([])
        quickWorker.want([])
    }

    // MARK: Snapshots

    /// The current view as snapshot content (rendered in color and without).
    public func snapshotContent(width: Int, height: Int) -> SnapshotContent {
        let analysis = store.snapshot()
        let color = ExplorerRenderer.render(
            ViewContext(state: state, analysis: analysis, theme: Theme(color: true)), width: width, height: height)
        let plain = ExplorerRenderer.render(
            ViewContext(state: state, analysis: analysis, theme: Theme(color: false)), width: width, height: height)
        return SnapshotContent(view: state.view, state: state, analysis: analysis, colorGrid: color, plainGrid: plain)
    }

    private func exportSnapshot() {
        let size = (lastFrame?.width ?? 120, lastFrame?.height ?? 40)
        do {
            let urls = try SnapshotWriter.write(snapshotContent(width: size.0, height: size.1), to: snapshotFolder)
            let stem = urls.first?.deletingPathExtension().path ?? ""
            let pending = wantedJobs().filter { !store.isSettled($0) }.count
            state.message =
                "snapshot: \(TerminalSafe.escape(stem)).{\(urls.map(\.pathExtension).joined(separator: ","))}"
                + (pending > 0 ? " (partial: \(pending) results still computing)" : "")
        } catch {
            state.message = "error: \(error)"
        }
    }
}
