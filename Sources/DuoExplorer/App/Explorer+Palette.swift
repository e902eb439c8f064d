import DuoEngine
import Foundation

/// The command palette (`:`): what has no key. Commands are parsed by `PaletteCommand.parse`;
/// what they did, or the one-line error, goes to the status line.
extension Explorer {
    /// Runs one command line (a blank line does nothing).
    public func run(command line: String) {
        guard !line.allSatisfy(\.isWhitespace) else { return }
        do {
            switch try PaletteCommand.parse(line, layers: layers) {
            case .budget(let k):
                state.k = k
                state.message = "k = \(k)"
            case .trials(let n):
                setTrials(n)
                state.message = "random: best of \(n) trials"
            case .generationLength(let n):
                state.generation.length = n
                state.message = "g generates up to \(n) tokens, \(state.generation.sampling)"
            case .temperature(let t, let seed):
                state.generation.temperature = t
                if let seed { state.generation.seed = seed }
                state.message = "g generates up to \(state.generation.length) tokens, \(state.generation.sampling)"
            case .open(let path):
                let url = PaletteCommand.fileURL(path)
                let revision = document.revision
                open(file: url)
                if document.revision != revision { offer(url) }
            case .router(let name): try chooseRouter(name)
            case .policy(let setting):
                state.primary = setting.kind
                apply(setting)
                state.message = "primary: \(state.primaryKey)" + trialsNote(setting)
            case .compare(let setting):
                state.partner = setting.kind
                apply(setting)
                state.message = "partner: \(state.partnerKey)" + trialsNote(setting)
            case .colors(let depth):
                state.colors = depth
                state.message =
                    "colors: \(depth?.rawValue ?? "auto")"
                    + (depth == ColorDepth.none ? " (glyphs)" : " (within what this terminal shows; color after none needs a restart)")
            case .help:
                state.showHelp = true
                state.helpPage = .commands
            }
        } catch {
            state.message = "error: " + TerminalSafe.describe(error)
        }
    }

    /// The budget and context a policy text gave (shared by primary and partner) and its trials.
    private func apply(_ setting: PolicySetting) {
        if let k = setting.k { state.k = k }
        if let context = setting.context { state.context = context }
        if let trials = setting.trials { setTrials(trials) }
    }

    private func trialsNote(_ setting: PolicySetting) -> String {
        setting.trials.map { " (random: best of \($0) trials)" } ?? ""
    }

    /// Random best-of-N from now on runs `n` trials: the analyzer is rebuilt with them and the
    /// random runs are computed again (the result cache keys them by their trials).
    private func setTrials(_ n: Int) {
        guard n != analyzer.randomTrials else { return }
        replaceAnalyzer(analyzer.with(randomTrials: n)) { !$0.kind.usesTrials }
    }

    /// The router policy uses the router `name` (a name in the model's routers/ folder, else a
    /// file) at every k; nil: every router in that folder, the one trained nearest the budget.
    func chooseRouter(_ name: String?) throws {
        let routers: [(name: String, weights: RouterWeights)]
        if let name {
            let router = try loadRouter(name)
            guard router.weights.routes.contains(.small), router.weights.routes.contains(.big) else {
                throw DuoError(
                    "router \(router.name) chooses \(router.weights.routes.map(\.name).joined(separator: ", ")); "
                        + "the router policy needs one over small and big (it may also skip)")
            }
            routers = [router]
            state.router = name.contains("/") ? PaletteCommand.fileURL(name).path : name
            state.message = "router policy: router \(router.name) at every k"
        } else {
            routers = try Analyzer.loadRouters(for: model)
            state.router = nil
            let usable = routers.filter { $0.weights.routes.contains(.small) && $0.weights.routes.contains(.big) }.count
            state.message =
                usable == 0
                ? "no router over small and big in the model's routers/ folder"
                : "router policy: the router trained nearest the budget (of \(usable) in routers/)"
        }
        replaceAnalyzer(analyzer.with(routers: routers)) { $0.kind != .router }
    }

    /// A router by name in the model's routers/ folder, else by path; its name made safe to show.
    private func loadRouter(_ name: String) throws -> (name: String, weights: RouterWeights) {
        let folder = model.directory.map(ModelDirectory.init)
        if !name.contains("/"), let file = folder?.router(named: name), FileManager.default.fileExists(atPath: file.path) {
            return (TerminalSafe.escape(name), try RouterWeights.read(from: file, config: model.config))
        }
        let url = PaletteCommand.fileURL(name)
        guard FileManager.default.fileExists(atPath: url.path) else {
            let names = folder?.routerFiles.map { $0.deletingPathExtension().lastPathComponent } ?? []
            throw DuoError(
                "no router file \(TerminalSafe.escape(name)) and no router of that name in the model's routers/ folder"
                    + (names.isEmpty ? " (it has none)" : " (it has \(names.joined(separator: ", ")))"))
        }
        return (TerminalSafe.escape(url.deletingPathExtension().lastPathComponent), try RouterWeights.read(from: url, config: model.config))
    }

    /// Swaps in `next` and recomputes the runs of the policies `keep` refuses: the document moves
    /// to a new revision (same text), so results still being computed with the old analyzer are
    /// dropped; the complete runs `keep` accepts stay.
    private func replaceAnalyzer(_ next: Analyzer, keeping keep: (PolicyKey) -> Bool) {
        analyzer = next
        document = document.revised(document.revision + 1)
        store.reset(document: document, keeping: keep)
    }

    /// Offers a file opened by `:open` in the picker too (before "type a text").
    private func offer(_ url: URL) {
        guard !choices.contains(.file(url)) else { return }
        let at = choices.firstIndex(of: .typed) ?? choices.endIndex
        choices.insert(.file(url), at: at)
        state.pickerChoices = choices.map(\.label)
    }
}
